"""Pascal VOC through the convert command: boxes by hand from the 1-based pixel coordinates, difficult objects
dropped unless kept, an image found by the annotation's stem when its <filename> names another extension."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from convert_helpers import assert_rows, labels_of, run, write_voc


@pytest.fixture(scope="module")
def voc(tmp_path_factory) -> Path:
    return write_voc(tmp_path_factory.mktemp("voc"))


def test_voc_boxes_and_difficult_flag(voc, tmp_path):
    assert run(["convert", "voc", voc, "--out", tmp_path / "a", "--val-fraction", "0.5"]) == 0
    # road map: car=0, bus=1, train=2, pedestrian=3, bicycle=4, motorcycle=5; VOC is 1-based: subtract 1
    assert_rows(labels_of(tmp_path / "a", "2008_000001"), [
        [0, 35 / 200, 45 / 100, 50 / 200, 50 / 100],  # car 10..60 x 20..70
        [5, 175 / 200, 75 / 100, 50 / 200, 50 / 100],  # motorbike 150..200 x 50..100
    ])
    assert_rows(labels_of(tmp_path / "a", "2008_000002"), [[1, 0.5, 0.5, 1.0, 1.0]])
    report = json.loads((tmp_path / "a" / "convert_report.json").read_text())
    assert report["dropped"] == {"difficult": 1} and report["not_in_class_map"] == {"dog": 1}
    assert run(["convert", "voc", voc, "--out", tmp_path / "b", "--keep-difficult"]) == 0
    assert [3, 110 / 200, 50 / 100, 20 / 200, 80 / 100] in [
        [round(v, 6) for v in r] for r in labels_of(tmp_path / "b", "2008_000001")]


def test_voc_filename_with_another_extension_is_found_by_stem(voc, tmp_path, capsys):
    src = tmp_path / "voc"
    shutil.copytree(voc, src)
    for xml in (src / "Annotations").glob("*.xml"):  # labelling tools write x.png into the XML of x.jpg
        xml.write_text(xml.read_text().replace(".jpg</filename>", ".png</filename>"))
    out = tmp_path / "out"
    assert run(["convert", "voc", src, "--out", out, "--val-fraction", "0.5"]) == 0
    assert "recovered: image found by the annotation's stem (<filename> missing) 2" in capsys.readouterr().out
    report = json.loads((out / "convert_report.json").read_text())
    assert report["recovered"] == {"image found by the annotation's stem (<filename> missing)": 2}
    assert report["counts"]["images"]["total"] == 2 and report["skipped"] == []
    assert sorted(p.name for p in out.glob("images/*/*")) == ["2008_000001.jpg", "2008_000002.jpg"]
    assert_rows(labels_of(out, "2008_000002"), [[1, 0.5, 0.5, 1.0, 1.0]])
