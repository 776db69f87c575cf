"""The schedule: a recipe's stages and each stage's freeze spec.

Like fastai's ``fine_tune`` (freeze, fit, unfreeze, fit at a lower rate), the two-stage recipe is data, not code:

>>> from pipeline.recipe.schema import Recipe
>>> recipe = Recipe(name="x", task="detect", model="yolov8n.yaml", data="d.yaml", train={"epochs": 3})
>>> [(s.name, s.epochs) for s in plan_stages(recipe)]
[('train', 3)]
"""

from __future__ import annotations

from typing import Any

from pipeline.recipe.schema import MAX_EPOCHS, Recipe, Stage


def default_epochs() -> int:
    """Ultralytics' own default epoch count (cfg/default.yaml), for a train section that sets none."""
    from pipeline.ultralytics_api import DEFAULT_CFG_DICT

    return int(DEFAULT_CFG_DICT["epochs"])


def plan_stages(recipe: Recipe) -> list[Stage]:
    """The recipe's stages, or one stage named `train` with the train section's epochs."""
    if recipe.stages:
        return list(recipe.stages)
    epochs = recipe.train.get("epochs")
    # An invalid count is already a problem of the recipe check (listed with preflight's in one round)
    valid = isinstance(epochs, int) and not isinstance(epochs, bool) and 0 < epochs <= MAX_EPOCHS
    return [Stage(name="train", epochs=epochs if valid else default_epochs())]


def stage_freeze(recipe_freeze: Any, stage_freeze: Any) -> int | list[int] | str:
    """The stage's own freeze spec, else the recipe's: values of a Recipe and its Stage, or of the raw
    dicts a run folder's recipe.yaml holds (an absent stage freeze is None there too)."""
    return recipe_freeze if stage_freeze is None else stage_freeze
