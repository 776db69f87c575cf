"""Distillation in a run: resolve and check the teacher before any work, and plan the stages that use it.

One `distill:` section for every task: detect and segment distil through :mod:`pipeline.distill.trainers`, classify
through the soft-label trainer of :mod:`pipeline.distill.classify`.

The runner calls :func:`prepare_teacher` and :func:`check_unlabeled` during preflight (problems are collected under
``distill.teacher`` and ``distill.unlabeled``) and :func:`distill_stages`, which prepends the optional ``teacher``
stage (``teacher_train``) and gives each student stage what its method needs (a trainer class, or Ultralytics'
``distill_model``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from torch import nn

from pipeline.datasets.resolve import Dataset
from pipeline.distill.classify import check_classifier_teacher, soft_label_trainer_class
from pipeline.distill.pseudo import pseudo_trainer_class, resolve_unlabeled
from pipeline.distill.trainers import check_teacher_student, distill_trainer_class, native_train_args
from pipeline.errors import UserError
from pipeline.recipe.models import build_model, resolve_model_file
from pipeline.recipe.schema import Recipe, Stage
from pipeline.run_folder import PSEUDO
from pipeline.train.stages import StageRun, default_epochs, managed_args

if TYPE_CHECKING:
    from pipeline.recipe.preflight import Prepared

LOG = logging.getLogger("roadtune")
TEACHER_STAGE = "teacher"


@dataclass
class Teacher:
    """A resolved teacher: where it comes from, and the checkpoint to distil from (None: trained in the run)."""

    source: str
    weights: Path | None


def teacher_checkpoint(given: str, base: Path) -> str:
    """A checkpoint (name or path, offline-first), or a finished run folder's final model (its last stage's best.pt).

    A run folder is looked for as given (the working directory) first, then against the recipe's folder.
    """
    candidates = list(dict.fromkeys([Path(given).expanduser().resolve(), (base / Path(given).expanduser()).resolve()]))
    folder = next((c for c in candidates if c.is_dir()), None)
    if folder is None:
        return resolve_model_file(given, base)
    LOG.info(f"distill.teacher {given}: the run folder {folder}")
    metrics = folder / "metrics.json"
    if not metrics.is_file():
        raise UserError(f"{given} is a folder but not a finished run (no metrics.json): finish it with "
                        f"`python -m pipeline.run --resume {folder}`, or give a checkpoint")
    final = json.loads(metrics.read_text())["stages"][-1]["name"]
    best = folder / "stages" / final / "weights" / "best.pt"
    if not best.is_file():
        raise UserError(f"run folder {given} has no {best.relative_to(folder)}")
    return str(best.resolve())


def prepare_teacher(recipe: Recipe, base: Path, student: nn.Module, dataset: Dataset) -> Teacher:
    """Resolve and build the teacher and check it against the student (trained on `dataset`); one UserError with
    every problem, each naming both values.
    """
    cfg = recipe.distill
    source = teacher_checkpoint(cfg.teacher, base)
    trained_here = cfg.teacher_train is not None
    if source.endswith((".yaml", ".yml")) and not trained_here:
        raise UserError(f"{cfg.teacher} is an architecture without trained weights: give a checkpoint or a run "
                        "folder, or add distill.teacher_train to train it on this data first")
    teacher = build_model(source, len(dataset.names) if trained_here else None)
    if trained_here:
        teacher.names = dataset.names  # the teacher stage trains it on this dataset
    problems = _method_problems(recipe, student)
    if recipe.task == "classify":
        problems += check_classifier_teacher(teacher, dataset)
    else:
        problems += check_teacher_student(teacher, student, dataset.names)
    if trained_here and TEACHER_STAGE in [s.name for s in recipe.stages or []]:
        problems.append(f"stage name `{TEACHER_STAGE}` is reserved for distill.teacher_train: rename that stage")
    if problems:
        raise UserError(f"teacher {Path(source).name} does not fit the student", problems)
    return Teacher(source=source, weights=None if trained_here else Path(source))


def check_unlabeled(recipe: Recipe, base: Path) -> None:
    """Preflight of `distill.unlabeled`: every source exists (one UserError listing each missing one), the task has
    boxes to label; the paths become absolute in place, so the run folder's recipe.yaml reruns from anywhere.
    """
    cfg = recipe.distill
    if not cfg.unlabeled:
        return
    if recipe.task == "classify":
        raise UserError("teacher-labelled frames are for detect and segment students: remove it for task classify")
    cfg.unlabeled = [str(p) for p in resolve_unlabeled(cfg, base)]


def _method_problems(recipe: Recipe, student: nn.Module) -> list[str]:
    """Methods that cannot distil this student: native needs a Detect head, roadtune's box term DFL bins."""
    method = recipe.distill.method
    if recipe.task == "classify" and method == "native":
        return ["method native is Ultralytics' distill_model, which distils Detect heads only: use method: roadtune "
                "(soft labels) for task classify"]
    if recipe.task != "classify" and method == "roadtune" and getattr(student.model[-1], "reg_max", 1) <= 1:
        return ["method roadtune distils DFL box distributions (reg_max > 1: YOLOv8, YOLO11, YOLOv5u); "
                "this student has reg_max 1: use method: native"]
    return []


