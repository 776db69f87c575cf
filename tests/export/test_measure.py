"""What the export measurements are made of, without an export (tests/export/test_export_run.py measures real
ones): the val frames (decoded, one size), the frames each timed call gets, the per-stage figures scaled to the
batch, accuracy deltas in points, and the machine record."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from pipeline.errors import UserError
from pipeline.export.measure import RUNTIMES, STAGES, delta_points, latency, machine, throughput, val_images


def write(path: Path, width: int, height: int, value: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((height, width, 3), value, np.uint8))


def detect_set(root: Path, sizes: list[tuple[int, int]]) -> Path:
    for i, (w, h) in enumerate(sizes):
        write(root / "images" / "val" / f"{i}.png", w, h, value=i)
    write(root / "images" / "train" / "t.png", 64, 48)
    (root / "data.yaml").write_text(f"path: {root}\ntrain: images/train\nval: images/val\nnames: [car]\n")
    return root / "data.yaml"


def test_val_frames_are_decoded_and_of_the_most_common_size(tmp_path):
    data = detect_set(tmp_path, [(64, 48), (32, 32), (64, 48), (64, 48), (32, 32)])
    frames = val_images(data, 2)
    assert [f.shape for f in frames] == [(48, 64, 3)] * 2 and [int(f[0, 0, 0]) for f in frames] == [0, 2]
    assert len(val_images(data, 10)) == 3


def test_an_image_folder_set_measures_on_its_val_folder(tmp_path):
    for cls in ("stop", "yield"):
        write(tmp_path / "train" / cls / "a.png", 32, 32)
        write(tmp_path / "val" / cls / "a.png", 32, 32)
    assert len(val_images(tmp_path, 8)) == 2


def test_a_set_without_val_images_is_refused(tmp_path):
    data = detect_set(tmp_path, [])
    with pytest.raises(UserError, match="no val images to measure the latency on"):
        val_images(data, 4)


class Predictor:
    """Records the frames of each call; each result reports the per-image stage times Ultralytics would."""

    def __init__(self) -> None:
        self.calls: list[list[int]] = []

    def predict(self, frames, verbose, **options):
        self.calls.append([int(f[0, 0, 0]) for f in frames])
        speed = {"preprocess": 1.0, "inference": 2.0 + len(self.calls), "postprocess": 0.5}
        return [SimpleNamespace(speed=speed) for _ in frames]


def test_latency_cycles_through_the_frames_and_times_only_the_calls_after_warmup():
    frames = [np.full((2, 2, 3), i, np.uint8) for i in range(5)]
    model = Predictor()
    measured = latency(model, frames, batch=2, runs=3, warmup=1, imgsz=64)
    assert model.calls == [[0, 1], [2, 3], [4, 0], [1, 2]]
    assert (measured["batch"], measured["runs"], measured["warmup"]) == (2, 3, 1)
    assert measured["preprocess"] == {"median": 2.0, "p90": 2.0}  # per image x batch
    assert measured["inference"] == {"median": 10.0, "p90": 11.6}  # (2 + call) x 2 over calls 2..4
    assert set(measured) == {"batch", "runs", "warmup", "total", *STAGES} and measured["total"]["median"] >= 0


def test_throughput_counts_the_timed_calls_after_two_untimed_ones():
    model = Predictor()
    measured = throughput(model, [np.zeros((2, 2, 3), np.uint8)], batch=3)
    assert len(model.calls) == 12 and all(c == [0, 0, 0] for c in model.calls)
    assert (measured["batch"], measured["calls"]) == (3, 10) and measured["images_per_s"] > 0


def test_accuracy_deltas_are_points_over_the_figures_both_have():
    exported = {"map50": 0.61234, "map50_95": 0.4, "top1": 0.9}
    assert delta_points(exported, {"map50": 0.62, "map50_95": 0.4}) == {"map50": -0.766, "map50_95": 0.0}


def test_the_machine_record_names_the_cpu_and_installed_runtimes():
    record = machine("cpu")
    assert record["device"] == "cpu" and record["gpu"] is None and record["cpu"]
    assert record["cpu_count"] >= 1 and record["torch_threads"] >= 1
    assert {"torch", "ultralytics"} <= set(record["versions"]) <= set(RUNTIMES)
