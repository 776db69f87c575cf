"""The run loop: record recipe and environment in the run folder, run the stages (train/, with distill/'s
trainers), the video demo and the exports, then write metrics.json.

The folder's layout and its lock live in :mod:`pipeline.run_folder`.
"""

from __future__ import annotations

import logging
import os
import platform
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from pipeline import __version__
from pipeline.datasets.augment import build_augmentations
from pipeline.distill.plan import TeacherLabels, TrainStep, distill_plan
from pipeline.execute.prepare import Prepared
from pipeline.recipe.models import save_checkpoint
from pipeline.recipe.stages import plan_stages, stage_freeze
from pipeline.records import Environment, Metrics, PseudoCounts, StageSummary
from pipeline.run_folder import (
    INIT_WEIGHTS,
    LOG_FILE,
    PSEUDO,
    RECIPE,
    VIDEO,
    hold,
    is_finished,
    refuse_finished,
    stage_dir,
    write_atomic,
)
from pipeline.train.args import stage_args
from pipeline.train.metrics import read_epochs, timing_summary
from pipeline.train.stages import StageRun, run_stage

LOG = logging.getLogger("roadtune")
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")  # Ultralytics colours its console lines; log.txt is plain text


class _PlainFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return ANSI.sub("", super().format(record))


def environment() -> Environment:
    """Versions, git commit and hardware, recorded in env.json so every figure can be traced."""
    import torch
    import ultralytics

    cuda = torch.cuda.is_available()
    return Environment(
        python=platform.python_version(), platform=platform.platform(), roadtune=__version__,
        torch=torch.__version__, ultralytics=ultralytics.__version__, git_commit=_git_commit(),
        device=torch.cuda.get_device_name(0) if cuda else "cpu", device_kind="cuda" if cuda else "cpu",
        gpus=[torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
        cpu=platform.processor() or platform.machine(), cpu_count=os.cpu_count(), argv=sys.argv,
    )


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                             text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def attach_log(run_dir: Path) -> logging.Handler:
    """Copy roadtune's and Ultralytics' log lines into run_dir/log.txt (appending, so a resume adds to it)."""
    handler = logging.FileHandler(run_dir / LOG_FILE, encoding="utf-8")
    handler.setFormatter(_PlainFormatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    for name in ("roadtune", "ultralytics"):
        logging.getLogger(name).addHandler(handler)
    return handler


def start_run(prepared: Prepared, run_dir: Path) -> Metrics:
    """Record the resolved recipe and environment in a new (or a sweep's prepared) run folder, then execute it.

    A finished run is read-only: starting into it is an error. An interrupted one keeps its first env.json.
    """
    with hold(run_dir):
        refuse_finished(run_dir)
        write_atomic(run_dir / RECIPE, yaml.safe_dump(prepared.resolved_recipe(), sort_keys=False))
        if not Environment.path(run_dir).is_file():
            environment().write(run_dir)
        return _execute(prepared, run_dir)


def stage_runs(prepared: Prepared, run_dir: Path) -> list[StageRun]:
    """The stages of the run, each starting from the previous one's last.pt."""
    recipe = prepared.recipe
    stages = plan_stages(recipe)
    start = str(run_dir / INIT_WEIGHTS) if prepared.transfer else prepared.model_source
    extra = {"augmentations": build_augmentations(recipe.augment)} if recipe.augment else {}
    runs = []
    for stage in stages:
        frozen = prepared.plans[stage.name].frozen_layers
        args = stage_args(recipe, stage, len(prepared.dataset.names), run_dir, prepared.dataset.yaml_path, frozen)
        spec = stage_freeze(recipe.freeze, stage.freeze)
        runs.append(StageRun(stage, spec, stage_dir(run_dir, stage.name), start, frozen, {**args, **extra},
                             task=recipe.task, per_image_epochs=recipe.per_image == "epochs"))
        start = str(runs[-1].last)
    return runs


def write_init_weights(prepared: Prepared, run_dir: Path) -> bool:
    """The first stage's start (stage_runs) when the recipe has `weights:`: the model with the transferred tensors
    as init.pt, written once; True when written now."""
    if not prepared.transfer or (run_dir / INIT_WEIGHTS).is_file():
        return False
    save_checkpoint(prepared.model, run_dir / INIT_WEIGHTS, prepared.dataset.names)
    return True


def execute(prepared: Prepared, run_dir: Path) -> Metrics:
    """Run every unfinished stage (resuming an interrupted one) and write metrics.json, holding the run's lock."""
    with hold(run_dir):
        return _execute(prepared, run_dir)


def _execute(prepared: Prepared, run_dir: Path) -> Metrics:
    if is_finished(run_dir):
        return Metrics.read(run_dir)
    handler = attach_log(run_dir)
    try:
        if write_init_weights(prepared, run_dir):
            LOG.info(f"weights: {prepared.transfer.transferred}/{prepared.transfer.total} tensors transferred from "
                     f"{prepared.weights_path}; freshly initialised layers: {prepared.transfer.fresh_layers}")
        plan = distill_plan(prepared.recipe, prepared.dataset, prepared.teacher, run_dir,
                            stage_runs(prepared, run_dir))
        runs = [step.stage for step in plan if isinstance(step, TrainStep)]
        summaries = []
        for step in plan:  # the teacher labels the unlabeled frames after its own stage, before the students
            if isinstance(step, TeacherLabels):
                step.run()
            else:
                summaries.append(run_stage(step.stage, prepared.dataset.names, step.trainer))
        totals = timing_summary([e for sr in runs for e in read_epochs(sr.epochs_log)])
        metrics = final_metrics(prepared, summaries, totals)
        if PseudoCounts.path(run_dir / PSEUDO).is_file():  # what the teacher labelled in distill.unlabeled
            metrics.teacher_labels = PseudoCounts.read(run_dir / PSEUDO)
        if prepared.video_source:  # before metrics.json, so an interrupted demo is redone on resume
            from pipeline.video.run import run_video

            run_video(runs[-1].best, prepared.video_source, run_dir / VIDEO, prepared.recipe.video)
        if prepared.recipe.export:  # also before metrics.json; a format exported before a resume is kept
            from pipeline.export.run import export_final_weights

            export_final_weights(prepared.recipe, prepared.dataset.yaml_path, run_dir, runs[-1].best)
        metrics.write(run_dir)
        LOG.info(f"run finished: {run_dir} ({metrics.headline()})")
        return metrics
    finally:
        for name in ("roadtune", "ultralytics"):
            logging.getLogger(name).removeHandler(handler)
        handler.close()


def final_metrics(prepared: Prepared, summaries: list[StageSummary], totals: dict[str, Any]) -> Metrics:
    """metrics.json: the final model's validation figures, totals over stages, parameter counts, per-stage figures."""
    last = summaries[-1]
    plan = prepared.plans[last.name]
    metrics = Metrics(**{**last.figures(), **totals}, frozen_layers=len(plan.frozen_layers),
                      params_trainable=plan.params_trainable, params_frozen=plan.params_frozen,
                      params_total=plan.params_total, stages=summaries)
    if prepared.transfer:
        metrics.weights_transferred, metrics.weights_total = prepared.transfer.transferred, prepared.transfer.total
    return metrics
