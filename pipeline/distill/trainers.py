"""Distillation trainers: Ultralytics' task trainers whose student also learns from a frozen teacher.

One pattern for every task: :class:`DistillTrainer` is mixed into Ultralytics' trainer of the task, and the task's
class says only which criterion distils (:meth:`DistillTrainer.distiller_for`):

- :class:`DetectDistillTrainer`, :class:`SegmentDistillTrainer` (method ``roadtune``):
  :class:`pipeline.distill.losses.RoadtuneLoss`, the student's own loss plus the head-level terms, which show in
  the progress line and ``results.csv`` like Ultralytics' own loss items;
- :class:`ClassifyDistillTrainer` (method ``roadtune``): :class:`pipeline.distill.classify.SoftLabelLoss`, the hard
  labels mixed with the teacher's softened class probabilities.

Ultralytics creates a trainer from its class and its train arguments alone (``YOLO.train(trainer=...)``, a resume),
so these are module-level classes and what they distil from is data: the stage folder's ``distill.json``
(``save_dir``; :func:`pipeline.recipe.distill.read_stage_config`), written when :mod:`pipeline.distill.plan`'s stage
starts. Importing this module imports Ultralytics: the plan imports it when it runs, after
:func:`pipeline.bootstrap.bootstrap`.

Hooks written for Ultralytics 8.4.190 (``engine/trainer.py``): ``set_model_attributes`` (model built and on its
device), ``build_optimizer`` (param groups come from ``self.model`` only) and the ``on_pretrain_routine_end``,
``on_train_epoch_start`` and ``on_model_save`` callbacks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from pipeline.checkpoints import load_model
from pipeline.distill.classify import SoftLabelLoss
from pipeline.distill.losses import Distiller, RoadtuneLoss
from pipeline.recipe.distill import DistillConfig, read_stage_config
from pipeline.run_folder import PROJECTOR
from pipeline.ultralytics_api import ClassificationTrainer, DetectionTrainer, SegmentationTrainer, unwrap_model


def _install_criterion(trainer: DistillTrainer) -> None:
    """on_pretrain_routine_end: make the distiller the student's criterion, beside the student's own loss.

    Only now: the EMA copy exists already (so it never holds the teacher) and the class weights are set.
    """
    model = unwrap_model(trainer.model)
    trainer.distiller.base = model.init_criterion()
    model.criterion = trainer.distiller


def _start_epoch(trainer: DistillTrainer) -> None:
    """on_train_epoch_start: tell the distiller where the epoch stands (epoch and batches per epoch)."""
    trainer.distiller.start_epoch(trainer.epoch, len(trainer.train_loader))


def _save_projector(trainer: DistillTrainer) -> None:
    """on_model_save: keep the projector beside last.pt so a resumed run continues with it."""
    if trainer.distiller.projector is not None:
        torch.save(trainer.distiller.projector.state_dict(), trainer.save_dir / PROJECTOR)


class DistillTrainer:
    """Mixed into an Ultralytics task trainer (before it in the bases): loads the teacher its stage folder's
    distill.json names and makes the task's distiller the student's criterion."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.distill: DistillConfig = read_stage_config(self.save_dir)
        self.distiller: Distiller | None = None
        self.add_callback("on_pretrain_routine_end", _install_criterion)
        self.add_callback("on_train_epoch_start", _start_epoch)
        self.add_callback("on_model_save", _save_projector)

    def distiller_for(self, student: nn.Module, teacher: nn.Module) -> Distiller:
        """The task's criterion distilling `teacher` (frozen, on the student's device) into `student`."""
        raise NotImplementedError(f"{type(self).__name__} names no distiller")

    def set_model_attributes(self) -> None:
        """Also load the frozen teacher and build the distiller, on the student's device."""
        super().set_model_attributes()
        teacher = load_model(Path(self.distill.teacher), device=self.device)
        self.distiller = self.distiller_for(unwrap_model(self.model), teacher)
        saved = self.save_dir / PROJECTOR
        if self.resume and self.distiller.projector is not None and saved.is_file():
            self.distiller.projector.load_state_dict(torch.load(saved, map_location=self.device, weights_only=True))

    def build_optimizer(self, model: nn.Module, *args: Any, **kwargs: Any) -> Any:
        """Ultralytics' optimizer plus one param group for the projector, which lives outside the student."""
        optimizer = super().build_optimizer(model, *args, **kwargs)
        if self.distiller.projector is not None:
            weights = next(g for g in optimizer.param_groups if g.get("param_group") == "weight")
            group = {k: v for k, v in weights.items() if k != "params"}  # same lr, decay and warmup as conv weights
            optimizer.add_param_group({**group, "params": list(self.distiller.projector.parameters())})
        return optimizer


class DetectDistillTrainer(DistillTrainer, DetectionTrainer):
    """A detect student distilled by :class:`RoadtuneLoss` (class scores, DFL boxes, neck features)."""

    def distiller_for(self, student: nn.Module, teacher: nn.Module) -> Distiller:
        return RoadtuneLoss(student, teacher, self.distill)


class SegmentDistillTrainer(DetectDistillTrainer, SegmentationTrainer):
    """A segment student: the detect terms plus masks (:class:`RoadtuneLoss` sees the prototypes); the bases order
    puts SegmentationTrainer before DetectionTrainer, its own base."""


class ClassifyDistillTrainer(DistillTrainer, ClassificationTrainer):
    """A classify student distilled by :class:`SoftLabelLoss` (temperature and alpha of the stage's config)."""

    def distiller_for(self, student: nn.Module, teacher: nn.Module) -> Distiller:
        return SoftLabelLoss(teacher, self.distill.temperature, self.distill.alpha)


TRAINERS: dict[str, type[DistillTrainer]] = {
    "detect": DetectDistillTrainer, "segment": SegmentDistillTrainer, "classify": ClassifyDistillTrainer}
