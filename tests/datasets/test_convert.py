"""Converting through the convert command, on hand-written KITTI and VOC fixtures with known pixel boxes: the
readers of both formats, and what every format shares (splits, class maps, refusals, nothing written on failure).
Every expected YOLO value below is computed by hand from the pixel coordinates and the image size. BDD100K,
Cityscapes, COCO and GTSRB have their own test files (tests/datasets/test_convert_<format>.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import pytest
import yaml
from convert_helpers import H, W, assert_rows, labels_of, run, write_image


def kitti_line(label: str, x1: float, y1: float, x2: float, y2: float) -> str:
    return f"{label} 0.00 0 -1.57 {x1} {y1} {x2} {y2} 1.50 1.60 3.90 1.00 1.50 10.00 -1.50"


@pytest.fixture(scope="module")
def kitti(tmp_path_factory) -> Path:
    """KITTI training folder: boxes inside, partly outside, wholly outside, degenerate, DontCare, Misc, a corrupt
    image, a malformed line, and a label without an image."""
    src = tmp_path_factory.mktemp("kitti")
    images, labels = src / "training" / "image_2", src / "training" / "label_2"
    labels.mkdir(parents=True)
    for i in range(5):
        write_image(images / f"00000{i}.png")
    (images / "000002.png").write_bytes(b"not a png at all")
    (labels / "000000.txt").write_text("\n".join([
        kitti_line("Car", 20, 30, 60, 70), kitti_line("Van", 100, 10, 150, 40), kitti_line("DontCare", 0, 0, 30, 30),
        kitti_line("Misc", 10, 10, 20, 20), kitti_line("Pedestrian", 180, 50, 230, 90),
        kitti_line("Cyclist", 250, 10, 300, 40), kitti_line("Car", 50, 50, 50, 80)]) + "\n")
    (labels / "000001.txt").write_text(kitti_line("Cyclist", 0, 0, 100, 100) + "\n")
    (labels / "000002.txt").write_text(kitti_line("Car", 1, 1, 20, 20) + "\n")
    (labels / "000003.txt").write_text("Car 1 2\n" + kitti_line("Tram", 10.5, 20.25, 110.5, 80.75) + "\n")
    (labels / "000004.txt").write_text(kitti_line("DontCare", 0, 0, 10, 10) + "\n")
    (labels / "000009.txt").write_text(kitti_line("Car", 1, 1, 20, 20) + "\n")
    return src


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


@pytest.fixture(scope="module")
def voc(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("voc")
    write_image(src / "JPEGImages" / "2008_000001.jpg")
    write_image(src / "JPEGImages" / "2008_000002.jpg")

    def obj(name: str, box: tuple, difficult: int = 0) -> str:
        xmin, ymin, xmax, ymax = box
        return (f"<object><name>{name}</name><difficult>{difficult}</difficult><bndbox><xmin>{xmin}</xmin>"
                f"<ymin>{ymin}</ymin><xmax>{xmax}</xmax><ymax>{ymax}</ymax></bndbox></object>")

    (src / "Annotations").mkdir()
    (src / "Annotations" / "2008_000001.xml").write_text(
        f"<annotation><filename>2008_000001.jpg</filename><size><width>{W}</width><height>{H}</height></size>"
        + obj("car", (11, 21, 61, 71)) + obj("person", (101, 11, 121, 91), difficult=1)
        + obj("motorbike", (151, 51, 201, 101)) + obj("dog", (1, 1, 11, 11)) + "</annotation>")
    (src / "Annotations" / "2008_000002.xml").write_text(
        "<annotation><filename>2008_000002.jpg</filename>" + obj("bus", (1, 1, 201, 101)) + "</annotation>")
    return src


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


def test_missing_json_is_one_clear_error(tmp_path, capsys):
    (tmp_path / "bdd" / "images").mkdir(parents=True)
    assert run(["convert", "bdd100k", tmp_path / "bdd", "--out", tmp_path / "o"]) == 2
    assert "missing labels/det_20/det_{train,val}.json" in capsys.readouterr().err
    (tmp_path / "coco" / "annotations").mkdir(parents=True)
    assert run(["convert", "coco", tmp_path / "coco", "--out", tmp_path / "o"]) == 2
    assert "holds no instances_*.json files" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


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
