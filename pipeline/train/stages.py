"""The schedule: a loop over stages, each one Ultralytics training run started from the previous stage's weights.

Like fastai's ``fine_tune`` (freeze, fit, unfreeze, fit at a lower rate), the two-stage recipe is data, not code:

>>> from pipeline.recipe.schema import Recipe
>>> recipe = Recipe(name="x", task="detect", model="yolov8n.yaml", data="d.yaml", train={"epochs": 3})
>>> [(s.name, s.epochs) for s in plan_stages(recipe)]
[('train', 3)]
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import yaml

from pipeline.errors import UserError
from pipeline.recipe.schema import MAX_EPOCHS, Recipe, Stage
from pipeline.run_folder import (
    BEST,
    BEST_FILE,
    EPOCHS_LOG,
    LAST,
    LOG_FILE,
    RESULTS_CSV,
    STAGE_SUMMARY,
    STAGES,
    TRAIN_ARGS,
    missing_stage_outputs,
    write_atomic,
)
from pipeline.train.metrics import EpochTimer, read_epochs, timing_summary, validation_summary

LOG = logging.getLogger("roadtune")
DEFAULT_LR0, DEFAULT_WARMUP_BIAS_LR = 0.01, 0.1
LR_KEYS = ("optimizer", "lr0", "warmup_bias_lr")


def auto_lr_fit(nc: int) -> float:
    """The lr0 Ultralytics' optimizer=auto chooses for short runs (AdamW), for `nc` classes.

    Ultralytics 8.4.190 (engine/trainer.py build_optimizer): optimizer=auto picks AdamW with this lr0 for short
    fine-tunes and ignores lr0; we pin the same choice explicitly so that lr_scale has an lr0 to scale.
    """
    return round(0.002 * 5 / (4 + nc), 6)


def default_epochs() -> int:
    """Ultralytics' own default epoch count (cfg/default.yaml), for a train section that sets none."""
    from ultralytics.cfg import DEFAULT_CFG_DICT

    return int(DEFAULT_CFG_DICT["epochs"])


def plan_stages(recipe: Recipe) -> list[Stage]:
    """The recipe's stages, or one stage named `train` with the train section's epochs."""
    if recipe.stages:
        return list(recipe.stages)
    epochs = recipe.train.get("epochs")
    # An invalid count is already a problem of the recipe check (listed with preflight's in one round)
    valid = isinstance(epochs, int) and not isinstance(epochs, bool) and 0 < epochs <= MAX_EPOCHS
    return [Stage(name="train", epochs=epochs if valid else default_epochs())]


def stage_freeze(recipe: Recipe, stage: Stage) -> int | list[int] | str:
    """The stage's own freeze spec, else the recipe's."""
    return recipe.freeze if stage.freeze is None else stage.freeze


def managed_args(run_dir: Path, stage: Stage, data_yaml: Path, frozen: list[int]) -> dict[str, Any]:
    """The Ultralytics arguments roadtune sets for every stage: epochs, data, output folder and frozen layers.

    Paths are absolute: Ultralytics 8.4.190 (cfg/__init__.py get_save_dir) puts a relative `project` under
    `<settings runs_dir>/<task>/`, far from the run folder.
    """
    return {"epochs": stage.epochs, "data": str(Path(data_yaml).resolve()),
            "project": str(Path(run_dir).resolve() / STAGES), "name": stage.name, "exist_ok": True,
            "freeze": frozen or None}


def stage_train_args(recipe: Recipe, stage: Stage, nc: int) -> dict[str, Any]:
    """A stage's train arguments before the managed ones: the recipe's, the stage's own (they win), and the
    learning rate scaled by `lr_scale` where the stage sets none of its own.
    """
    return {**recipe.train, **stage.train, **learning_rate_args(recipe.train, stage, plan_stages(recipe), nc)}


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


@dataclass
class StageRun:
    """Everything one stage needs: where it starts, what it freezes, its Ultralytics arguments."""

    stage: Stage
    freeze_spec: int | list[int] | str
    folder: Path
    start_weights: str
    frozen: list[int]
    train_args: dict[str, Any]

    @property
    def last(self) -> Path:
        return self.folder / LAST

    @property
    def best(self) -> Path:
        return self.folder / BEST

    @property
    def summary_path(self) -> Path:
        return self.folder / STAGE_SUMMARY

    @property
    def epochs_log(self) -> Path:
        return self.folder / EPOCHS_LOG

    def done(self) -> bool:
        return self.summary_path.is_file()


