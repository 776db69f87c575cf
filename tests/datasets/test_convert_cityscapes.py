"""Cityscapes through the convert command: instance polygons kept vertex by vertex (clipped at the border),
their bounds for detect, the same objects kept and skipped by both, non-instance classes and deleted objects
dropped, short polygons counted. Values computed by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from convert_helpers import H, W, assert_rows, labels_of, run, write_image, write_json


@pytest.fixture(scope="module")
def cityscapes(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("cityscapes")
    polygons = {"imgHeight": H, "imgWidth": W, "objects": [
        {"label": "road", "polygon": [[0, 50], [200, 50], [200, 100], [0, 100]]},
        {"label": "car", "polygon": [[20, 40], [80, 40], [80, 90], [50, 95], [20, 90]]},
        {"label": "person", "polygon": [[150, 20], [210, 20], [180, 80]]},  # reaches past x=200
        {"label": "cargroup", "polygon": [[0, 0], [10, 0], [10, 10]]},
        {"label": "bicycle", "polygon": [[5, 5], [6, 6]]},
    ]}
    for split, city in (("train", "aachen"), ("val", "lindau")):
        stem = f"{city}_000000_000019"
        write_json(src / "gtFine" / split / city / f"{stem}_gtFine_polygons.json", polygons)
        write_image(src / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png")
    return src


def test_cityscapes_polygons_keep_their_vertices(cityscapes, tmp_path):
    out = tmp_path / "seg"
    assert run(["convert", "cityscapes", cityscapes, "--out", out, "--task", "segment"]) == 0
    car = [0, 0.1, 0.4, 0.4, 0.4, 0.4, 0.9, 0.25, 0.95, 0.1, 0.9]  # names: car=0 ... pedestrian=4
    person = [4, 0.75, 0.2, 1.0, 0.2, 0.9, 0.8]  # (210, 20) clipped to (200, 20)
    for stem in ("aachen_000000_000019_leftImg8bit", "lindau_000000_000019_leftImg8bit"):
        assert_rows(labels_of(out, stem), [car, person])
    assert (out / "images" / "val" / "lindau_000000_000019_leftImg8bit.png").is_file()
    report = json.loads((out / "convert_report.json").read_text())
    assert report["dropped"] == {"non-instance classes": 2} and report["not_in_class_map"] == {"cargroup": 2}
    assert report["clipped"] == 2 and len(report["skipped"]) == 2  # the 2-point bicycle, in each split
    assert "polygon with fewer than 3 points" in report["skipped"][0]["reason"]


def test_cityscapes_detect_uses_polygon_bounds(cityscapes, tmp_path):
    out = tmp_path / "det"
    assert run(["convert", "cityscapes", cityscapes, "--out", out]) == 0
    assert_rows(labels_of(out, "aachen_000000_000019_leftImg8bit"),
                [[0, 50 / 200, 67.5 / 100, 60 / 200, 55 / 100], [4, 175 / 200, 50 / 100, 50 / 200, 60 / 100]])


def _one_image(src: Path, objects: list[dict]) -> Path:
    """A Cityscapes folder of one train image (200x100) with these polygon objects."""
    stem = "aachen_000001_000019"
    write_json(src / "gtFine" / "train" / "aachen" / f"{stem}_gtFine_polygons.json",
               {"imgHeight": H, "imgWidth": W, "objects": objects})
    write_image(src / "leftImg8bit" / "train" / "aachen" / f"{stem}_leftImg8bit.png")
    return src


EVERY_CASE = [
    {"label": "car", "polygon": [[20, 40], [80, 40], [80, 90], [50, 95], [20, 90]]},
    {"label": "bus", "polygon": [[-20, 60], [40, 60], [40, 120], [-20, 120]]},  # over the left and bottom edges
    {"label": "rider", "polygon": [[101.5, 10.25], [150, 10.25], [125.75, 50]]},
    {"label": "car", "deleted": 1, "polygon": [[0, 0], [50, 0], [50, 50]]},
    {"label": "sky", "polygon": [[0, 0], [200, 0], [200, 30]]},
    {"label": "persongroup", "polygon": [[160, 60], [190, 60], [175, 90]]},
    {"label": "bicycle", "polygon": [[5, 5], [6, 6]]},
    {"label": "motorcycle", "polygon": [[5, 5]]},
    {"label": "person", "polygon": []},
    {"label": "train", "polygon": [[1, 2], [3]]},
]


def test_cityscapes_segment_writes_exact_rows_and_counts_every_skip(tmp_path, capsys):
    out = tmp_path / "seg"
    assert run(["convert", "cityscapes", _one_image(tmp_path / "src", EVERY_CASE), "--out", out,
                "--task", "segment"]) == 0
    # road map: car=0, bus=2, rider=5; vertices / (200, 100), the bus clipped at x=0 and y=100
    assert (out / "labels" / "train" / "aachen_000001_000019_leftImg8bit.txt").read_text() == (
        "0 0.100000 0.400000 0.400000 0.400000 0.400000 0.900000 0.250000 0.950000 0.100000 0.900000\n"
        "2 0.000000 0.600000 0.200000 0.600000 0.200000 1.000000 0.000000 1.000000\n"
        "5 0.507500 0.102500 0.750000 0.102500 0.628750 0.500000\n")
    printed = capsys.readouterr().out
    assert "objects skipped: polygon with fewer than 3 points 3" in printed and "skipped: 4" in printed
    report = json.loads((out / "convert_report.json").read_text())
    assert report["skipped_objects"] == {"polygon with fewer than 3 points": 3} and report["clipped"] == 1
    assert report["dropped"] == {"deleted objects": 1, "non-instance classes": 1}
    assert report["not_in_class_map"] == {"persongroup": 1}
    reasons = sorted(s["reason"].split(" (")[0] for s in report["skipped"])
    assert reasons == ["bicycle: polygon with fewer than 3 points", "motorcycle: polygon with fewer than 3 points",
                       "person: polygon with fewer than 3 points", "train: object skipped: malformed polygon"]


def test_cityscapes_detect_and_segment_keep_the_same_objects(tmp_path):
    src = _one_image(tmp_path / "src", EVERY_CASE)
    reports = {}
    for task in ("detect", "segment"):
        assert run(["convert", "cityscapes", src, "--out", tmp_path / task, "--task", task]) == 0
        reports[task] = json.loads((tmp_path / task / "convert_report.json").read_text())
        assert [row[0] for row in labels_of(tmp_path / task, "aachen_000001_000019_leftImg8bit")] == [0, 2, 5]
    for key in ("counts", "dropped", "not_in_class_map", "skipped_objects", "skipped"):
        assert reports["detect"][key] == reports["segment"][key], key
