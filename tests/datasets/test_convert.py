"""What every conversion shares, through the convert command on the KITTI and VOC fixtures: seeded splits, class
maps (all, a file, case-insensitive, one that drops nearly everything), refusals of a wrong layout or a busy --out,
nothing written when no image converts, relative paths. Each format's reader has its own file
(tests/datasets/test_convert_<format>.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import pytest
import yaml
from convert_helpers import assert_rows, labels_of, run, write_image, write_kitti, write_voc


@pytest.fixture(scope="module")
def kitti(tmp_path_factory) -> Path:
    return write_kitti(tmp_path_factory.mktemp("kitti"))


@pytest.fixture(scope="module")
def voc(tmp_path_factory) -> Path:
    return write_voc(tmp_path_factory.mktemp("voc"))


def test_kitti_split_is_seeded(kitti, tmp_path):
    def val_images(out: Path, seed: int) -> set[str]:
        assert run(["convert", "kitti", kitti, "--out", out, "--val-fraction", "0.5", "--seed", seed, "--link"]) == 0
        assert all(p.is_symlink() for p in out.glob("images/*/*.png"))
        return {p.name for p in out.glob("images/val/*")}

    first = val_images(tmp_path / "a", 7)
    assert first == val_images(tmp_path / "b", 7) and len(first) == 2
    assert any(val_images(tmp_path / f"s{seed}", seed) != first for seed in range(5))


def test_class_map_all_and_custom_file(kitti, tmp_path, capsys):
    assert run(["convert", "kitti", kitti, "--out", tmp_path / "all", "--classes", "all"]) == 0
    names = yaml.safe_load((tmp_path / "all" / "data.yaml").read_text())["names"]
    assert list(names.values()) == ["Car", "Van", "Truck", "Pedestrian", "Person_sitting", "Cyclist", "Tram", "Misc"]
    assert_rows(labels_of(tmp_path / "all", "000003"), [[6, 60.5 / 200, 50.5 / 100, 100 / 200, 60.5 / 100]])
    custom = tmp_path / "vehicles.yaml"
    custom.write_text("names: [vehicle]\nmap: {Car: vehicle, Van: vehicle}\n")
    assert run(["convert", "kitti", kitti, "--out", tmp_path / "custom", "--classes", custom]) == 0
    assert [r[0] for r in labels_of(tmp_path / "custom", "000000")] == [0, 0]
    capsys.readouterr()
    custom.write_text("names: [vehicle]\nmap: {Car: car}\n")
    assert run(["convert", "kitti", kitti, "--out", tmp_path / "bad", "--classes", custom]) == 2
    assert "'Car' -> 'car' is not in names" in capsys.readouterr().err


def test_refuses_wrong_layout_non_empty_out_and_unsupported_task(kitti, tmp_path, capsys):
    (tmp_path / "broken" / "training" / "image_2").mkdir(parents=True)
    assert run(["convert", "kitti", tmp_path / "broken", "--out", tmp_path / "o1"]) == 2
    assert "missing training/label_2" in capsys.readouterr().err
    busy = tmp_path / "busy"
    (busy / "notes.txt").parent.mkdir()
    (busy / "notes.txt").write_text("keep me")
    assert run(["convert", "kitti", kitti, "--out", busy]) == 2
    assert "not empty; pass --overwrite" in capsys.readouterr().err
    assert run(["convert", "kitti", kitti, "--out", busy, "--overwrite"]) == 2  # not an earlier conversion
    assert (busy / "notes.txt").read_text() == "keep me"
    assert run(["convert", "kitti", kitti, "--out", tmp_path / "o2"]) == 0
    assert run(["convert", "kitti", kitti, "--out", tmp_path / "o2", "--overwrite", "--seed", "1"]) == 0
    assert len(list((tmp_path / "o2").glob("images/*/*.png"))) == 4
    capsys.readouterr()
    assert run(["convert", "kitti", kitti, "--out", tmp_path / "o3", "--task", "segment"]) == 2
    assert "kitti has no annotations for --task segment" in capsys.readouterr().err


def test_missing_json_is_one_clear_error(tmp_path, capsys):
    (tmp_path / "bdd" / "images").mkdir(parents=True)
    assert run(["convert", "bdd100k", tmp_path / "bdd", "--out", tmp_path / "o"]) == 2
    assert "missing labels/det_20/det_{train,val}.json" in capsys.readouterr().err
    (tmp_path / "coco" / "annotations").mkdir(parents=True)
    assert run(["convert", "coco", tmp_path / "coco", "--out", tmp_path / "o"]) == 2
    assert "holds no instances_*.json files" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_a_conversion_that_writes_no_image_is_an_error(voc, tmp_path, capsys):
    src = tmp_path / "voc"
    shutil.copytree(voc, src)
    for image in (src / "JPEGImages").iterdir():
        image.unlink()
    assert run(["convert", "voc", src, "--out", tmp_path / "o1"]) == 2
    err = capsys.readouterr().err
    assert f"no image of {src} could be converted (voc, 2 skipped); nothing written" in err
    assert "2008_000001.jpg: image skipped: <filename> not in JPEGImages/ and no image named 2008_000001.*" in err
    (src / "JPEGImages" / "2008_000001.jpg").write_bytes(b"not a jpeg")  # found, but unreadable
    assert run(["convert", "voc", src, "--out", tmp_path / "o2"]) == 2
    assert "image skipped: not a readable image" in capsys.readouterr().err
    gtsrb = tmp_path / "gtsrb"
    gtsrb.mkdir()
    csv = "Path,Roi.X1,Roi.Y1,Roi.X2,Roi.Y2,ClassId\nTrain/14/14_00000_00000.png,1,1,9,9,14\n"  # a missing image
    (gtsrb / "Train.csv").write_text(csv)
    assert run(["convert", "gtsrb", gtsrb, "--out", tmp_path / "o3"]) == 2
    err = capsys.readouterr().err
    assert f"no image of {gtsrb} could be converted (gtsrb, 1 skipped)" in err
    assert "14_00000_00000.png: listed in the CSV but missing" in err
    assert not any((tmp_path / name).exists() for name in ("o1", "o2", "o3"))


def test_convert_check_preview_with_relative_paths(kitti, tmp_path, monkeypatch, capsys):
    shutil.copytree(kitti, tmp_path / "downloads" / "kitti")
    monkeypatch.chdir(tmp_path)
    assert run(["convert", "kitti", "downloads/kitti", "--out", "data/kitti-yolo"]) == 0
    assert (tmp_path / "data" / "kitti-yolo" / "data.yaml").is_file()
    assert len(list((tmp_path / "data" / "kitti-yolo").glob("images/*/*.png"))) == 4
    capsys.readouterr()
    assert run(["check", "data/kitti-yolo/data.yaml", "--json", "report.json"]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["ok"] and sum(s["images"] for s in report["splits"].values()) == 4
    assert run(["preview", "data/kitti-yolo/data.yaml", "--augment", "rain", "--out", "grid.jpg", "--n", "2",
                "--imgsz", "64"]) == 0
    grid = cv2.imread(str(tmp_path / "grid.jpg"))
    assert grid is not None and grid.shape[0] >= 64 and grid.std() > 0


@pytest.fixture
def kitti_classes_voc(tmp_path) -> Path:
    """A VOC export of KITTI frames: class names `Car`, `Pedestrian`, `Cyclist` (1 car, 5 pedestrians, 5 cyclists)."""
    src = tmp_path / "voc-kitti"
    (src / "Annotations").mkdir(parents=True)
    for i, names in enumerate([["Car", "Pedestrian", "Cyclist"], ["Pedestrian"] * 2 + ["Cyclist"] * 2,
                               ["Pedestrian"] * 2 + ["Cyclist"] * 2]):
        write_image(src / "JPEGImages" / f"{i:06d}.jpg")
        objects = "".join(f"<object><name>{n}</name><bndbox><xmin>{11 + 20 * k}</xmin><ymin>11</ymin>"
                          f"<xmax>{31 + 20 * k}</xmax><ymax>51</ymax></bndbox></object>" for k, n in enumerate(names))
        (src / "Annotations" / f"{i:06d}.xml").write_text(
            f"<annotation><filename>{i:06d}.jpg</filename>{objects}</annotation>")
    return src


def test_a_class_map_that_drops_nearly_everything_stops_naming_each_label(kitti_classes_voc, tmp_path, capsys):
    """VOC's road map keeps `Car` (case-insensitively) but has no Pedestrian or Cyclist: 10 of 11 boxes dropped."""
    out = tmp_path / "out"
    assert run(["convert", "voc", kitti_classes_voc, "--out", out]) == 2
    err = capsys.readouterr().err
    assert "drops 10 of 11 annotations, more than 90%" in err and "nothing written" in err, err
    for needle in ("not in the class map: Cyclist (5)", "not in the class map: Pedestrian (5)", "--classes all",
                   "--classes YOUR_MAP.yaml", "--allow-unmapped"):
        assert needle in err, (needle, err)
    assert "Traceback" not in err and not out.exists()

    assert run(["convert", "voc", kitti_classes_voc, "--out", out, "--allow-unmapped", "--val-fraction", "0.5"]) == 0
    assert_rows(labels_of(out, "000000"), [[0, 20 / 200, 30 / 100, 20 / 200, 40 / 100]])  # `Car` is VOC's car (1-based)
    assert labels_of(out, "000001") == [] and labels_of(out, "000002") == []
    report = json.loads((out / "convert_report.json").read_text())
    assert report["not_in_class_map"] == {"Cyclist": 5, "Pedestrian": 5}

    assert run(["convert", "voc", kitti_classes_voc, "--out", tmp_path / "all", "--classes", "all"]) == 0
    names = list(yaml.safe_load((tmp_path / "all" / "data.yaml").read_text())["names"].values())
    assert names[-3:] == ["Car", "Cyclist", "Pedestrian"]
    rows = [r for stem in ("000000", "000001", "000002") for r in labels_of(tmp_path / "all", stem)]
    assert len(rows) == 11


def test_class_map_matches_case_insensitively(kitti_classes_voc, tmp_path):
    custom = tmp_path / "road.yaml"
    custom.write_text("names: [car, pedestrian, cyclist]\nmap: {car: car, PEDESTRIAN: pedestrian, cyclist: cyclist}\n")
    assert run(["convert", "voc", kitti_classes_voc, "--out", tmp_path / "out", "--classes", custom]) == 0
    assert sorted(r[0] for r in labels_of(tmp_path / "out", "000000")) == [0, 1, 2]
    custom.write_text("names: [car, truck]\nmap: {car: car, CAR: truck}\n")
    assert run(["convert", "voc", kitti_classes_voc, "--out", tmp_path / "bad", "--classes", custom]) == 2