def _train(stage_run: StageRun, trainer_class: type | None) -> Any:
    """Run (or resume) the Ultralytics training of one stage; return its trainer (None: it had already ended)."""
    from ultralytics import YOLO

    resume = _prepare_resume(stage_run)
    if resume == "ended":
        return None
    if resume == "start" and stage_run.folder.exists():
        shutil.rmtree(stage_run.folder)  # killed before its first epoch ended, or no readable checkpoint: start over
    model = YOLO(str(stage_run.last) if resume == "resume" else stage_run.start_weights)
    stage_run.folder.mkdir(parents=True, exist_ok=True)
    timer = EpochTimer(stage_run.epochs_log)
    for event, fn in timer.callbacks().items():
        model.add_callback(event, fn)
    args = dict(stage_run.train_args)
    if resume == "resume":  # Ultralytics restores the arguments from last.pt; only non-serialisable ones go again
        args = {"resume": True, **{k: v for k, v in args.items() if k in ("augmentations", "data", "device")}}
    kwargs = {"trainer": trainer_class} if trainer_class else {}
    model.train(**args, **kwargs)
    return model.trainer


def _saved_epoch(path: Path) -> int | None:
    """The 0-based epoch an Ultralytics checkpoint was saved after; None when it cannot be read (e.g. truncated)."""
    from pipeline.checkpoints import read_checkpoint

    try:
        epoch = read_checkpoint(path).get("epoch")
    except (UserError, AttributeError):
        return None
    return epoch if isinstance(epoch, int) else None


def _prepare_resume(stage_run: StageRun) -> str:
    """How the stage goes on: `start` afresh, `resume` from its last.pt (made consistent first), or `ended`: the
    training ended (Ultralytics saves the final last.pt with epoch -1) and only the summary is left to write.

    A kill between Ultralytics' results.csv row and its last.pt (8.4.190 trainer: save_metrics, then save_model)
    leaves a row for an epoch last.pt does not hold; the resumed epoch would append it again, so rows past
    last.pt's epoch are dropped. A last.pt cut short (a full disk) falls back to best.pt when that one reads, else
    the stage starts over from its start weights; both with a warning.
    """
    if not stage_run.last.is_file():
        return "start"
    epoch = _saved_epoch(stage_run.last)
    if epoch is None:
        epoch = _saved_epoch(stage_run.best) if stage_run.best.is_file() else None
        fallback = f"its {BEST_FILE}" if epoch is not None else f"the start ({stage_run.start_weights})"
        LOG.warning(f"stage {stage_run.stage.name}: {stage_run.last} cannot be read (cut short?): resuming from "
                    f"{fallback}")
        if epoch is None:
            return "start"
        shutil.copyfile(stage_run.best, stage_run.last)
    if epoch < 0:
        return "ended"
    results = stage_run.folder / RESULTS_CSV
    if results.is_file():
        header, *rows = results.read_text().splitlines(keepends=True)
        kept = [r for r in rows if float(r.split(",")[0]) <= epoch + 1]
        if len(kept) < len(rows):
            write_atomic(results, "".join([header, *kept]))
    return "resume"


def _validator_of(trainer: Any, stage_run: StageRun) -> Any:
    """The validator that evaluated best.pt. Under DDP (Ultralytics 8.4.190) training runs in worker processes and
    the parent's trainer has none, so best.pt is validated here, with the same data and image size.
    """
    if getattr(trainer, "validator", None) is not None:
        return trainer.validator
    from ultralytics import YOLO

    model, captured = YOLO(str(stage_run.best)), []
    model.add_callback("on_val_end", captured.append)
    args = stage_run.train_args
    batch = args.get("batch", 16)
    batch = batch if isinstance(batch, int) and batch > 0 else 16  # AutoBatch (-1) or a fraction: a fixed size here
    model.val(data=args["data"], imgsz=args.get("imgsz", 640), batch=batch, plots=False, device=args.get("device"))
    return captured[-1]


def run_stage(stage_run: StageRun, names: dict[int, str], trainer_class: type | None = None) -> dict:
    """Train one stage (resuming from its last.pt if interrupted) and write its summary.json."""
    if stage_run.done():
        return json.loads(stage_run.summary_path.read_text())
    LOG.info(f"stage {stage_run.stage.name}: {stage_run.stage.epochs} epochs from {stage_run.start_weights}, "
             f"{len(stage_run.frozen)} frozen layers")
    trainer = _train(stage_run, trainer_class)
    args = trainer.args if trainer else SimpleNamespace(**yaml.safe_load((stage_run.folder / TRAIN_ARGS).read_text()))
    missing = missing_stage_outputs(stage_run.folder)
    if missing:
        raise UserError(f"stage {stage_run.stage.name}: Ultralytics finished but left no "
                        f"{', '.join(map(str, missing))} (its output went elsewhere: see {LOG_FILE})")
    summary = {
        "name": stage_run.stage.name,
        "start_weights": stage_run.start_weights,
        "freeze": stage_run.freeze_spec,
        "frozen_layers": len(stage_run.frozen),
        "lr0": args.lr0,
        "optimizer": args.optimizer,
        **timing_summary(read_epochs(stage_run.epochs_log)),
        **validation_summary(_validator_of(trainer, stage_run), names),
    }
    write_atomic(stage_run.summary_path, json.dumps(summary, indent=2))
    return summary
