"""Check of a classification image folder: class folders of train are the classes; unreadable images, empty train
classes and val classes unknown to train are errors; an empty val class, a missing val folder, duplicates and class
imbalance are warnings."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.datasets.check import check_dataset
from pipeline.datasets.check_classify import IMBALANCE_RATIO, check_classify
from pipeline.errors import UserError


def write_image(path: Path, seed: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.random.default_rng(seed).integers(0, 255, (48, 48, 3), dtype=np.uint8))
    return path


def test_classify_folder(tmp_path):
    root = tmp_path / "cls"
    for i in range(11):
        write_image(root / "train" / "stop" / f"{i}.png", seed=i)
    write_image(root / "train" / "yield" / "0.png", seed=100)
    (root / "train" / "empty").mkdir()
    write_image(root / "val" / "stop" / "0.png", seed=0)  # same pixels as train/stop/0.png
    (root / "val" / "yield").mkdir()
    (root / "val" / "yield" / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    write_image(root / "val" / "unknown" / "0.png", seed=5)
    report = check_dataset(root, "classify")
    assert report.names == {0: "empty", 1: "stop", 2: "yield"}
    assert report.splits["train"].instances == {1: 11, 2: 1} and report.splits["val"].images == 1
    errors, warnings = "\n".join(report.errors), "\n".join(report.warnings)
    assert "train: class empty has no readable images" in errors
    assert "val: class folders not in train/: unknown" in errors and "bad.png: not a readable image" in errors
    assert "val: class yield has no readable images" in warnings
    assert "class imbalance, stop has 11 images, yield only 1" in warnings and "2 identical images" in warnings
    with pytest.raises(UserError, match="train/<class>/"):
        check_dataset(tmp_path / "nothing", "classify")


def test_a_balanced_set_with_val_passes_and_counts_images_per_class(tmp_path):
    files = [f"{split}/{cls}/{i}.jpg" for split, n in (("train", 3), ("valid", 1)) for cls in ("stop", "yield")
             for i in range(n)]
    for seed, name in enumerate(files):
        write_image(tmp_path / name, seed)
    (tmp_path / "train" / "stop" / "notes.txt").write_text("not an image, not counted")
    report = check_classify(tmp_path)
    assert report.ok and report.warnings == [] and report.task == "classify"
    assert (report.splits["train"].images, dict(report.splits["train"].instances)) == (6, {0: 3, 1: 3})
    assert set(report.splits) == {"train", "val"} and report.splits["val"].images == 2


def test_no_val_folder_is_a_warning_and_imbalance_counts_from_above_the_ratio(tmp_path):
    for i in range(IMBALANCE_RATIO):
        write_image(tmp_path / "train" / "stop" / f"{i}.jpg", seed=i)
    write_image(tmp_path / "train" / "yield" / "0.jpg", seed=99)
    report = check_classify(tmp_path)
    assert report.ok and report.warnings == [f"{tmp_path}: no val/ folder; training will have nothing to validate on"]


def test_a_train_folder_without_class_folders_is_refused(tmp_path):
    (tmp_path / "train").mkdir()
    with pytest.raises(UserError, match="holds no class folders"):
        check_classify(tmp_path)
