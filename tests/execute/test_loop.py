"""Real tiny trainings through `python -m pipeline.run`: frozen weights, stages, segment, resume, run folders."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from conftest import REPO, copy_shared_dataset, point_folder, shared_path

from pipeline.datasets.images import image_files
from pipeline.datasets.resolve import resolve_dataset
from pipeline.recipe.freeze import freeze_plan, resolve_freeze
from pipeline.recipe.models import build_model, save_checkpoint
from pipeline.run import main as run_main

METRIC_KEYS = {
    "map50", "map50_95", "precision", "recall", "per_class", "epochs", "train_time_s", "time_per_epoch_s",
    "batches", "images_seen", "time_per_batch_s",
    "images_per_s", "peak_memory_mb", "memory_kind", "inference_ms_per_image", "params_total", "params_trainable",
    "params_frozen", "frozen_layers", "stages",
}


def run_recipe(recipe_path: Path, runs: Path, *extra: str) -> Path:
    """Run a recipe in-process and return its (only) run folder."""
    assert run_main([str(recipe_path), "--runs-dir", str(runs), *extra]) == 0
    (run_dir,) = [p for p in runs.glob("*/*") if p.is_dir()]
    return run_dir


def checkpoint_state(path: Path) -> dict[str, torch.Tensor]:
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    return (ckpt.get("ema") or ckpt["model"]).state_dict()


@pytest.mark.slow
def test_frozen_layers_bit_identical_trainable_changed(tmp_path, synth_yaml, tiny_train, write_recipe):
    model = build_model("yolov8n.yaml", nc=5)
    start = save_checkpoint(model, tmp_path / "start.pt")
    recipe = write_recipe({"name": "frozen", "task": "detect", "model": str(start), "data": str(synth_yaml),
                           "freeze": "backbone", "train": {**tiny_train, "epochs": 2, "warmup_epochs": 0,
                                                           "optimizer": "SGD", "lr0": 0.05}})
    run_dir = run_recipe(recipe, tmp_path / "runs")

    before, after = checkpoint_state(start), checkpoint_state(run_dir / "stages/train/weights/last.pt")
    frozen_keys = [k for k in before if int(k.split(".")[1]) < 10]
    trainable_keys = [k for k in before
                      if int(k.split(".")[1]) >= 10 and ".dfl" not in k and before[k].is_floating_point()]
    assert any("running_mean" in k for k in frozen_keys), "BN buffers are part of the check"
    for key in frozen_keys:
        assert torch.equal(before[key], after[key]), f"frozen tensor changed: {key}"
    # Conv kernels and BN statistics of trainable layers move. Not all: fp16 checkpoints hide tiny BN gamma steps,
    # and at 64 px the box branches of the coarse scales get no positive anchors, hence no gradient.
    must_change = [k for k in trainable_keys if k.endswith(("conv.weight", "running_mean"))]
    unchanged = [k for k in must_change if torch.equal(before[k], after[k])]
    assert len(must_change) > 50 and len(unchanged) <= 0.1 * len(must_change), f"unchanged: {unchanged}"

    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert set(metrics) == METRIC_KEYS
    plan = freeze_plan(model, resolve_freeze("backbone", model))
    assert (metrics["params_trainable"], metrics["params_frozen"]) == (plan.params_trainable, plan.params_frozen)
    assert metrics["frozen_layers"] == 10 and metrics["epochs"] == 2
    train_images = sum(len(image_files(d)) for d in resolve_dataset(synth_yaml).split_dirs("train"))
    batches_per_epoch = -(-train_images // tiny_train["batch"])  # Ultralytics keeps the last partial batch
    assert metrics["batches"] == 2 * batches_per_epoch and metrics["images_seen"] == 2 * train_images
    assert metrics["stages"][0]["batches"] == metrics["batches"] and metrics["time_per_batch_s"] > 0
    assert 0.0 <= metrics["map50_95"] <= metrics["map50"] <= 1.0
    assert set(metrics["per_class"]) == {"car", "truck", "pedestrian", "traffic_sign", "traffic_light"}
    assert metrics["train_time_s"] > 0 and metrics["images_per_s"] > 0 and metrics["inference_ms_per_image"] > 0
    assert metrics["memory_kind"] == "rss" and metrics["peak_memory_mb"] > 100
    for name in ("recipe.yaml", "env.json", "log.txt", "stages/train/results.csv", "stages/train/weights/best.pt"):
        assert (run_dir / name).is_file(), name
    env = json.loads((run_dir / "env.json").read_text())
    assert env["torch"] == torch.__version__ and env["device"] == "cpu" and env["ultralytics"]
    assert yaml.safe_load((run_dir / "recipe.yaml").read_text())["model"] == str(start)


@pytest.mark.slow
def test_two_stage_scaled_lr_from_previous_weights(tmp_path, synth_yaml, tiny_train, write_recipe):
    recipe = write_recipe({
        "name": "two", "task": "detect", "model": "yolov8n.yaml", "data": str(synth_yaml),
        "train": {**tiny_train, "optimizer": "SGD", "lr0": 0.02},
        "stages": [{"name": "head", "freeze": "backbone", "epochs": 1},
                   {"name": "full", "freeze": "none", "epochs": 1, "lr_scale": 0.1}],
    })
    run_dir = run_recipe(recipe, tmp_path / "runs")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    head, full = metrics["stages"]
    assert (head["name"], full["name"]) == ("head", "full")
    assert (head["lr0"], full["lr0"]) == (0.02, pytest.approx(0.002))
    assert (head["frozen_layers"], full["frozen_layers"]) == (10, 0)
    full_args = yaml.safe_load((run_dir / "stages/full/args.yaml").read_text())
    assert full_args["model"] == str(run_dir / "stages/head/weights/last.pt")
    assert full_args["warmup_bias_lr"] == pytest.approx(0.01)  # the warmup is scaled too
    lrs = pd.read_csv(run_dir / "stages/full/results.csv")["lr/pg0"]
    assert lrs.max() <= 0.002 + 1e-9
    assert metrics["epochs"] == 2 and metrics["frozen_layers"] == 0


@pytest.mark.slow
def test_auto_optimizer_is_pinned_when_lr_scale_is_used(tmp_path, synth_yaml, tiny_train, write_recipe, capsys):
    recipe = write_recipe({
        "name": "auto", "task": "detect", "model": "yolov8n.yaml", "data": str(synth_yaml), "train": tiny_train,
        "stages": [{"name": "a", "epochs": 1, "freeze": "backbone"}, {"name": "b", "epochs": 1, "lr_scale": 0.5}],
    })
    run_dir = run_recipe(recipe, tmp_path / "runs")
    assert "pinned optimizer=AdamW" in capsys.readouterr().out
    a, b = json.loads((run_dir / "metrics.json").read_text())["stages"]
    assert a["optimizer"] == b["optimizer"] == "AdamW"
    assert b["lr0"] == pytest.approx(a["lr0"] * 0.5)


@pytest.mark.slow
def test_segment_run_reports_mask_map(tmp_path, synth_yaml, tiny_train, write_recipe):
    recipe = write_recipe({"name": "seg", "task": "segment", "model": "yolov8n-seg.yaml", "data": str(synth_yaml),
                           "freeze": 10, "train": tiny_train})
    metrics = json.loads((run_recipe(recipe, tmp_path / "runs") / "metrics.json").read_text())
    assert set(metrics) == METRIC_KEYS | {"mask_map50", "mask_map50_95"}
    assert 0.0 <= metrics["mask_map50_95"] <= metrics["mask_map50"] <= 1.0


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_epoch_count(tmp_path, synth_yaml, tiny_train, write_recipe):
    recipe = write_recipe({"name": "kill", "task": "detect", "model": "yolov8n.yaml", "data": str(synth_yaml),
                           "freeze": 5, "train": {**tiny_train, "epochs": 3}})
    run_dir = tmp_path / "runs" / "kill" / "fixed"
    cmd = point_folder(recipe, run_dir)
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ)
    epochs_log = run_dir / "stages/train/epochs.jsonl"
    deadline = time.time() + 240
    while not (epochs_log.is_file() and epochs_log.read_text().count("\n") >= 1) and proc.poll() is None:
        assert time.time() < deadline, "first epoch never finished"
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)  # mid-epoch 2: no cleanup, no last words
    proc.wait()
    assert not (run_dir / "metrics.json").exists()

    assert run_main(["--resume", str(run_dir)]) == 0
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["epochs"] == 3
    assert len(pd.read_csv(run_dir / "stages/train/results.csv")) == 3


@pytest.mark.slow
def test_finished_run_never_overwritten(tmp_path, synth_yaml, tiny_train, write_recipe, capsys):
    recipe = write_recipe({"name": "same", "task": "detect", "model": "yolov8n.yaml", "data": str(synth_yaml),
                           "freeze": "all-but-head", "train": tiny_train})
    runs = tmp_path / "runs"
    first = run_recipe(recipe, runs)
    stamp = (first / "metrics.json").stat().st_mtime_ns
    assert run_main(["--resume", str(first)]) == 0
    assert "already finished" in capsys.readouterr().out
    assert (first / "metrics.json").stat().st_mtime_ns == stamp
    assert run_main([str(recipe), "--runs-dir", str(runs)]) == 0
    folders = sorted(p for p in (runs / "same").iterdir())
    assert len(folders) == 2 and first in folders


@pytest.mark.slow
def test_coco_weights_transfer_into_yolov5nu_on_kitti(tmp_path, tiny_train, write_recipe):
    """The real offline fine-tuning start: original YOLOv5n COCO weights into yolov5nu.yaml, trained on KITTI."""
    weights = shared_path("weights/yolov5n_coco_state_dict.pt")
    data = copy_shared_dataset("kitti_mini", tmp_path)
    recipe = write_recipe({"name": "kitti", "task": "detect", "model": "yolov5nu.yaml", "data": str(data),
                           "weights": str(weights), "freeze": "backbone", "train": {**tiny_train, "imgsz": 128}})
    run_dir = run_recipe(recipe, tmp_path / "runs")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["weights_transferred"] == 342
    assert metrics["weights_total"] > 342
    init, final = checkpoint_state(run_dir / "init.pt"), checkpoint_state(run_dir / "stages/train/weights/last.pt")
    coco = torch.load(weights, map_location="cpu", weights_only=True)["state_dict"]
    assert torch.equal(init["model.0.conv.weight"].half(), coco["model.0.conv.weight"].half())
    assert torch.equal(final["model.9.cv2.conv.weight"], init["model.9.cv2.conv.weight"])
    assert "freshly initialised layers: [24]" in (run_dir / "log.txt").read_text()


@pytest.mark.slow
def test_augment_presets_reach_the_trainer(tmp_path, synth_yaml, tiny_train, write_recipe):
    recipe = write_recipe({"name": "aug", "task": "detect", "model": "yolov8n.yaml", "data": str(synth_yaml),
                           "augment": {"presets": ["fog", "night"], "p": 1.0}, "train": tiny_train})
    run_dir = run_recipe(recipe, tmp_path / "runs")
    args = (run_dir / "stages/train/args.yaml").read_text()
    assert "RandomFog" in args and "OneOf" in args, args[:500]
    assert yaml.safe_load((run_dir / "recipe.yaml").read_text())["augment"] == {"presets": ["fog", "night"], "p": 1.0}


@pytest.mark.slow
def test_video_section_runs_the_demo_on_the_final_weights(tmp_path, synth_yaml, tiny_train, write_recipe):
    import cv2
    import numpy as np

    clip = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 10, (128, 96))
    for i in range(6):
        frame = np.full((96, 128, 3), 90, np.uint8)
        cv2.rectangle(frame, (10 + 8 * i, 40), (50 + 8 * i, 70), (40, 40, 200), -1)
        writer.write(frame)
    writer.release()
    recipe = write_recipe({"name": "vid", "task": "detect", "model": "yolov8n.yaml", "data": str(synth_yaml),
                           "train": tiny_train,
                           "video": {"source": "clip.mp4", "imgsz": 64, "conf": 0.001, "backend": "torch"}})
    run_dir = run_recipe(recipe, tmp_path / "runs")
    summary = json.loads((run_dir / "video" / "summary.json").read_text())
    assert summary["frames"] == 6
    assert (run_dir / "video" / "detections.csv").is_file() and (run_dir / "video" / "annotated.mp4").is_file()
    assert yaml.safe_load((run_dir / "recipe.yaml").read_text())["video"]["source"] == str(clip)
