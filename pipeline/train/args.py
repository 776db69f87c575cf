"""A stage's complete Ultralytics arguments, resolved in one place: :func:`stage_args` (freeze, learning rate,
optimizer, epochs and the keys roadtune manages), built on :func:`stage_freeze` and :func:`plan_stages`.

Like fastai's ``fine_tune`` (freeze, fit, unfreeze, fit at a lower rate), the two-stage recipe is data, not code:

>>> from pipeline.recipe.schema import Recipe
>>> recipe = Recipe(name="x", task="detect", model="yolov8n.yaml", data="d.yaml", train={"epochs": 3})
>>> [(s.name, s.epochs) for s in plan_stages(recipe)]
[('train', 3)]
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from pipeline.recipe.schema import MAX_EPOCHS, Recipe, Stage
from pipeline.run_folder import STAGES

# Ultralytics' default lr0/warmup_bias_lr and optimizer=auto's lr0 (AdamW for short fine-tunes, lr0 ignored):
# pinned explicitly so that lr_scale has an lr0 to scale
from pipeline.ultralytics_api import DEFAULT_LR0, DEFAULT_WARMUP_BIAS_LR, auto_lr_fit

LOG = logging.getLogger("roadtune")
LR_KEYS = ("optimizer", "lr0", "warmup_bias_lr")


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


def stage_args(recipe: Recipe, stage: Stage, nc: int, run_dir: Path, data_yaml: Path, frozen: list[int],
               scale_lr: bool = True) -> dict[str, Any]:
    """A stage's complete Ultralytics train arguments: the recipe's `train`, the stage's own (they win), the
    learning rate scaled by `lr_scale` where the stage sets none of its own (`scale_lr`: a stage of the recipe's
    schedule), then the keys roadtune manages: epochs, data, output folder and frozen layers.

    Paths are absolute: Ultralytics 8.4.190 (cfg/__init__.py get_save_dir) puts a relative `project` under
    `<settings runs_dir>/<task>/`, far from the run folder.
    """
    scaled = learning_rate_args(recipe.train, stage, plan_stages(recipe), nc) if scale_lr else {}
    managed = {"epochs": stage.epochs, "data": str(Path(data_yaml).resolve()),
               "project": str(Path(run_dir).resolve() / STAGES), "name": stage.name, "exist_ok": True,
               "freeze": frozen or None}
    return {**recipe.train, **stage.train, **scaled, **managed}


def learning_rate_args(train: dict[str, Any], stage: Stage, stages: list[Stage], nc: int) -> dict[str, Any]:
    """Optimizer, lr0 and warmup_bias_lr of a stage: the recipe's lr0 and warmup bias rate scaled by `lr_scale`;
    the stage's own `train` values of these keys win over the scaled ones.
    """
    if all(s.lr_scale == 1.0 for s in stages):
        return {}
    optimizer = stage.train.get("optimizer", train.get("optimizer", "auto"))
    lr0 = train.get("lr0", DEFAULT_LR0)
    warmup_bias = train.get("warmup_bias_lr", DEFAULT_WARMUP_BIAS_LR)
    if str(optimizer).lower() == "auto":
        optimizer, lr0 = "AdamW", auto_lr_fit(nc)
        warmup_bias = train.get("warmup_bias_lr", 0.0)
        LOG.warning(f"optimizer=auto ignores lr0, so lr_scale would have no effect: pinned optimizer=AdamW, "
                    f"lr0={lr0} (Ultralytics' own auto choice for short runs). Set train.optimizer to choose.")
    scaled = {"optimizer": optimizer, "lr0": lr0 * stage.lr_scale, "warmup_bias_lr": warmup_bias * stage.lr_scale}
    return {**scaled, **{k: stage.train[k] for k in LR_KEYS if k in stage.train}}
