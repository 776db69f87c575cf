"""A stage's complete Ultralytics arguments, resolved in one place: :func:`stage_args` (freeze, learning rate,
optimizer, epochs and the keys roadtune manages), built on the recipe's schedule (:mod:`pipeline.recipe.stages`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from pipeline.recipe.schema import Recipe, Stage
from pipeline.recipe.stages import plan_stages
from pipeline.run_folder import STAGES

# Ultralytics' default lr0/warmup_bias_lr and optimizer=auto's lr0 (AdamW for short fine-tunes, lr0 ignored):
# pinned explicitly so that lr_scale has an lr0 to scale
from pipeline.ultralytics_api import DEFAULT_LR0, DEFAULT_WARMUP_BIAS_LR, auto_lr_fit

LOG = logging.getLogger("roadtune")
LR_KEYS = ("optimizer", "lr0", "warmup_bias_lr")


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
        pin = "pin an optimizer with `train.optimizer: AdamW` (or another) and an explicit `lr0`"
        if "optimizer" in stage.train:  # the stage's own `auto` wins over a pin, as its own train keys do
            if stage.lr_scale != 1.0:
                LOG.warning(f"stage {stage.name}: optimizer=auto ignores lr0, so the stage's lr_scale="
                            f"{stage.lr_scale} has no effect (Ultralytics picks the optimizer and lr0); to scale "
                            f"it, {pin} in the stage's train section")
        else:
            LOG.warning(f"stage {stage.name}: optimizer=auto ignores lr0, so lr_scale would have no effect: pinned "
                        f"optimizer=AdamW, lr0={lr0} (Ultralytics' own auto choice for short runs); to choose, {pin}")
    scaled = {"optimizer": optimizer, "lr0": lr0 * stage.lr_scale, "warmup_bias_lr": warmup_bias * stage.lr_scale}
    return {**scaled, **{k: stage.train[k] for k in LR_KEYS if k in stage.train}}
