"""Image files as the dataset tools see them: which suffixes are images, the files a split entry holds (a folder or
an image-list .txt), and what inspecting one finds (size after EXIF rotation, hash, unterminated JPEG, why not)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from pipeline.datasets.images import ImageInfo, image_files, inspect_image, is_image


def save(path: Path, size=(64, 48), fmt: str | None = None, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (120, 60, 30)).save(path, format=fmt, **kwargs)
    return path


@pytest.mark.parametrize("name, expected", [("a.jpg", True), ("a.JPEG", True), ("a.png", True), ("a.webp", True),
                                            ("a.txt", False), ("a.mp4", False), ("jpg", False), ("a.jpg.txt", False)])
def test_is_image_follows_ultralytics_suffixes(name, expected):
    assert is_image(Path(name)) is expected


def test_a_folder_entry_lists_its_images_recursively(tmp_path):
    save(tmp_path / "split" / "b.png")
    save(tmp_path / "split" / "sub" / "a.jpg")
    (tmp_path / "split" / "notes.txt").write_text("x")
    assert sorted(p.relative_to(tmp_path) for p in image_files(tmp_path / "split")) == [
        Path("split/b.png"), Path("split/sub/a.jpg")]


def test_an_image_list_entry_resolves_dot_lines_against_its_folder(tmp_path):
    save(tmp_path / "images" / "a.jpg")
    save(tmp_path / "images" / "b.jpg")
    (tmp_path / "train.txt").write_text("./images/a.jpg\n./images/b.jpg\n")
    assert [p.name for p in image_files(tmp_path / "train.txt")] == ["a.jpg", "b.jpg"]
    assert all(p.is_absolute() for p in image_files(tmp_path / "train.txt"))


def test_an_entry_without_images_or_missing_is_empty(tmp_path):
    (tmp_path / "empty").mkdir()
    assert image_files(tmp_path / "empty") == [] and image_files(tmp_path / "absent") == []


def test_inspect_reads_size_hash_and_a_terminated_jpeg(tmp_path):
    first, second = save(tmp_path / "a.jpg", (64, 48)), save(tmp_path / "b.jpg", (64, 48))
    info = inspect_image(first, decode=True)
    assert (info.width, info.height, info.jpeg_unterminated) == (64, 48, False) and len(info.digest) == 32
    assert inspect_image(second, decode=False) == info  # same bytes, same info
    assert inspect_image(save(tmp_path / "c.png", (10, 20)), decode=False) == ImageInfo(
        10, 20, inspect_image(tmp_path / "c.png", decode=True).digest)


def test_the_size_is_the_one_after_exif_rotation(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees
    info = inspect_image(save(tmp_path / "r.jpg", (64, 48), exif=exif), decode=False)
    assert (info.width, info.height) == (48, 64)


def test_a_jpeg_without_its_end_marker_is_flagged(tmp_path):
    data = (save(tmp_path / "a.jpg")).read_bytes()
    assert data.endswith(b"\xff\xd9")
    (tmp_path / "cut.jpg").write_bytes(data[:-2])
    (tmp_path / "padded.jpg").write_bytes(data + b"\0\0")
    assert inspect_image(tmp_path / "cut.jpg", decode=False).jpeg_unterminated is True
    assert inspect_image(tmp_path / "padded.jpg", decode=False).jpeg_unterminated is False


def test_truncated_pixel_data_is_found_only_when_decoding(tmp_path):
    buffer = io.BytesIO()
    Image.effect_noise((128, 128), 60).convert("RGB").save(buffer, "JPEG", quality=95)
    (tmp_path / "t.jpg").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    assert inspect_image(tmp_path / "t.jpg", decode=False).jpeg_unterminated is True
    with pytest.raises(ValueError, match="not a readable image"):
        inspect_image(tmp_path / "t.jpg", decode=True)


@pytest.mark.parametrize("content, reason", [(b"not an image at all", "unknown format or corrupt header"),
                                             (b"", "unknown format or corrupt header")])
def test_a_file_that_is_no_image_says_why(tmp_path, content, reason):
    (tmp_path / "x.jpg").write_bytes(content)
    with pytest.raises(ValueError, match=reason):
        inspect_image(tmp_path / "x.jpg", decode=False)


def test_an_unreadable_path_says_it_cannot_be_read(tmp_path):
    with pytest.raises(ValueError, match=r"cannot read file \(No such file or directory\)"):
        inspect_image(tmp_path / "absent.jpg", decode=False)
    (tmp_path / "folder.jpg").mkdir()
    with pytest.raises(ValueError, match="cannot read file"):
        inspect_image(tmp_path / "folder.jpg", decode=False)
