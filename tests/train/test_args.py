"""A stage's complete Ultralytics arguments: the stage plan, the freeze spec a stage gets, the learning-rate rules
(lr_scale on an explicit optimizer, optimizer=auto pinned to Ultralytics' own choice), and the keys roadtune manages
(absolute project and data, frozen layers). Pure functions: no training."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from pipeline.recipe.schema import Recipe, Stage
from pipeline.recipe.stages import default_epochs, plan_stages, stage_freeze
from pipeline.train.args import learning_rate_args, stage_args
from pipeline.ultralytics_api import DEFAULT_LR0, DEFAULT_WARMUP_BIAS_LR, auto_lr_fit


def recipe_with(train: dict | None = None, stages: list[dict] | None = None, freeze=None) -> Recipe:
    extra = {"freeze": freeze} if freeze is not None else {}
    return Recipe(name="x", task="detect", model="yolov8n.yaml", data="d.yaml", train=train or {}, stages=stages,
                  **extra)


def two_stage(**first_train) -> Recipe:
    return recipe_with({"optimizer": "SGD", "lr0": 0.01, "imgsz": 64},
                       [{"name": "head", "epochs": 1, "lr_scale": 0.5, "train": first_train},
                        {"name": "full", "epochs": 1, "lr_scale": 0.1}])


def args_of(recipe: Recipe, nc: int = 5, **kwargs) -> list[dict]:
    """Every planned stage's arguments."""
    return [stage_args(recipe, s, nc, Path("runs/x/1"), Path("d.yaml"), [], **kwargs) for s in plan_stages(recipe)]


# plan_stages


def test_without_stages_the_plan_is_one_stage_named_train_with_the_train_sections_epochs():
    assert plan_stages(recipe_with({"epochs": 7})) == [Stage(name="train", epochs=7)]


def test_without_epochs_the_single_stage_gets_ultralytics_default():
    assert default_epochs() == 100  # cfg/default.yaml of Ultralytics 8.4.190
    assert plan_stages(recipe_with()) == [Stage(name="train", epochs=100)]


@pytest.mark.parametrize("epochs", [0, -3, True, "3", 2.0, 100_001])
def test_an_invalid_epoch_count_plans_the_default_and_is_left_to_the_recipe_check(epochs):
    assert [s.epochs for s in plan_stages(recipe_with({"epochs": epochs}))] == [default_epochs()]


def test_the_recipes_stages_are_the_plan_in_order_and_a_copy():
    recipe = two_stage()
    plan = plan_stages(recipe)
    assert [(s.name, s.epochs, s.lr_scale) for s in plan] == [("head", 1, 0.5), ("full", 1, 0.1)]
    plan.pop()
    assert len(recipe.stages) == 2


def test_stages_ignore_the_train_sections_epochs():
    recipe = recipe_with({"epochs": 9}, [{"name": "only", "epochs": 2}])
    assert [s.epochs for s in plan_stages(recipe)] == [2]
    assert args_of(recipe)[0]["epochs"] == 2


# stage_freeze


@pytest.mark.parametrize("recipe_freeze, own, expected", [
    ("backbone", None, "backbone"), ("backbone", 0, 0), (10, "none", "none"), (10, [0, 2], [0, 2]), (3, 5, 5)])
def test_a_stages_own_freeze_wins_and_only_none_means_the_recipes(recipe_freeze, own, expected):
    assert stage_freeze(recipe_freeze, own) == expected


def test_stage_freeze_reads_the_schema_objects_and_raw_dicts_alike():
    recipe = recipe_with(stages=[{"name": "head", "epochs": 1, "freeze": "backbone"}, {"name": "full", "epochs": 1}],
                         freeze=4)
    raw = recipe.model_dump()
    assert [stage_freeze(recipe.freeze, s.freeze) for s in recipe.stages] == ["backbone", 4]
    assert [stage_freeze(raw["freeze"], s.get("freeze")) for s in raw["stages"]] == ["backbone", 4]


# learning_rate_args


