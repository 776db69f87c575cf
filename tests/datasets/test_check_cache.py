"""The run's dataset check is remembered while the files are unchanged, and only when clean."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import shared_path

from pipeline.datasets import check_cache
from pipeline.datasets.resolve import resolve_dataset


def _dataset_copy(synth_data: Path, dest: Path) -> Path:
    """A writable copy of the synthetic set's folder with a YAML pointing at it."""
    root = resolve_dataset(synth_data).root
    shutil.copytree(root, dest / "data")
    yaml_path = dest / "data.yaml"
    names = resolve_dataset(synth_data).names
    yaml_path.write_text(f"path: {dest / 'data'}\ntrain: images/train\nval: images/val\nnames: {names}\n")
    return yaml_path


def test_clean_check_is_remembered_and_a_changed_label_is_checked_again(synth_data, tmp_path, monkeypatch):
    monkeypatch.setenv("ROADTUNE_CACHE", str(tmp_path / "cache"))
    data = _dataset_copy(synth_data, tmp_path)
    assert check_cache.checked(data, "detect")[0] == []
    entries = list(check_cache.cache_dir().glob("*.json"))
    assert len(entries) == 1

    calls = []
    monkeypatch.setattr(check_cache, "check_dataset", lambda *a: calls.append(a))  # a second scan would fail here
    assert check_cache.checked(data, "detect")[0] == []
    assert calls == []  # answered from the cache

    monkeypatch.undo()
    monkeypatch.setenv("ROADTUNE_CACHE", str(tmp_path / "cache"))
    label = sorted((tmp_path / "data" / "labels" / "train").glob("*.txt"))[0]
    label.write_text("7 0.5 0.5 0.2 0.2\n")  # a class id out of range: the check must see it
    errors, _ = check_cache.checked(data, "detect")
    assert any(label.stem in e and "class" in e for e in errors), errors
    assert len(list(check_cache.cache_dir().glob("*.json"))) == 1  # a failing check is not remembered


def test_missing_split_folder_is_not_cached(synth_data, tmp_path, monkeypatch):
    monkeypatch.setenv("ROADTUNE_CACHE", str(tmp_path / "cache"))
    data = _dataset_copy(synth_data, tmp_path)
    shutil.rmtree(tmp_path / "data" / "images" / "val")
    assert check_cache.fingerprint(data, "detect") is None
    errors, _ = check_cache.checked(data, "detect")
    assert any("val" in e for e in errors)
    assert not check_cache.cache_dir().exists()


def test_classify_folder_fingerprint_ignores_ultralytics_cache_files(tmp_path, monkeypatch):
    monkeypatch.setenv("ROADTUNE_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "gtsrb_mini"
    shutil.copytree(shared_path("data/gtsrb_mini"), root)
    assert check_cache.checked(root, "classify")[0] == []
    before = check_cache.fingerprint(root, "classify")
    (root / "train.cache").write_bytes(b"written by Ultralytics' ClassificationDataset")
    assert check_cache.fingerprint(root, "classify") == before
    image = sorted((root / "val").rglob("*.png"))[0]
    image.write_bytes(image.read_bytes() + b"\0")  # one image changed: checked again
    assert check_cache.fingerprint(root, "classify") != before
