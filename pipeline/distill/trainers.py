"""Distillation from a teacher into the recipe's model: compatibility checks and the Ultralytics hooks.

- ``roadtune``: :func:`distill_trainer_class` subclasses Ultralytics' DetectionTrainer / SegmentationTrainer so the
  student's criterion is :class:`pipeline.distill.losses.RoadtuneLoss` (its own loss plus the distillation terms,
  which then show in the progress line and ``results.csv`` like Ultralytics' own loss items).
- ``native``: :func:`native_train_args` maps onto Ultralytics' ``distill_model`` train argument.

Hooks written for Ultralytics 8.4.190 (``engine/trainer.py``): ``set_model_attributes`` (model built and on its
device), ``build_optimizer`` (param groups come from ``self.model`` only) and the ``on_pretrain_routine_end``,
``on_train_epoch_start`` and ``on_model_save`` callbacks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from pipeline.checkpoints import load_model
from pipeline.distill.losses import RoadtuneLoss
from pipeline.recipe.distill import DistillConfig, DistillWeights
from pipeline.recipe.models import model_task
from pipeline.run_folder import PROJECTOR

__all__ = ["DistillConfig", "DistillWeights", "check_teacher_student", "distill_trainer_class", "native_train_args"]


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


def native_train_args(cfg: DistillConfig, teacher_path: Path) -> dict[str, Any]:
    """Ultralytics train arguments for `method: native` (its distill_model; `dis` stays `train.dis` or 6.0)."""
    return {"distill_model": str(teacher_path)}


def _install_criterion(trainer: Any) -> None:
    """on_pretrain_routine_end: make the distiller the student's criterion, wrapping the student's own loss.

    Only now: the EMA copy exists already (so it never holds the teacher) and the class weights are set.
    """
    from pipeline.ultralytics_api import unwrap_model

    model = unwrap_model(trainer.model)
    trainer.distiller.base = model.init_criterion()
    model.criterion = trainer.distiller


def _start_epoch(trainer: Any) -> None:
    """on_train_epoch_start: tell the distiller where the weight ramp stands (epoch and batches per epoch)."""
    trainer.distiller.start_epoch(trainer.epoch, len(trainer.train_loader))


def _save_projector(trainer: Any) -> None:
    """on_model_save: keep the projector beside last.pt so a resumed run continues with it."""
    import torch

    if trainer.distiller.projector is not None:
        torch.save(trainer.distiller.projector.state_dict(), trainer.save_dir / PROJECTOR)


class _RoadtuneTrainerMixin:
    """Mixed into an Ultralytics task trainer by :func:`distill_trainer_class`."""

    distill_cfg: DistillConfig
    teacher_path: Path

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.distiller: RoadtuneLoss | None = None
        self.add_callback("on_pretrain_routine_end", _install_criterion)
        self.add_callback("on_train_epoch_start", _start_epoch)
        self.add_callback("on_model_save", _save_projector)

    def set_model_attributes(self) -> None:
        """Also load the frozen teacher and build the projector, on the student's device."""
        import torch

        from pipeline.ultralytics_api import unwrap_model

        super().set_model_attributes()
        teacher = load_model(self.teacher_path, device=self.device)
        self.distiller = RoadtuneLoss(unwrap_model(self.model), teacher, self.distill_cfg)
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


def distill_trainer_class(task: str, cfg: DistillConfig, teacher_path: Path) -> type:
    """An Ultralytics trainer class for `task` that distils from the checkpoint `teacher_path` (method roadtune)."""
    from pipeline.ultralytics_api import DetectionTrainer, SegmentationTrainer

    base = SegmentationTrainer if task == "segment" else DetectionTrainer
    attrs = {"distill_cfg": cfg, "teacher_path": Path(teacher_path), "__module__": __name__}
    return type(f"Roadtune{base.__name__}", (_RoadtuneTrainerMixin, base), attrs)
