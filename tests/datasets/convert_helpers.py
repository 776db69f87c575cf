"""Helpers of the converter tests: small noisy images, label rows read back, rows compared to hand-computed values."""

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
