"""Cityscapes through the convert command: instance polygons kept vertex by vertex (clipped at the border),
their bounds for detect, non-instance classes dropped. Values computed by hand."""

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
