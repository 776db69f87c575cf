"""A stage's complete Ultralytics arguments: its own keys win, lr_scale scales the recipe's rate, paths absolute."""

from __future__ import annotations

import os
from pathlib import Path

from pipeline.recipe.schema import Recipe, Stage, cli_paths_absolute
from pipeline.train.args import stage_args


def two_stage(**first_train) -> Recipe:
    return Recipe(name="x", task="detect", model="yolov8n.yaml", data="d.yaml",
                  train={"optimizer": "SGD", "lr0": 0.01, "imgsz": 64},
                  stages=[{"name": "head", "epochs": 1, "lr_scale": 0.5, "train": first_train},
                          {"name": "full", "epochs": 1, "lr_scale": 0.1}])


def test_a_stages_own_lr0_and_optimizer_win_over_lr_scale():
    recipe = two_stage(lr0=0.05, optimizer="AdamW")
    head, full = (stage_args(recipe, s, 5, Path("runs/x/1"), Path("d.yaml"), []) for s in recipe.stages)
    assert (head["lr0"], head["optimizer"]) == (0.05, "AdamW")  # was replaced by 0.01 * 0.5 with SGD
    assert (full["lr0"], full["optimizer"]) == (0.001, "SGD")
    assert head["warmup_bias_lr"] == 0.05 and head["imgsz"] == 64


def test_lr_scale_scales_the_recipes_rate_where_the_stage_sets_none():
    recipe = two_stage()
    lr0s = [stage_args(recipe, s, 5, Path("runs/x/1"), Path("d.yaml"), [])["lr0"] for s in recipe.stages]
    assert lr0s == [0.005, 0.001]


def test_ultralytics_gets_absolute_project_and_data(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = stage_args(two_stage(), Stage(name="head", epochs=2), 5, Path("runs/x/1"), Path("data/d.yaml"), [0, 1])
    assert args["project"] == str(tmp_path / "runs/x/1/stages") and args["data"] == str(tmp_path / "data/d.yaml")
    assert (args["name"], args["epochs"], args["freeze"]) == ("head", 2, [0, 1])


def test_set_paths_resolve_against_the_working_directory(tmp_path):
    given = ["data=../shared/data/kitti_mini/data.yaml", "video.source=clip.mp4", "weights=coco.pt",
             "model=yolov5nu.yaml", "model=models/my.yaml", "distill.teacher=runs/t/1", "train.lr0=0.1",
             "data=https://x/y.yaml", "distill.unlabeled=[drive.mp4, ../frames]"]
    out = cli_paths_absolute(given, cwd=tmp_path / "repo")
    assert out == [f"data={tmp_path / 'shared/data/kitti_mini/data.yaml'}",
                   f"video.source={tmp_path / 'repo/clip.mp4'}",
                   "weights=coco.pt", "model=yolov5nu.yaml", f"model={tmp_path / 'repo/models/my.yaml'}",
                   f"distill.teacher={tmp_path / 'repo/runs/t/1'}", "train.lr0=0.1", "data=https://x/y.yaml",
                   f'distill.unlabeled=["{tmp_path / "repo/drive.mp4"}", "{tmp_path / "frames"}"]']
    assert all(os.path.isabs(o.split("=", 1)[1]) for o in out if o.startswith(("data=/", "video")))
