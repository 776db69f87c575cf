"""Converters: hand-written KITTI, BDD100K, Cityscapes, VOC and COCO fixtures with known pixel boxes and polygons.

Every expected YOLO value below is computed by hand from the pixel coordinates and the image size.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

os.environ["YOLO_OFFLINE"] = "1"

from pipeline.datasets.__main__ import main  # noqa: E402

W, H = 200, 100  # every fixture image is 200x100 pixels


def write_image(path: Path, width: int = W, height: int = H) -> Path:
    """A small noisy image (PNG or JPEG by suffix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(path.name))
    cv2.imwrite(str(path), rng.integers(0, 255, (height, width, 3), dtype=np.uint8))
    return path


def labels_of(out: Path, stem: str) -> list[list[float]]:
    """Rows of the label file for ``stem``, whichever split it landed in."""
    (label,) = list(out.glob(f"labels/*/{stem}.txt"))
    return [[float(v) for v in line.split()] for line in label.read_text().splitlines()]


def assert_rows(actual: list[list[float]], expected: list[list[float]]) -> None:
    """Same rows (order-insensitive), values equal to 1e-4."""
    assert len(actual) == len(expected), (actual, expected)
    for row, want in zip(sorted(actual), sorted(expected)):
        assert row[0] == want[0] and len(row) == len(want), (row, want)
        np.testing.assert_allclose(row[1:], want[1:], atol=1e-4)


def run(argv: list[str]) -> int:
    return main([str(a) for a in argv])


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


def write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


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
