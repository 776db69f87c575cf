"""Distillation in a run: the stages that use the teacher.

One `distill:` section for every task: detect and segment distil through :mod:`pipeline.distill.trainers`, classify
through the soft-label trainer of :mod:`pipeline.distill.classify`. :func:`distill_stages` prepends the optional
``teacher`` stage (``teacher_train``) and gives each student stage what its method needs (a trainer class, or
Ultralytics' ``distill_model``).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from pipeline.datasets.resolve import Dataset
from pipeline.distill.classify import soft_label_trainer_class
from pipeline.distill.pseudo import pseudo_trainer_class
from pipeline.distill.teacher import TEACHER_STAGE, Teacher
from pipeline.distill.trainers import distill_trainer_class, native_train_args
from pipeline.recipe.schema import Recipe, Stage
from pipeline.recipe.stages import default_epochs
from pipeline.run_folder import PSEUDO, PSEUDO_DATA, stage_dir
from pipeline.train.args import stage_args
from pipeline.train.stages import StageRun


def teacher_stage_run(recipe: Recipe, dataset: Dataset, teacher: Teacher, run_dir: Path) -> StageRun:
    """Stage `teacher`: fine-tune the teacher on the run's data with train args `train` + `distill.teacher_train`."""
    own = dict(recipe.distill.teacher_train)
    epochs = own.pop("epochs", recipe.train.get("epochs", default_epochs()))
    stage = Stage(name=TEACHER_STAGE, epochs=epochs, train=own)
    args = stage_args(recipe, stage, len(dataset.names), run_dir, dataset.yaml_path, [], scale_lr=False)
    return StageRun(stage, "none", stage_dir(run_dir, stage.name), teacher.source, [], args)


def distill_stages(recipe: Recipe, dataset: Dataset, teacher: Teacher | None, run_dir: Path,
                   runs: list[StageRun]) -> list[tuple[StageRun, type | None]]:
    """The run's stages, each with its trainer class (None: Ultralytics' own): the `teacher` stage first when the
    recipe trains one, then the student stages distilled by the recipe's method; with `distill.unlabeled` the
    students train on the teacher-labelled frames too (:mod:`pipeline.distill.pseudo`).
    """
    cfg = recipe.distill
    if cfg is None or (cfg.method == "none" and not cfg.unlabeled):
        return [(sr, None) for sr in runs]
    plan: list[tuple[StageRun, type | None]] = []
    weights = teacher.weights
    if weights is None:
        teacher_run = teacher_stage_run(recipe, dataset, teacher, run_dir)
        plan.append((teacher_run, None))
        weights = teacher_run.best
    trainer = _student_trainer(recipe, weights)
    if cfg.method == "native":
        native = native_train_args(cfg, weights)
        runs = [replace(sr, train_args={**sr.train_args, **native}) for sr in runs]
    if cfg.unlabeled:
        folder = run_dir / PSEUDO
        trainer = pseudo_trainer_class(trainer or _ultralytics_trainer(recipe.task), folder, weights, cfg,
                                       [Path(p) for p in cfg.unlabeled], dataset)
        runs = [replace(sr, train_args={**sr.train_args, "data": str(folder / PSEUDO_DATA)}) for sr in runs]
    return plan + [(sr, trainer) for sr in runs]


def _student_trainer(recipe: Recipe, weights: Path) -> type | None:
    """The trainer class of the recipe's method (None: Ultralytics' own, for native and none)."""
    cfg = recipe.distill
    if cfg.method != "roadtune":
        return None
    if recipe.task == "classify":
        return soft_label_trainer_class(weights, cfg.temperature, cfg.alpha)
    return distill_trainer_class(recipe.task, cfg, weights)


def _ultralytics_trainer(task: str) -> type:
    """Ultralytics' own trainer class for a detect or segment student."""
    from pipeline.ultralytics_api import DetectionTrainer, SegmentationTrainer

    return SegmentationTrainer if task == "segment" else DetectionTrainer
