"""The frames of `distill.unlabeled`: a folder's images are the files Ultralytics loads as images (the dataset tools'
own list), unreadable ones are named by the dataset check's reason, and each image is copied into the pseudo set.
Small files written here; no training."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from pipeline.datasets.images import image_suffixes, is_image
from pipeline.distill.frames import extract_frames, resolve_unlabeled, source_images
from pipeline.errors import UserError


def save(path: Path, fmt: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (32, 24), (90, 120, 30)).save(path, format=fmt)
    return path


def test_a_folders_images_are_the_files_ultralytics_loads_as_images(tmp_path):
    for name in ("a.jpg", "b.PNG", "sub/c.tif", "sub/d.tiff", "e.webp"):
        save(tmp_path / name)
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "clip.mp4").write_bytes(b"")
    (tmp_path / "folder.jpg").mkdir()  # a folder named like an image is no image
    found = [p.relative_to(tmp_path).as_posix() for p in source_images(tmp_path)]
    assert found == ["a.jpg", "b.PNG", "e.webp", "sub/c.tif", "sub/d.tiff"]
    assert found == sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")
                           if p.is_file() and is_image(p))


def test_the_suffixes_are_those_of_the_dataset_tools():
    from pipeline.ultralytics_api import IMG_FORMATS

    assert image_suffixes() == sorted(f".{f}" for f in IMG_FORMATS) and {".jpg", ".tif", ".png"} <= {*image_suffixes()}


def test_a_folder_of_tiff_images_is_a_source_and_its_images_are_copied(tmp_path):
    save(tmp_path / "stills" / "x.TIF")
    save(tmp_path / "stills" / "y.jpg")
    assert resolve_unlabeled(["stills"], tmp_path) == [tmp_path / "stills"]
    frames = extract_frames([tmp_path / "stills"], 1, tmp_path / "out")
    assert [f.name for f in frames] == ["0_stills_000000.tif", "0_stills_000001.jpg"]
    assert all(f.read_bytes() == s.read_bytes() for f, s in zip(frames, source_images(tmp_path / "stills")))


def test_a_folder_without_images_names_the_suffixes_looked_for(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "a.txt").write_text("x")
    with pytest.raises(UserError, match="1 of 1 unlabeled sources cannot be read") as refused:
        resolve_unlabeled([str(tmp_path / "empty")], tmp_path)
    assert refused.value.problems == [f"folder without images ({', '.join(image_suffixes())}): {tmp_path / 'empty'}"]


def test_unreadable_images_are_named_with_the_reason_and_nothing_is_installed(tmp_path, monkeypatch):
    import ultralytics.utils.checks

    from pipeline.ultralytics_api import patches  # noqa: F401 - Ultralytics' Image.open patch, as in a run

    installs = []  # Ultralytics' patched Image.open pip-installs pi-heif on a file Pillow cannot identify
    monkeypatch.setattr(ultralytics.utils.checks, "check_requirements", lambda *args, **kw: installs.append(args))
    save(tmp_path / "pool" / "good.jpg")
    (tmp_path / "pool" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (tmp_path / "pool" / "text.png").write_text("not an image at all")
    with pytest.raises(UserError) as refused:
        resolve_unlabeled(["pool"], tmp_path)
    assert refused.value.problems == [f"unreadable images in {tmp_path / 'pool'}: "
                                      "broken.jpg (not a readable image (Truncated File Read)), "
                                      "text.png (not a readable image (unknown format or corrupt header))"]
    assert installs == []
