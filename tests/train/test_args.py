"""A stage's complete Ultralytics arguments: its own keys win, lr_scale scales the recipe's rate, project and data
are absolute."""

from __future__ import annotations

from pathlib import Path

from pipeline.recipe.schema import Recipe, Stage
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