def teacher_stage_run(prepared: Prepared, run_dir: Path) -> StageRun:
    """Stage `teacher`: fine-tune the teacher on the run's data with train args `train` + `distill.teacher_train`."""
    train = {**prepared.recipe.train, **prepared.recipe.distill.teacher_train}
    stage = Stage(name=TEACHER_STAGE, epochs=train.pop("epochs", default_epochs()))
    args = {**train, **managed_args(run_dir, stage, prepared.dataset.yaml_path, [])}
    return StageRun(stage, "none", run_dir / "stages" / stage.name, prepared.teacher.source, [], args)


def distill_stages(prepared: Prepared, run_dir: Path, runs: list[StageRun]) -> list[tuple[StageRun, type | None]]:
    """The run's stages, each with its trainer class (None: Ultralytics' own): the `teacher` stage first when the
    recipe trains one, then the student stages distilled by the recipe's method; with `distill.unlabeled` the
    students train on the teacher-labelled frames too (:mod:`pipeline.distill.pseudo`).
    """
    cfg = prepared.recipe.distill
    if cfg is None or (cfg.method == "none" and not cfg.unlabeled):
        return [(sr, None) for sr in runs]
    plan: list[tuple[StageRun, type | None]] = []
    weights = prepared.teacher.weights
    if weights is None:
        teacher_run = teacher_stage_run(prepared, run_dir)
        plan.append((teacher_run, None))
        weights = teacher_run.best
    trainer = _student_trainer(prepared, weights)
    if cfg.method == "native":
        native = native_train_args(cfg, weights)
        runs = [replace(sr, train_args={**sr.train_args, **native}) for sr in runs]
    if cfg.unlabeled:
        folder = run_dir / PSEUDO
        trainer = pseudo_trainer_class(trainer or _ultralytics_trainer(prepared.recipe.task), folder, weights, cfg,
                                       [Path(p) for p in cfg.unlabeled], prepared.dataset)
        runs = [replace(sr, train_args={**sr.train_args, "data": str(folder / "data.yaml")}) for sr in runs]
    return plan + [(sr, trainer) for sr in runs]


def _student_trainer(prepared: Prepared, weights: Path) -> type | None:
    """The trainer class of the recipe's method (None: Ultralytics' own, for native and none)."""
    cfg = prepared.recipe.distill
    if cfg.method != "roadtune":
        return None
    if prepared.recipe.task == "classify":
        return soft_label_trainer_class(weights, cfg.temperature, cfg.alpha)
    return distill_trainer_class(prepared.recipe.task, cfg, weights)


def _ultralytics_trainer(task: str) -> type:
    """Ultralytics' own trainer class for a detect or segment student."""
    from ultralytics.models.yolo.detect import DetectionTrainer
    from ultralytics.models.yolo.segment import SegmentationTrainer

    return SegmentationTrainer if task == "segment" else DetectionTrainer
