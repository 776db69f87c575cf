"""The resolved run: a recipe checked against its files, the model and this machine (paths, task, freeze depth,
labels, devices, export packages), every problem collected before any work; :class:`Prepared` is what the run
loop (:mod:`pipeline.execute.loop`) runs."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from pipeline.datasets.resolve import Dataset, has_segment_labels, resolve_dataset
from pipeline.distill.teacher import Teacher, check_unlabeled, one_device_problems, prepare_teacher
from pipeline.errors import UserError
from pipeline.export.setup import setup_problems as export_setup_problems
from pipeline.recipe.freeze import FreezePlan, freeze_plan, resolve_freeze
from pipeline.recipe.models import (
    Transfer,
    build_model,
    model_task,
    read_state_dict,
    resolve_model_file,
    transfer_weights,
)
from pipeline.recipe.schema import Recipe
from pipeline.recipe.stages import plan_stages, stage_freeze

LOG = logging.getLogger("roadtune")


@dataclass
class Prepared:
    """A validated recipe with everything resolved: files, dataset, model, and the freeze plan of each stage."""

    recipe: Recipe
    model_source: str
    dataset_source: Path
    dataset: Dataset
    model: nn.Module
    plans: dict[str, FreezePlan]
    transfer: Transfer | None = None
    weights_path: Path | None = None
    teacher: Teacher | None = None
    video_source: Path | None = None

    def resolved_recipe(self) -> dict[str, Any]:
        """The recipe with absolute paths, as written to the run folder (re-runnable from anywhere)."""
        raw = self.recipe.model_dump(mode="json", exclude_none=True)
        raw["model"] = self.model_source
        raw["data"] = str(self.dataset_source)
        if self.weights_path:
            raw["weights"] = str(self.weights_path)
        if self.teacher:
            raw["distill"]["teacher"] = self.teacher.source
        if self.video_source:
            raw["video"]["source"] = str(self.video_source)
        return raw


def _collect(problems: list[str], key: str, fn, *args):
    """Run one check; a UserError becomes a `key: message` problem line and the result is None."""
    try:
        return fn(*args)
    except UserError as exc:
        problems.append(f"{key}: {exc}" + "".join(f"; {p}" for p in exc.problems))
        return None


def _load_transfer(path: Path, model: nn.Module) -> Transfer:
    transfer = transfer_weights(model, read_state_dict(path))
    if transfer.fraction < 0.5:
        raise UserError(
            f"only {transfer.transferred} of {transfer.total} tensors of {path.name} match the model by name and "
            "shape (less than half): is it a checkpoint of another architecture?"
        )
    return transfer


def _task_problem(recipe: Recipe, model: nn.Module, source: str) -> str | None:
    found = model_task(model)
    if found != recipe.task:
        suffix = {"segment": "-seg", "classify": "-cls"}.get(recipe.task, "")
        return (f"model: {Path(source).name} is a {found} model but task is {recipe.task} "
                f"(set task: {found}, or use a {recipe.task} model, e.g. yolov8n{suffix}.pt)")
    return None


def _data_problem(recipe: Recipe, dataset: Dataset, data_path: Path) -> str | None:
    """The dataset cannot feed the task: classify needs an image-folder root, segment needs polygon labels."""
    if recipe.task == "classify" and not dataset.image_folder:
        return (f"data: task classify reads an image-folder root (train/<class>/*, val/<class>/*), not the dataset "
                f"YAML {data_path.name} (give the folder, or use task: detect)")
    if recipe.task != "classify" and dataset.image_folder:
        return (f"data: {data_path.name} is an image-folder classification dataset; task {recipe.task} needs a "
                "dataset YAML (use task: classify with a -cls model)")
    if recipe.task == "segment" and not has_segment_labels(dataset):
        return (f"data: {data_path.name} has no polygon labels (class x1 y1 x2 y2 x3 y3 ...) in its train "
                "split, which task: segment needs (use task: detect, or a dataset with instance polygons)")
    return None


def _freeze_plans(recipe: Recipe, model: nn.Module, problems: list[str]) -> dict[str, FreezePlan]:
    plans = {}
    stages = plan_stages(recipe)
    for i, stage in enumerate(stages):
        spec = stage_freeze(recipe.freeze, stage.freeze)
        key = f"stages.{i}.freeze" if stage.freeze is not None else "freeze"
        indices = _collect(problems, key, resolve_freeze, spec, model)
        plan = _collect(problems, key, freeze_plan, model, indices) if indices is not None else None
        if plan is not None:
            plans[stage.name] = plan
    return plans


def dataset_check_problems(data_path: Path, task: str) -> list[str]:
    """The dataset check (pipeline.datasets check) as problem lines: errors stop the run, warnings are shown.
    Unchanged files since a clean check are not scanned again (pipeline.datasets.check_cache)."""
    from pipeline.datasets.check_cache import checked

    errors, warnings = checked(data_path, task)
    for warning in warnings:
        LOG.warning(f"data: {warning}")
    return [f"data: {error}" for error in errors]


def device_problems(recipe: Recipe) -> list[str]:
    """A CUDA device asked for (train.device / stages.N.train.device) that this machine does not have."""
    import torch

    problems = []
    sections = [("train", recipe.train)] + [(f"stages.{i}.train", s.train) for i, s in enumerate(recipe.stages or [])]
    for where, train in sections:
        device = str(train.get("device") if train.get("device") is not None else "").lower().replace("cuda:", "")
        wanted = [int(d) for d in device.split(",") if d.strip().isdigit()]
        if wanted and max(wanted) >= torch.cuda.device_count():
            have = f"{torch.cuda.device_count()} GPU(s)" if torch.cuda.is_available() else "no GPU"
            problems.append(f"{where}.device: GPU {max(wanted)} asked for, but this machine has {have} "
                            "(use device: cpu, or leave it out to use what is there)")
    return problems


def prepare(recipe: Recipe, base: Path, problems: list[str] | None = None) -> Prepared:
    """Resolve and check everything a run needs; raise one UserError listing every problem (with `problems`
    found earlier, e.g. by the schema, so that one round shows them all).
    """
    problems = list(problems or []) + device_problems(recipe)
    source = _collect(problems, "model", resolve_model_file, recipe.model, base)
    data_path = (base / recipe.data).resolve()
    dataset = _collect(problems, "data", resolve_dataset, data_path)
    weights_path = None
    if recipe.weights:
        weights_path = _collect(problems, "weights", resolve_model_file, recipe.weights, base)
        weights_path = Path(weights_path) if weights_path else None
    model = _collect(problems, "model", build_model, source, len(dataset.names)) if source and dataset else None
    transfer, plans, teacher = None, {}, None
    if model is not None:
        task_problem = _task_problem(recipe, model, source)
        problems += [task_problem] if task_problem else []
        if weights_path:
            transfer = _collect(problems, "weights", _load_transfer, weights_path, model)
        plans = _freeze_plans(recipe, model, problems)
        if recipe.distill:
            teacher = _collect(problems, "distill.teacher", prepare_teacher, recipe, base, model, dataset)
            _collect(problems, "distill.unlabeled", check_unlabeled, recipe, base)
            problems += one_device_problems(recipe)
    video_source = (base / recipe.video.source).resolve() if recipe.video else None
    if video_source and not video_source.is_file():
        problems.append(f"video.source: video file not found: {video_source}")
    if recipe.video and recipe.task == "classify":
        problems.append("video: the video demo draws boxes and masks; a classify model has none (remove `video`)")
    if recipe.export:
        problems += [f"export: {p}" for p in export_setup_problems(recipe.export, torch.cuda.is_available())]
    data_problem = _data_problem(recipe, dataset, data_path) if dataset else None
    problems += [data_problem] if data_problem else []
    if dataset and not problems:
        problems += dataset_check_problems(data_path, recipe.task)
    if problems:
        raise UserError(f"invalid recipe {recipe.name} ({len(problems)} problem{'s' * (len(problems) != 1)})", problems)
    return Prepared(recipe, source, data_path, dataset, model, plans, transfer, weights_path, teacher,
                    video_source)
