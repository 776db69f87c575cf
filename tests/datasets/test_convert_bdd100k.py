"""BDD100K through the convert command: detection boxes (clipped at the image border) and instance
segmentation polygons (Bezier curves followed), the official split kept, classes outside the road map counted.
Values computed by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from convert_helpers import H, W, assert_rows, labels_of, run, write_image, write_json


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


def _row(cls: int, points: list[tuple[float, float]]) -> list[float]:
    """The expected segment row of these pixel points on a fixture image."""
    return [cls, *(v for x, y in points for v in (x / W, y / H))]


def test_bdd100k_segment_follows_bezier_curves(tmp_path):
    src = tmp_path / "src"
    write_image(src / "images" / "10k" / "train" / "c.jpg")
    arch = [[10, 50], [10, 10], [90, 10], [90, 50]]  # from (10, 50) through controls (10, 10), (90, 10) to (90, 50)
    write_json(src / "labels" / "ins_seg" / "polygons" / "ins_seg_train.json", [{"name": "c.jpg", "labels": [
        {"category": "car", "poly2d": [{"vertices": arch, "types": "LCCL", "closed": True}]},
        # the same arch mirrored, its curve last: it ends at the first vertex, which is not repeated
        {"category": "bus", "poly2d": [{"vertices": [[10, 50], [90, 50], [90, 10], [10, 10]], "types": "LLCC",
                                        "closed": True}]},
        {"category": "truck", "poly2d": [{"vertices": arch, "types": "LLCC", "closed": False}]},  # no end vertex
        {"category": "truck", "poly2d": [{"vertices": arch, "types": "LC", "closed": True}]},
        ["not", "a", "label"]]}])
    out = tmp_path / "seg"
    assert run(["convert", "bdd100k", src, "--out", out, "--task", "segment"]) == 0
    # B(k/8) = (1-t)^3 P0 + 3(1-t)^2 t P1 + 3(1-t) t^2 P2 + t^3 P3, by hand: x 13.4375 22.5 35.3125 50 ..., y 36.875 ...
    curve = [(13.4375, 36.875), (22.5, 27.5), (35.3125, 21.875), (50, 20), (64.6875, 21.875), (77.5, 27.5),
             (86.5625, 36.875), (90, 50)]
    mirrored = [(100 - x, y) for x, y in curve]  # from (90, 50) back to (10, 50)
    assert_rows(labels_of(out, "c"), [_row(0, [(10, 50), *curve]), _row(2, [(10, 50), (90, 50), *mirrored[:-1]])])
    report = json.loads((out / "convert_report.json").read_text())
    malformed = [s["reason"] for s in report["skipped"] if "malformed geometry" in s["reason"]]
    assert len(malformed) == 3, report["skipped"]
    assert any("a curve needs 2 control points" in r for r in malformed)
    assert any("do not fit 4 vertices" in r for r in malformed) and any("not an object" in r for r in malformed)
