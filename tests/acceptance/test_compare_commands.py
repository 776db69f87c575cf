"""The sweep and comparison commands of README and docs/sweeps.md, typed from the repo root."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from shell import TINY, needs_shared, printed, type_command, user_env

pytestmark = pytest.mark.slow
SMALL_GRID = "--set sweep.freeze=[none,backbone] --set sweep.repeats=1"


def test_sweep_then_compare(user_repo, official_weights):
    env = user_env(ROADTUNE_WEIGHTS=str(official_weights))
    out = type_command(user_repo, "python -m pipeline.run recipes/freeze-sweep.yaml --dry-run", env=env)
    assert "15 points:" in out

    out = type_command(user_repo, "python -m pipeline.run recipes/freeze-sweep.yaml", f"{TINY} {SMALL_GRID}",
                       env=env)
    sweep = printed(out, "sweep folder")
    assert sweep.startswith("runs/freeze-sweep/")
    report = pd.read_csv(user_repo / sweep / "report.csv")
    assert sorted(report["freeze"]) == ["backbone", "none"]

    typed = "python -m pipeline.compare runs/freeze-sweep/20261124-101500"
    out = type_command(user_repo, typed.replace("runs/freeze-sweep/20261124-101500", sweep), env=env)
    assert "report" in out.lower()


def test_probe_batch_without_a_gpu_is_refused_before_anything_is_written(user_repo, official_weights):
    env = user_env(ROADTUNE_WEIGHTS=str(official_weights))
    typed = "python -m pipeline.run recipes/freeze-sweep.yaml --probe-batch"
    if torch.cuda.is_available():  # a GPU machine: the probe runs (on a shrunk sweep) and writes probe.json
        out = type_command(user_repo, typed, f"{TINY} {SMALL_GRID}", env=env)
        assert (user_repo / printed(out, "probe")).is_file()
        return
    before = sorted(user_repo.glob("runs/**/*"))
    out = type_command(user_repo, typed, env=env, expect=2)
    assert "--probe-batch: no CUDA GPU is visible on this machine" in out and "Traceback" not in out
    assert sorted(user_repo.glob("runs/**/*")) == before


def test_advise_on_kitti(user_repo):
    needs_shared(user_repo, "data/kitti_mini", "weights/yolov5n_coco_state_dict.pt")
    out = type_command(user_repo, "python -m pipeline.compare --advise recipes/freeze-sweep-kitti.yaml",
                       env=user_env(ROADTUNE_WEIGHTS="../shared/weights"))
    assert "freeze" in out


def test_the_example_report_is_made_again_by_its_commands(user_repo):
    """docs/example-report/README.md's two commands, on a shrunk grid: the report they write replaces the committed
    one with the same columns."""
    needs_shared(user_repo, "data/kitti_mini", "weights/yolov5n_coco_state_dict.pt")
    committed = pd.read_csv(user_repo / "docs/example-report/report.csv")
    out = type_command(user_repo, "ROADTUNE_WEIGHTS=../shared/weights python -m pipeline.run "
                       "recipes/freeze-sweep-kitti.yaml", f"{TINY} --set sweep.freeze=[none,all-but-head] "
                       "--set sweep.repeats=1")
    sweep = printed(out, "sweep folder")
    typed = "python -m pipeline.compare runs/freeze-sweep-kitti/20261204-044912 --out docs/example-report --no-links"
    type_command(user_repo, typed.replace("runs/freeze-sweep-kitti/20261204-044912", sweep))
    report = pd.read_csv(user_repo / "docs/example-report/report.csv")
    assert list(report.columns) == list(committed.columns)
    assert list(report["freeze"]) == ["none", "all-but-head"] and set(report["dataset"]) == {"kitti_mini/data.yaml"}
    markdown = (user_repo / "docs/example-report/report.md").read_text()
    assert sweep in markdown and f"]({sweep}" not in markdown and "](../../runs" not in markdown


def test_search_on_kitti_dry_run_then_a_shrunk_search(user_repo):
    """docs/sweeps.md's successive-halving commands: the dry run lists the 15 points; a search shrunk to two depths
    of two epochs writes its report."""
    needs_shared(user_repo, "data/kitti_mini", "weights/yolov5n_coco_state_dict.pt")
    env = user_env(ROADTUNE_WEIGHTS="../shared/weights")
    out = type_command(user_repo, "python -m pipeline.run recipes/freeze-search-kitti.yaml --dry-run", env=env)
    assert "15 points:" in out
    shrink = ("--set train.epochs=2 --set train.imgsz=64 --set train.batch=8 --set train.workers=0 "
              "--set sweep.freeze=[none,all-but-head] --set sweep.repeats=1 --set sweep.search.grace_epochs=1")
    out = type_command(user_repo, "python -m pipeline.run recipes/freeze-search-kitti.yaml", shrink, env=env)
    sweep = printed(out, "sweep folder")
    assert "search: trained" in out and (user_repo / sweep / "report.md").is_file()


def test_the_segmentation_example_report_is_made_again_by_its_commands(user_repo):
    """docs/example-report-seg/README.md's two commands, on a shrunk grid: CamVid instance segmentation from the COCO
    YOLOv5n detector; the report has box and mask mAP and the committed report's columns."""
    needs_shared(user_repo, "data/camvid_seg", "weights/yolov5n_coco_state_dict.pt")
    committed = pd.read_csv(user_repo / "docs/example-report-seg/report.csv")
    out = type_command(user_repo, "ROADTUNE_WEIGHTS=../shared/weights python -m pipeline.run "
                       "recipes/seg-freeze-camvid.yaml", f"{TINY} --set sweep.freeze=[none,all-but-head] "
                       "--set sweep.repeats=1")
    sweep = printed(out, "sweep folder")
    typed = "python -m pipeline.compare runs/seg-freeze-camvid/20261207-230752 --out docs/example-report-seg --no-links"
    type_command(user_repo, typed.replace("runs/seg-freeze-camvid/20261207-230752", sweep))
    report = pd.read_csv(user_repo / "docs/example-report-seg/report.csv")
    assert list(report.columns) == list(committed.columns)
    assert list(report["task"]) == ["segment", "segment"] and report["mask_map50_95"].notna().all()
