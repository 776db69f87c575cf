"""Helpers of the converter tests: small noisy images, the KITTI and VOC source folders, label rows read back and
compared to hand-computed values."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from pipeline.datasets.__main__ import main

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


def write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def kitti_line(label: str, x1: float, y1: float, x2: float, y2: float) -> str:
    return f"{label} 0.00 0 -1.57 {x1} {y1} {x2} {y2} 1.50 1.60 3.90 1.00 1.50 10.00 -1.50"


def write_kitti(src: Path) -> Path:
    """KITTI training folder: boxes inside, partly outside, wholly outside, degenerate, DontCare, Misc, a corrupt
    image, a malformed line, and a label without an image."""
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


def write_voc(src: Path) -> Path:
    """VOC folder: a car, a difficult person, a motorbike over the border, a dog (not a road class); a bus image
    whose annotation has no size."""
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
