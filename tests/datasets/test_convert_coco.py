"""COCO through the convert command: boxes and polygons of the instances files (captions ignored), crowd
regions dropped, a zero-width box skipped with its reason. Values computed by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from convert_helpers import H, W, assert_rows, labels_of, run, write_image, write_json


@pytest.fixture(scope="module")
def coco(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("coco")
    categories = [{"id": 1, "name": "person"}, {"id": 3, "name": "car"}, {"id": 5, "name": "airplane"},
                  {"id": 10, "name": "traffic light"}]
    for split, image_id in (("train2017", 1), ("val2017", 2)):
        name = f"{image_id:012d}.jpg"
        write_image(src / "images" / split / name)
        annotations = [
            {"id": 1, "image_id": image_id, "category_id": 3, "bbox": [10, 20, 40, 30], "iscrowd": 0,
             "segmentation": [[10, 20, 50, 20, 50, 50, 10, 50]]},
            {"id": 2, "image_id": image_id, "category_id": 1, "bbox": [150, 0, 50, 100], "iscrowd": 0,
             "segmentation": [[150, 0, 200, 50, 150, 100]]},
            {"id": 3, "image_id": image_id, "category_id": 10, "bbox": [5, 5, 0, 10], "iscrowd": 0},
            {"id": 4, "image_id": image_id, "category_id": 5, "bbox": [60, 10, 20, 20], "iscrowd": 0},
            {"id": 5, "image_id": image_id, "category_id": 3, "bbox": [0, 0, 200, 100], "iscrowd": 1},
        ]
        write_json(src / "annotations" / f"instances_{split}.json", {
            "images": [{"id": image_id, "file_name": name, "width": W, "height": H}],
            "annotations": annotations, "categories": categories})
    write_json(src / "annotations" / "captions_train2017.json", {"annotations": []})  # must be ignored
    return src


def test_coco_through_convert_coco_with_road_filter(coco, tmp_path):
    out = tmp_path / "det"
    assert run(["convert", "coco", coco, "--out", out]) == 0
    # road map: car=0, pedestrian=4; airplane dropped; the zero-width traffic light reported
    expected = [[0, 30 / 200, 35 / 100, 40 / 200, 30 / 100], [4, 175 / 200, 0.5, 50 / 200, 1.0]]
    assert_rows(labels_of(out, "000000000001"), expected)
    assert_rows(labels_of(out, "000000000002"), expected)
    assert (out / "images" / "val" / "000000000002.jpg").is_file()
    report = json.loads((out / "convert_report.json").read_text())
    assert report["not_in_class_map"] == {"airplane": 2} and report["dropped"] == {"iscrowd": 2}
    assert sum("traffic light: degenerate box" in s["reason"] for s in report["skipped"]) == 2


def test_coco_segment(coco, tmp_path):
    out = tmp_path / "seg"
    assert run(["convert", "coco", coco, "--out", out, "--task", "segment"]) == 0
    assert_rows(labels_of(out, "000000000001"), [[0, 0.05, 0.2, 0.25, 0.2, 0.25, 0.5, 0.05, 0.5],
                                                 [4, 0.75, 0.0, 1.0, 0.5, 0.75, 1.0]])
