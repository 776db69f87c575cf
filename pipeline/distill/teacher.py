"""The teacher, before any work: resolve it (a checkpoint or a finished run folder) and check it against the
student and the method; check the `distill.unlabeled` sources.

Preflight calls :func:`prepare_teacher`, :func:`check_unlabeled` (problems are collected under ``distill.teacher``
and ``distill.unlabeled``) and :func:`one_device_problems`; :mod:`pipeline.distill.plan` then plans the steps that
use the teacher.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from pipeline.datasets.resolve import Dataset
from pipeline.distill.classify import check_classifier_teacher
from pipeline.distill.frames import resolve_unlabeled
from pipeline.errors import UserError
from pipeline.recipe.models import build_model, model_task, resolve_model_file
from pipeline.recipe.schema import Recipe
from pipeline.recipe.stages import plan_stages
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


def _head_facts(model: nn.Module) -> dict[str, Any]:
    head = model.model[-1]
    return {"task": model_task(model), "nc": int(head.nc), "strides": [int(s) for s in model.stride.tolist()],
            "reg_max": int(getattr(head, "reg_max", 0))}


def check_teacher_student(teacher: nn.Module, student: nn.Module, names: dict[int, str] | None = None) -> list[str]:
    """Disagreements between teacher and student (task, class count and names, strides, reg_max), one line each.

    `names` are the classes the student will be trained on (default: the student's own names).
    """
    t, s = _head_facts(teacher), _head_facts(student)
    problems = []
    if t["task"] != s["task"]:
        problems.append(f"task: the teacher is a {t['task']} model, the student a {s['task']} model")
    if t["nc"] != s["nc"]:
        problems.append(f"class count: the teacher has {t['nc']} classes, the student {s['nc']}")
    else:
        t_names, s_names = dict(teacher.names), dict(student.names if names is None else names)
        if t_names != s_names:
            problems.append(f"class names: the teacher has {t_names}, the student {s_names}")
    if t["strides"] != s["strides"]:
        problems.append(f"strides: the teacher has {t['strides']}, the student {s['strides']}")
    if t["reg_max"] != s["reg_max"]:
        problems.append(f"reg_max: the teacher has {t['reg_max']}, the student {s['reg_max']}")
    return problems


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


def _device_count(device: Any) -> int:
    """How many devices a train `device` value names: `0,1` and `[0, 1]` two (Ultralytics' multi-GPU DDP)."""
    if isinstance(device, (list, tuple)):
        return len(device)
    return max(1, len([d for d in str(device if device is not None else "").split(",") if d.strip()]))


def one_device_problems(recipe: Recipe) -> list[str]:
    """Student stages that would distil on several devices: refused, one line each.

    Multi-GPU training (Ultralytics DDP, 8.4.190) runs each device in a worker process that re-creates the trainer,
    removes the stage folder first (utils/dist.py generate_ddp_command) and needs CUDA; distillation on several
    devices is not tested here, so it is refused before any work. The teacher stage and `method: none` train as
    plain Ultralytics runs and may use several.
    """
    if recipe.distill.method == "none":
        return []
    problems = []
    for i, stage in enumerate(plan_stages(recipe)):
        device = stage.train.get("device", recipe.train.get("device"))
        if _device_count(device) > 1:
            key = f"stages.{i}.train" if "device" in stage.train else "train"
            problems.append(f"{key}.device: distillation (method {recipe.distill.method}) trains on one device, "
                            f"but stage {stage.name} asks for {device!r}: give one device (e.g. device: 0)")
    return problems
