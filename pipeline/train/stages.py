"""The schedule: a loop over stages, each one Ultralytics training run started from the previous stage's weights
(their arguments: :mod:`pipeline.train.args`)."""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from pipeline.errors import UserError
from pipeline.evaluation.per_image import ImageRecorder
from pipeline.recipe.schema import Stage
from pipeline.records import StageSummary
from pipeline.run_folder import (
    BEST,
    BEST_FILE,
    EPOCHS_LOG,
    LAST,
    LOG_FILE,
    RESULTS_CSV,
    TRAIN_ARGS,
    missing_stage_outputs,
    write_atomic,
)
from pipeline.textfile import read_text, read_yaml
from pipeline.train.metrics import EpochTimer, read_epochs, timing_summary, validation_summary

LOG = logging.getLogger("roadtune")


@dataclass
class StageRun:
    """Everything one stage needs: where it starts, what it freezes, its Ultralytics arguments."""

    stage: Stage
    freeze_spec: int | list[int] | str
    folder: Path
    start_weights: str
    frozen: list[int]
    train_args: dict[str, Any]
    files: dict[str, str] = field(default_factory=dict)  # name -> text: roadtune's files its trainer reads
    task: str = "detect"
    per_image_epochs: bool = False  # keep the per-image record of every epoch's validation, not only the final one

    @property
    def last(self) -> Path:
        return self.folder / LAST

    @property
    def best(self) -> Path:
        return self.folder / BEST

    @property
    def epochs_log(self) -> Path:
        return self.folder / EPOCHS_LOG

    def done(self) -> bool:
        return StageSummary.path(self.folder).is_file()


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
    for name, text in stage_run.files.items():  # here, after a restart removed the folder
        write_atomic(stage_run.folder / name, text)
    timer = EpochTimer(stage_run.epochs_log)
    recorder = ImageRecorder(stage_run.folder, stage_run.task, stage_run.per_image_epochs)
    for event, fn in [*timer.callbacks().items(), *recorder.callbacks().items()]:
        model.add_callback(event, fn)
    args = dict(stage_run.train_args)
    if resume == "resume":  # Ultralytics restores the arguments from last.pt; only non-serialisable ones go again,
        # and the stage folder as it is now: last.pt names the old one, where a moved run folder would be recreated
        # (ultralytics_api CONTRACT stages.resume_save_dir)
        args = {"resume": True, "save_dir": str(stage_run.folder),
                **{k: v for k, v in args.items() if k in ("augmentations", "data", "device")}}
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
        header, *rows = read_text(results, "results file").splitlines(keepends=True)
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
    recorder = ImageRecorder(stage_run.folder, stage_run.task, per_epoch=False)
    for event, fn in recorder.callbacks().items():
        model.add_callback(event, fn)
    model.add_callback("on_val_end", captured.append)
    args = stage_run.train_args
    batch = args.get("batch", 16)
    batch = batch if isinstance(batch, int) and batch > 0 else 16  # AutoBatch (-1) or a fraction: a fixed size here
    model.val(data=args["data"], imgsz=args.get("imgsz", 640), batch=batch, plots=False, device=args.get("device"))
    return captured[-1]


def run_stage(stage_run: StageRun, names: dict[int, str], trainer_class: type | None = None) -> StageSummary:
    """Train one stage (resuming from its last.pt if interrupted) and write its summary.json."""
    if stage_run.done():
        return StageSummary.read(stage_run.folder)
    LOG.info(f"stage {stage_run.stage.name}: {stage_run.stage.epochs} epochs from {stage_run.start_weights}, "
             f"{len(stage_run.frozen)} frozen layers")
    trainer = _train(stage_run, trainer_class)
    saved_args = stage_run.folder / TRAIN_ARGS
    args = trainer.args if trainer else SimpleNamespace(**read_yaml(saved_args, "train arguments file"))
    missing = missing_stage_outputs(stage_run.folder)
    if missing:
        raise UserError(f"stage {stage_run.stage.name}: Ultralytics finished but left no "
                        f"{', '.join(map(str, missing))} (its output went elsewhere: see {LOG_FILE})")
    summary = StageSummary(
        name=stage_run.stage.name, start_weights=stage_run.start_weights, freeze=stage_run.freeze_spec,
        frozen_layers=len(stage_run.frozen), lr0=args.lr0, optimizer=args.optimizer,
        **timing_summary(read_epochs(stage_run.epochs_log)),
        **validation_summary(_validator_of(trainer, stage_run), names),
    )
    summary.write(stage_run.folder)
    return summary
