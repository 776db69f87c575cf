"""The schedule: a recipe without `stages` is one stage named `train`; a stage's freeze spec wins over the recipe's."""

from __future__ import annotations

import pytest

from pipeline.recipe.schema import Recipe
from pipeline.recipe.stages import default_epochs, plan_stages, stage_freeze

BASE = {"name": "x", "task": "detect", "model": "yolov8n.yaml", "data": "d.yaml"}


def test_no_stages_is_one_stage_named_train_with_the_train_epochs():
    (stage,) = plan_stages(Recipe(**BASE, train={"epochs": 3}))
    assert (stage.name, stage.epochs, stage.freeze, stage.lr_scale) == ("train", 3, None, 1.0)


@pytest.mark.parametrize("epochs", [None, 0, True, "3"])
def test_a_missing_or_invalid_epoch_count_falls_back_to_ultralytics_default(epochs):
    train = {} if epochs is None else {"epochs": epochs}
    assert [s.epochs for s in plan_stages(Recipe(**BASE, train=train))] == [default_epochs()] == [100]


def test_the_recipe_stages_are_kept_in_order():
    stages = [{"name": "head", "epochs": 2, "freeze": "backbone"}, {"name": "full", "epochs": 1, "lr_scale": 0.1}]
    assert [(s.name, s.epochs) for s in plan_stages(Recipe(**BASE, stages=stages))] == [("head", 2), ("full", 1)]


@pytest.mark.parametrize("recipe_freeze, own, expected", [
    ("backbone", None, "backbone"), ("backbone", 0, 0), (10, "none", "none"), ("none", [0, 2], [0, 2]),
])
def test_a_stage_freeze_wins_over_the_recipe_one(recipe_freeze, own, expected):
    assert stage_freeze(recipe_freeze, own) == expected