def test_no_lr_keys_are_set_when_no_stage_scales():
    recipe = recipe_with({"lr0": 0.02}, [{"name": "a", "epochs": 1}, {"name": "b", "epochs": 1, "lr_scale": 1.0}])
    assert learning_rate_args(recipe.train, recipe.stages[0], recipe.stages, 5) == {}
    assert [a["lr0"] for a in args_of(recipe)] == [0.02, 0.02]
    assert all("optimizer" not in a and "warmup_bias_lr" not in a for a in args_of(recipe_with({"epochs": 1})))


def test_an_explicit_optimizer_scales_ultralytics_default_rates_when_the_recipe_sets_none():
    recipe = recipe_with({"optimizer": "SGD"}, [{"name": "a", "epochs": 1, "lr_scale": 0.5},
                                                {"name": "b", "epochs": 1}])
    assert (DEFAULT_LR0, DEFAULT_WARMUP_BIAS_LR) == (0.01, 0.1)
    a, b = ({k: args[k] for k in ("optimizer", "lr0", "warmup_bias_lr")} for args in args_of(recipe))
    assert a == {"optimizer": "SGD", "lr0": 0.005, "warmup_bias_lr": 0.05}
    assert b == {"optimizer": "SGD", "lr0": 0.01, "warmup_bias_lr": 0.1}  # lr_scale 1.0 still pins the rate


def test_the_recipes_warmup_bias_rate_is_scaled_like_lr0():
    recipe = recipe_with({"optimizer": "Adam", "lr0": 0.002, "warmup_bias_lr": 0.2},
                         [{"name": "a", "epochs": 1, "lr_scale": 0.25}])
    assert learning_rate_args(recipe.train, recipe.stages[0], recipe.stages, 3) == {
        "optimizer": "Adam", "lr0": 0.0005, "warmup_bias_lr": 0.05}


@pytest.mark.parametrize("optimizer", [None, "auto", "AUTO"])
def test_optimizer_auto_is_pinned_to_adamw_at_ultralytics_auto_rate_and_warns(optimizer, caplog):
    train = {"lr0": 0.5} if optimizer is None else {"optimizer": optimizer, "lr0": 0.5}  # auto ignores lr0
    recipe = recipe_with(train, [{"name": "a", "epochs": 1, "lr_scale": 0.5}, {"name": "b", "epochs": 1}])
    with caplog.at_level(logging.WARNING, logger="roadtune"):
        a, b = (learning_rate_args(recipe.train, s, recipe.stages, 5) for s in recipe.stages)
    assert auto_lr_fit(5) == 0.001111  # 0.002 * 5 / (4 + nc), rounded as build_optimizer does
    # warmup_bias_lr 0.0: what auto sets (trainer.build_optimizer), unless the recipe sets its own
    assert a == {"optimizer": "AdamW", "lr0": pytest.approx(0.0005555), "warmup_bias_lr": 0.0}
    assert b == {"optimizer": "AdamW", "lr0": 0.001111, "warmup_bias_lr": 0.0}
    assert "pinned optimizer=AdamW, lr0=0.001111" in caplog.text


def test_under_auto_the_recipes_warmup_bias_rate_is_kept_and_scaled():
    recipe = recipe_with({"warmup_bias_lr": 0.2}, [{"name": "a", "epochs": 1, "lr_scale": 0.5}])
    assert learning_rate_args(recipe.train, recipe.stages[0], recipe.stages, 76)["warmup_bias_lr"] == 0.1
    assert learning_rate_args(recipe.train, recipe.stages[0], recipe.stages, 76)["lr0"] == 0.000125 * 0.5


def test_a_stages_explicit_optimizer_is_not_auto_and_scales_the_recipes_lr0():
    recipe = recipe_with({"lr0": 0.02}, [{"name": "a", "epochs": 1, "lr_scale": 0.5, "train": {"optimizer": "SGD"}},
                                         {"name": "b", "epochs": 1}])
    a, b = (learning_rate_args(recipe.train, s, recipe.stages, 5) for s in recipe.stages)
    assert a == {"optimizer": "SGD", "lr0": 0.01, "warmup_bias_lr": 0.05}
    assert b == {"optimizer": "AdamW", "lr0": 0.001111, "warmup_bias_lr": 0.0}  # the recipe's own optimizer: auto


