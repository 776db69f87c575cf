"""KITTI through the convert command: boxes by hand from the pixel coordinates (Van and Tram are cars, a box over
the border clipped), DontCare and Misc dropped and counted, every skipped line or image with its reason, images
copied unchanged, and the result passes the dataset check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from convert_helpers import assert_rows, labels_of, run, write_kitti


@pytest.fixture(scope="module")
def kitti(tmp_path_factory) -> Path:
    return write_kitti(tmp_path_factory.mktemp("kitti"))


@pytest.fixture(scope="module")
def kitti_out(kitti, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("kitti_yolo") / "yolo"
    assert run(["convert", "kitti", kitti, "--out", out, "--val-fraction", "0.25", "--seed", "3"]) == 0
    return out


def test_kitti_boxes_match_hand_computed(kitti_out):
    # car=0, pedestrian=1, cyclist=2 (classmaps/kitti.yaml); Van and Tram are cars
    assert_rows(labels_of(kitti_out, "000000"), [
        [0, 40 / 200, 50 / 100, 40 / 200, 40 / 100],  # Car 20,30,60,70
        [0, 125 / 200, 25 / 100, 50 / 200, 30 / 100],  # Van 100,10,150,40
        [1, 190 / 200, 70 / 100, 20 / 200, 40 / 100],  # Pedestrian 180..230 clipped to 180..200
    ])
    assert_rows(labels_of(kitti_out, "000001"), [[2, 0.25, 0.5, 0.5, 1.0]])
    assert_rows(labels_of(kitti_out, "000003"), [[0, 60.5 / 200, 50.5 / 100, 100 / 200, 60.5 / 100]])
    assert labels_of(kitti_out, "000004") == []  # only DontCare: a background image


def test_kitti_report_counts_and_skips(kitti_out):
    report = json.loads((kitti_out / "convert_report.json").read_text())
    assert report["names"] == ["car", "pedestrian", "cyclist"]
    assert report["clipped"] == 1
    assert report["dropped"] == {"DontCare": 2} and report["not_in_class_map"] == {"Misc": 1}
    reasons = {(Path(s["file"]).name, s["reason"].split(" (")[0]) for s in report["skipped"]}
    assert ("000000.txt", "Cyclist: outside the 200x100 image") in reasons
    assert ("000000.txt", "Car: degenerate box") in reasons
    assert ("000003.txt:1", "line skipped: expected 15 values") in reasons
    assert ("000002.png", "image skipped: not a readable image") in reasons
    assert ("000009.txt", "label skipped: no image with this name in image_2") in reasons
    counts = report["counts"]
    assert counts["images"]["total"] == 4 and counts["car"]["total"] == 3
    assert counts["images"]["val"] == 1  # round(4 * 0.25), split by image
    assert not list(kitti_out.glob("images/*/000002.png"))
    data = yaml.safe_load((kitti_out / "data.yaml").read_text())
    assert data == {"train": "images/train", "val": "images/val", "names": {0: "car", 1: "pedestrian", 2: "cyclist"}}


def test_kitti_images_copied_unchanged_and_check_passes(kitti, kitti_out):
    from pipeline.datasets.check import check_dataset

    for image in kitti_out.glob("images/*/*.png"):
        assert not image.is_symlink()
        assert image.read_bytes() == (kitti / "training" / "image_2" / image.name).read_bytes()
    report = check_dataset(kitti_out / "data.yaml", "detect")
    assert report.ok, report.render()
    assert sum(s.images for s in report.splits.values()) == 4
