"""roadtune's one cache folder: $ROADTUNE_CACHE, else ~/.cache/roadtune; every cache lives below it."""

from __future__ import annotations

from pathlib import Path

from pipeline import cache
from pipeline.datasets import check_cache
from pipeline.datasets.synth import SynthSpec, ensure_synth
from pipeline.distill.teacher_labels import cache_file


def test_the_cache_root_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("ROADTUNE_CACHE", str(tmp_path / "c"))
    assert cache.cache_root() == tmp_path / "c"
    monkeypatch.delenv("ROADTUNE_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache.cache_root() == tmp_path / "home" / ".cache" / "roadtune"


def test_every_cache_is_below_the_root(tmp_path, monkeypatch):
    monkeypatch.setenv("ROADTUNE_CACHE", str(tmp_path / "c"))
    teacher = tmp_path / "teacher.pt"
    teacher.write_bytes(b"weights")
    assert check_cache.cache_dir() == tmp_path / "c" / cache.DATACHECK
    assert cache_file(teacher, [tmp_path], 5, 640, 0.05).parent == tmp_path / "c" / cache.TEACHER_LABELS
    synth = ensure_synth(SynthSpec(train=2, val=1, width=64, height=64))
    assert synth.parent == tmp_path / "c" and synth.name.startswith(cache.SYNTH)
    assert sorted(p.name for p in Path(synth).iterdir()) == ["images", "labels", "spec.json"]
