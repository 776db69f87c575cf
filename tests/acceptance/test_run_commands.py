"""The run commands of README and docs/ (quickstart, recipes, real data, classification), typed from the repo root."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from shell import TINY, TWO_TINY_STAGES, kill_after_first_epoch, needs_shared, printed, type_command, user_env

pytestmark = pytest.mark.slow


def metrics_of(repo: Path, run_folder: str) -> dict:
    return json.loads((repo / run_folder / "metrics.json").read_text())


def test_quickstart_leaves_everything_in_its_run_folder(user_repo, quickstart_run):
    out, run_folder = quickstart_run
    assert run_folder.startswith("runs/quickstart/"), run_folder
    weights = printed(out, "weights")
    assert weights == f"{run_folder}/stages/train/weights/best.pt"
    for name in ("weights/best.pt", "weights/last.pt", "results.csv", "args.yaml"):
        assert (user_repo / run_folder / "stages/train" / name).is_file(), name
    assert not (user_repo / "runs" / "detect").exists(), "Ultralytics' output went to runs/detect/"
    assert metrics_of(user_repo, run_folder)["epochs"] == 1
    assert "\x1b[" not in (user_repo / run_folder / "log.txt").read_text()


def test_freeze10_dry_run_prints_the_plan(user_repo, official_weights):
    out = type_command(user_repo, "python -m pipeline.run recipes/freeze10.yaml --dry-run",
                       env=user_env(ROADTUNE_WEIGHTS=str(official_weights)))
    assert "frozen layers: 10" in out
    assert not (user_repo / "runs" / "freeze10").exists()


def test_freeze10_run_then_kill_and_resume(user_repo, official_weights):
    env = user_env(ROADTUNE_WEIGHTS=str(official_weights))
    out = type_command(user_repo, "python -m pipeline.run recipes/freeze10.yaml", TINY, env=env)
    assert metrics_of(user_repo, printed(out, "run folder"))["frozen_layers"] == 10

    run_dir = kill_after_first_epoch(
        user_repo, f"python -m pipeline.run recipes/freeze10.yaml {TINY} --set train.epochs=3", env,
        "stages/train/epochs.jsonl")
    typed = "python -m pipeline.run --resume runs/freeze10/20261124-101500"
    out = type_command(user_repo, typed.replace("runs/freeze10/20261124-101500", f"runs/freeze10/{run_dir.name}"),
                       env=env)
    assert metrics_of(user_repo, f"runs/freeze10/{run_dir.name}")["epochs"] == 3
    assert len(pd.read_csv(run_dir / "stages/train/results.csv")) == 3


def test_two_stage_scales_the_second_stage(user_repo, official_weights):
    out = type_command(user_repo, "python -m pipeline.run recipes/two-stage.yaml --set stages.1.lr_scale=0.05",
                       TWO_TINY_STAGES, env=user_env(ROADTUNE_WEIGHTS=str(official_weights)))
    run_folder = printed(out, "run folder")
    head, full = metrics_of(user_repo, run_folder)["stages"]
    assert (head["lr0"], full["lr0"]) == (0.01, pytest.approx(0.0005))
    assert full["start_weights"] == str((user_repo / run_folder / "stages/head/weights/last.pt").resolve())
    assert printed(out, "weights") == f"{run_folder}/stages/full/weights/best.pt"


def test_seg_freeze10_reports_mask_map(user_repo, official_weights):
    out = type_command(user_repo, "python -m pipeline.run recipes/seg-freeze10.yaml", TINY,
                       env=user_env(ROADTUNE_WEIGHTS=str(official_weights)))
    metrics = metrics_of(user_repo, printed(out, "run folder"))
    assert "mask_map50_95" in metrics and metrics["frozen_layers"] == 10


def test_console_script_dry_run(user_repo):
    out = type_command(user_repo, "roadtune run recipes/quickstart.yaml --dry-run")
    assert "trainable 3,011,807" in out


def test_real_data_kitti_with_coco_yolov5n(user_repo):
    needs_shared(user_repo, "data/kitti_mini", "weights/yolov5n_coco_state_dict.pt")
    out = type_command(user_repo, "python -m pipeline.run recipes/freeze10.yaml --set model=yolov5nu.yaml "
                       "--set weights=yolov5n_coco_state_dict.pt --set data=../shared/data/kitti_mini/data.yaml",
                       TINY, env=user_env(ROADTUNE_WEIGHTS="../shared/weights"))
    metrics = metrics_of(user_repo, printed(out, "run folder"))
    assert (metrics["weights_transferred"], metrics["frozen_layers"]) == (342, 10)
    assert set(metrics["per_class"]) == {"car", "pedestrian", "cyclist"}


def test_signs_two_stage_on_gtsrb_mini(user_repo):
    needs_shared(user_repo, "data/gtsrb_mini", "weights/yolov5n_coco_state_dict.pt")
    out = type_command(user_repo, "ROADTUNE_WEIGHTS=../shared/weights python -m pipeline.run "
                       "recipes/signs-two-stage.yaml", TWO_TINY_STAGES)
    metrics = metrics_of(user_repo, printed(out, "run folder"))
    assert [s["name"] for s in metrics["stages"]] == ["head", "full"]
    assert 0.0 <= metrics["top1"] <= metrics["top5"] <= 1.0


def test_kitti_teacher_then_students_on_its_labels_of_the_pool(user_repo):
    needs_shared(user_repo, "data/kitti_mini", "data/kitti_pool", "weights/yolov5n_coco_state_dict.pt")
    out = type_command(user_repo, "ROADTUNE_WEIGHTS=../shared/weights python -m pipeline.run "
                       "recipes/kitti-teacher.yaml", TINY)
    teacher = user_repo / printed(out, "run folder")
    out = type_command(user_repo, "ROADTUNE_WEIGHTS=../shared/weights python -m pipeline.run "
                       "recipes/kitti-pool-student.yaml", TINY)
    run_folder = printed(out, "run folder")
    counts = json.loads((user_repo / run_folder / "pseudo/counts.json").read_text())
    assert counts["teacher"] == str((teacher / "stages/train/weights/best.pt").resolve()), "the newest teacher run"
    assert counts["frames"] == 724 and counts["teacher_imgsz"] == 64 and set(counts["thresholds"]) == {
        "car", "pedestrian", "cyclist"}
    metrics = metrics_of(user_repo, run_folder)
    assert counts["labeled_repeats"] == 3, "auto: the 150 labelled frames about 40% of an epoch beside 724"
    assert (metrics["batches"], metrics["images_seen"]) == (-(-1174 // 8), 1174), "3 x 150 labelled + 724 pool"


def test_a_moved_run_folder_resumes_where_it_now_is(user_repo, official_weights):
    """Ultralytics' last.pt holds the old save_dir; the resumed training must write into the folder as it is now."""
    env = user_env(ROADTUNE_WEIGHTS=str(official_weights))
    run_dir = kill_after_first_epoch(
        user_repo, f"python -m pipeline.run recipes/freeze10.yaml {TINY} --set train.epochs=3", env,
        "stages/train/epochs.jsonl")
    moved = user_repo / "runs" / "moved" / run_dir.name
    moved.parent.mkdir(parents=True)
    shutil.move(run_dir, moved)
    type_command(user_repo, f"python -m pipeline.run --resume runs/moved/{run_dir.name}", env=env)
    assert not run_dir.exists(), "the resumed training wrote into the folder's old place"
    assert metrics_of(user_repo, f"runs/moved/{run_dir.name}")["epochs"] == 3
    assert len(pd.read_csv(moved / "stages/train/results.csv")) == 3
