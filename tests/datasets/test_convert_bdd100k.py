"""BDD100K through the convert command: detection boxes (clipped at the image border) and instance
segmentation polygons, the official split kept, classes outside the road map counted. Values computed by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from convert_helpers import assert_rows, labels_of, run, write_image, write_json


@pytest.fixture(scope="module")
def bdd(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("bdd")
    for split, name in (("train", "a.jpg"), ("val", "b.jpg")):
        write_image(src / "images" / "100k" / split / name)
        write_image(src / "images" / "10k" / split / name)
    def box(cat: str, x1: float, y1: float, x2: float, y2: float) -> dict:
        return {"category": cat, "box2d": {"x1": x1, "y1": y1, "x2": x2, "y2": y2}}

    def poly(cat: str, *parts: list) -> dict:
        return {"category": cat, "poly2d": [{"vertices": p, "types": "L" * len(p), "closed": True} for p in parts]}

    write_json(src / "labels" / "det_20" / "det_train.json", [{"name": "a.jpg", "labels": [
        box("car", 10, 20, 50, 60), box("traffic light", 190, -10, 210, 30), box("other vehicle", 1, 1, 5, 5),
        {"category": "lane", "poly2d": [{"vertices": [[0, 0], [10, 10]], "types": "LL", "closed": False}]}]}])
    write_json(src / "labels" / "det_20" / "det_val.json", [{"name": "b.jpg", "labels": [box("person", 0, 0, 20, 50)]},
                                                             {"name": "missing.jpg", "labels": None}])
    write_json(src / "labels" / "ins_seg" / "polygons" / "ins_seg_train.json", [{"name": "a.jpg", "labels": [
        poly("car", [[10, 20], [50, 20], [30, 60]]), poly("rider", [[0, 0], [4, 0], [4, 4]])]}])
    write_json(src / "labels" / "ins_seg" / "polygons" / "ins_seg_val.json", [{"name": "b.jpg", "labels": [
        poly("bus", [[100, 10], [140, 10], [140, 50], [100, 50]])]}])
    return src


def test_bdd100k_detect(bdd, tmp_path):
    out = tmp_path / "det"
    assert run(["convert", "bdd100k", bdd, "--out", out]) == 0
    # road map: car=0 ... pedestrian=4 ... traffic_light=8; official split kept
    assert (out / "images" / "train" / "a.jpg").is_file() and (out / "images" / "val" / "b.jpg").is_file()
    assert_rows(labels_of(out, "a"), [[0, 30 / 200, 40 / 100, 40 / 200, 40 / 100],
                                      [8, 195 / 200, 15 / 100, 10 / 200, 30 / 100]])  # clipped at x=200, y=0
    assert_rows(labels_of(out, "b"), [[4, 10 / 200, 25 / 100, 20 / 200, 50 / 100]])
    report = json.loads((out / "convert_report.json").read_text())
    assert report["clipped"] == 1 and report["not_in_class_map"] == {"other vehicle": 1}
    assert [s for s in report["skipped"] if "missing.jpg" in s["file"]]


def test_bdd100k_segment_polygons(bdd, tmp_path):
    out = tmp_path / "seg"
    assert run(["convert", "bdd100k", bdd, "--out", out, "--task", "segment"]) == 0
    assert_rows(labels_of(out, "a"), [[0, 0.05, 0.2, 0.25, 0.2, 0.15, 0.6], [5, 0, 0, 0.02, 0, 0.02, 0.04]])
    assert_rows(labels_of(out, "b"), [[2, 0.5, 0.1, 0.7, 0.1, 0.7, 0.5, 0.5, 0.5]])
