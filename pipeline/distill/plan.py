"""Distillation in a run: the steps that use the teacher, in the order the run takes them.

:func:`distill_plan` turns the recipe's stages into steps (one `distill:` section for every task):

1. stage ``teacher`` when ``distill.teacher_train`` trains the teacher on the run's data (Ultralytics' own trainer);
2. with ``distill.unlabeled``, :class:`TeacherLabels`: the teacher labels the frames into ``<run>/pseudo``
   (:mod:`pipeline.distill.pseudo`), after the stage that trains it and before any student;
3. the student stages, each a :class:`TrainStep`: method ``roadtune`` with the task's trainer of
   :mod:`pipeline.distill.trainers`, which reads the ``distill.json`` the stage folder gets when it starts (teacher
   checkpoint, weights, temperature); ``native`` with Ultralytics' ``distill_model``; ``none`` plain. With
   ``unlabeled`` they train on ``pseudo/data.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pipeline.datasets.resolve import Dataset
from pipeline.distill.pseudo import build_pseudo_set
from pipeline.distill.teacher import TEACHER_STAGE, Teacher
from pipeline.recipe.distill import DistillConfig, stage_config_text
from pipeline.recipe.schema import Recipe, Stage
from pipeline.recipe.stages import default_epochs
from pipeline.run_folder import DISTILL_CONFIG, PSEUDO, PSEUDO_DATA, stage_dir
from pipeline.train.args import stage_args
from pipeline.train.stages import StageRun


@dataclass
class TrainStep:
    """One stage trained by `trainer` (None: Ultralytics' own trainer of the task)."""

    stage: StageRun
    trainer: type | None = None


@dataclass
class TeacherLabels:
    """The teacher labels `cfg.unlabeled` into `folder`, the data of the student stages; a complete labelling is
    kept (:func:`pipeline.distill.pseudo.build_pseudo_set`)."""

    folder: Path
    teacher: Path
    cfg: DistillConfig
    dataset: Dataset
    imgsz: Any  # the students' image size: a teacher that records no size of its own labels at it

    def run(self) -> dict[str, Any]:
        """Label the frames (or find them labelled); their counts."""
        sources = [Path(p) for p in self.cfg.unlabeled]
        return build_pseudo_set(self.folder, self.teacher, self.cfg, sources, self.dataset, self.imgsz)


Step = TrainStep | TeacherLabels


def teacher_stage_run(recipe: Recipe, dataset: Dataset, teacher: Teacher, run_dir: Path) -> StageRun:
    """Stage `teacher`: fine-tune the teacher on the run's data with train args `train` + `distill.teacher_train`."""
    own = dict(recipe.distill.teacher_train)
    epochs = own.pop("epochs", recipe.train.get("epochs", default_epochs()))
    stage = Stage(name=TEACHER_STAGE, epochs=epochs, train=own)
    args = stage_args(recipe, stage, len(dataset.names), run_dir, dataset.yaml_path, [], scale_lr=False)
    return StageRun(stage, "none", stage_dir(run_dir, stage.name), teacher.source, [], args, task=recipe.task)


def distill_plan(recipe: Recipe, dataset: Dataset, teacher: Teacher | None, run_dir: Path,
                 runs: list[StageRun]) -> list[Step]:
    """The run's steps: `runs` (the recipe's stages) as students of the recipe's teacher, after the steps that make
    the teacher and its labels; `runs` unchanged without distillation."""
    cfg = recipe.distill
    if cfg is None or (cfg.method == "none" and not cfg.unlabeled):
        return [TrainStep(sr) for sr in runs]
    plan: list[Step] = []
    weights = teacher.weights
    if weights is None:
        teacher_run = teacher_stage_run(recipe, dataset, teacher, run_dir)
        plan.append(TrainStep(teacher_run))
        weights = teacher_run.best
    data = None
    if cfg.unlabeled:
        imgsz = runs[0].train_args.get("imgsz", _default_imgsz())
        plan.append(TeacherLabels(run_dir / PSEUDO, weights, cfg, dataset, imgsz))
        data = run_dir / PSEUDO / PSEUDO_DATA
    trainer = _student_trainer(recipe.task, cfg.method)
    return plan + [TrainStep(student_stage(sr, cfg, weights, data), trainer) for sr in runs]


def student_stage(run: StageRun, cfg: DistillConfig, teacher: Path, data: Path | None = None) -> StageRun:
    """A stage of the recipe as a student of `teacher` by `cfg.method`, trained on `data` when given."""
    args, files = dict(run.train_args), dict(run.files)
    if cfg.method == "native":
        args["distill_model"] = str(teacher)  # `dis` stays train.dis or Ultralytics' default
    if cfg.method == "roadtune":
        files[DISTILL_CONFIG] = stage_config_text(cfg, teacher)
    if data is not None:
        args["data"] = str(data)
    return replace(run, train_args=args, files=files)


def _student_trainer(task: str, method: str) -> type | None:
    """The trainer class of the method (None: Ultralytics' own, for native and none)."""
    if method != "roadtune":
        return None
    from pipeline.distill.trainers import TRAINERS  # imports Ultralytics: only once the run has bootstrapped

    return TRAINERS[task]


def _default_imgsz() -> int:
    """Ultralytics' own default image size (cfg/default.yaml), for a train section that sets none."""
    from pipeline.ultralytics_api import DEFAULT_CFG_DICT

    return int(DEFAULT_CFG_DICT["imgsz"])
