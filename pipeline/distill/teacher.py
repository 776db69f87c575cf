"""The teacher, before any work: resolve it (a checkpoint or a finished run folder) and check it against the
student and the method; check the `distill.unlabeled` sources.

Preflight calls :func:`prepare_teacher` and :func:`check_unlabeled` (problems are collected under
``distill.teacher`` and ``distill.unlabeled``); :mod:`pipeline.distill.plan` then plans the stages that use it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from pipeline.datasets.resolve import Dataset
from pipeline.distill.classify import check_classifier_teacher
from pipeline.distill.frames import resolve_unlabeled
from pipeline.distill.trainers import check_teacher_student
from pipeline.errors import UserError
from pipeline.recipe.models import build_model, resolve_model_file
from pipeline.recipe.schema import Recipe
from pipeline.records import Metrics
from pipeline.run_folder import METRICS

LOG = logging.getLogger("roadtune")
TEACHER_STAGE = "teacher"


@dataclass
class Teacher:
    """A resolved teacher: where it comes from, and the checkpoint to distil from (None: trained in the run)."""

    source: str
    weights: Path | None


def teacher_checkpoint(given: str, base: Path) -> str:
    """A checkpoint (name or path, offline-first), or a finished run folder's final model (its last stage's best.pt).

    A run folder is looked for as given (the working directory) first, then against the recipe's folder. A folder
    of runs (``runs/<name>``) stands for its newest finished run, so a recipe can name the teacher's recipe's runs.
    """
    candidates = list(dict.fromkeys([Path(given).expanduser().resolve(), (base / Path(given).expanduser()).resolve()]))
    folder = next((c for c in candidates if c.is_dir()), None)
    if folder is None:
        return resolve_model_file(given, base)
    finished = sorted(p.parent for p in folder.glob(f"*/{METRICS}"))
    if not (folder / METRICS).is_file() and finished:
        folder = finished[-1]  # run folders are named by their start time: the last one sorted is the newest
    LOG.info(f"distill.teacher {given}: the run folder {folder}")
    if not (folder / METRICS).is_file():
        raise UserError(f"{given} is a folder but not a finished run (no {METRICS}): finish it with "
                        f"`python -m pipeline.run --resume {folder}`, or give a checkpoint")
    best = Metrics.read(folder).final_weights(folder)
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
    cfg.unlabeled = [str(p) for p in resolve_unlabeled(cfg.unlabeled, base)]


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
