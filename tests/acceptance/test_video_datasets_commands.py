"""The video demo and dataset commands of README and docs/, typed from the repo root with relative paths."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from shell import needs_shared, printed, type_command, user_env

pytestmark = pytest.mark.slow


def test_video_on_the_weights_a_run_printed(user_repo, quickstart_run):
    needs_shared(user_repo, "video/highway_dashcam_udacity_test_video.mp4")
    out, run_folder = quickstart_run
    weights = printed(out, "weights")
    typed = ("python -m pipeline.video runs/quickstart/20261124-101500/stages/train/weights/best.pt "
             "../shared/video/highway_dashcam_udacity_test_video.mp4 --out demo --track bytetrack")
    assert typed.split()[3] == "runs/quickstart/20261124-101500/stages/train/weights/best.pt"
    type_command(user_repo, typed.replace("runs/quickstart/20261124-101500/stages/train/weights/best.pt", weights),
                 "--max-frames 6 --imgsz 64 --device cpu")
    summary = json.loads((user_repo / "demo" / "summary.json").read_text())
    assert summary["frames"] == 6
    assert (user_repo / "demo" / "annotated.mp4").is_file() and (user_repo / "demo" / "detections.csv").is_file()


def _raw_kitti(home) -> None:
    """A KITTI training folder at ~/data/kitti (image_2 + label_2), as a user downloads it."""
    images, labels = home / "data/kitti/training/image_2", home / "data/kitti/training/label_2"
    images.mkdir(parents=True)
    labels.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(10):
        cv2.imwrite(str(images / f"{i:06d}.png"), rng.integers(0, 255, (120, 400, 3), dtype=np.uint8))
        x = 20 + 10 * i
        (labels / f"{i:06d}.txt").write_text(
            f"Car 0.00 0 -1.57 {x} 30 {x + 60} 90 1.5 1.6 3.9 1.0 1.5 10.0 -1.5\n"
            f"Pedestrian 0.00 0 -1.57 300 20 330 100 1.8 0.6 0.8 2.0 1.5 12.0 0.5\n")


def test_datasets_convert_check_preview(user_repo, tmp_path):
    env = user_env(HOME=str(tmp_path))
    _raw_kitti(tmp_path)
    type_command(user_repo, "python -m pipeline.datasets convert kitti ~/data/kitti --out data/kitti-yolo", env=env)
    assert (user_repo / "data/kitti-yolo/data.yaml").is_file()
    type_command(user_repo, "python -m pipeline.datasets check data/kitti-yolo/data.yaml --json check.json", env=env)
    report = json.loads((user_repo / "check.json").read_text())
    assert not report["errors"]
    type_command(user_repo, "python -m pipeline.datasets preview data/kitti-yolo/data.yaml --augment rain,fog,night "
                 "--out grid.jpg --n 12", env=env)
    assert cv2.imread(str(user_repo / "grid.jpg")) is not None