def test_a_stages_own_lr0_and_optimizer_win_over_lr_scale():
    head, full = args_of(two_stage(lr0=0.05, optimizer="AdamW"))
    assert (head["lr0"], head["optimizer"]) == (0.05, "AdamW")  # was replaced by 0.01 * 0.5 with SGD
    assert (full["lr0"], full["optimizer"]) == (0.001, "SGD")
    assert head["warmup_bias_lr"] == 0.05 and head["imgsz"] == 64


def test_a_stages_own_warmup_bias_rate_wins():
    head, _ = args_of(two_stage(warmup_bias_lr=0.3))
    assert (head["lr0"], head["warmup_bias_lr"]) == (0.005, 0.3)


def test_lr_scale_scales_the_recipes_rate_where_the_stage_sets_none():
    assert [a["lr0"] for a in args_of(two_stage())] == [0.005, 0.001]


# stage_args


def test_without_scale_lr_the_rates_are_the_recipes_and_the_stages_own():
    head, full = args_of(two_stage(lr0=0.05), scale_lr=False)  # a distillation stage outside the schedule
    assert (head["lr0"], head["optimizer"], full["lr0"]) == (0.05, "SGD", 0.01)
    assert "warmup_bias_lr" not in head and "warmup_bias_lr" not in full


def test_a_stages_train_keys_win_over_the_recipes_and_the_rest_passes_through():
    recipe = recipe_with({"imgsz": 64, "seed": 3, "batch": 8},
                         [{"name": "a", "epochs": 1, "train": {"imgsz": 96, "seed": 4}}, {"name": "b", "epochs": 2}])
    a, b = args_of(recipe)
    assert (a["imgsz"], a["seed"], a["batch"]) == (96, 4, 8)
    assert (b["imgsz"], b["seed"], b["batch"]) == (64, 3, 8)


def test_roadtune_managed_keys_win_over_any_train_section():
    recipe = recipe_with({"epochs": 9, "project": "elsewhere", "name": "n", "exist_ok": False, "freeze": 3,
                          "data": "other.yaml"}, [{"name": "a", "epochs": 2, "train": {"epochs": 5}}])
    args = args_of(recipe)[0]
    assert (args["epochs"], args["name"], args["exist_ok"], args["freeze"]) == (2, "a", True, None)
    assert args["project"].endswith("runs/x/1/stages") and args["data"] == str(Path("d.yaml").resolve())


def test_ultralytics_gets_absolute_project_and_data(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = stage_args(two_stage(), Stage(name="head", epochs=2), 5, Path("runs/x/1"), Path("data/d.yaml"), [0, 1])
    assert args["project"] == str(tmp_path / "runs/x/1/stages") and args["data"] == str(tmp_path / "data/d.yaml")
    assert (args["name"], args["epochs"], args["freeze"]) == ("head", 2, [0, 1])
    assert Path(args["project"]).is_absolute() and args["exist_ok"] is True


def test_stage_args_does_not_change_the_recipe():
    recipe = two_stage(lr0=0.05)
    before = recipe.model_dump()
    args_of(recipe)
    assert recipe.model_dump() == before


@pytest.mark.parametrize("own_scale", [0.5, 1.0])
def test_a_stages_own_auto_is_not_said_to_be_pinned_and_its_lr_scale_is_said_to_do_nothing(own_scale, caplog):
    recipe = recipe_with({"optimizer": "SGD", "lr0": 0.01},
                         [{"name": "a", "epochs": 1, "lr_scale": own_scale, "train": {"optimizer": "auto"}},
                          {"name": "b", "epochs": 1, "lr_scale": 0.1}])
    with caplog.at_level(logging.WARNING, logger="roadtune"):
        a, b = (learning_rate_args(recipe.train, s, recipe.stages, 5) for s in recipe.stages)
    assert a["optimizer"] == "auto" and b == {"optimizer": "SGD", "lr0": 0.001, "warmup_bias_lr": pytest.approx(0.01)}
    assert "pinned" not in caplog.text  # nothing is pinned: the stage's own auto wins, as its own train keys do
    warned = "stage a: optimizer=auto ignores lr0, so the stage's lr_scale=0.5 has no effect" in caplog.text
    assert warned is (own_scale != 1.0)
    assert ("`train.optimizer: AdamW` (or another) and an explicit `lr0`" in caplog.text) is warned
