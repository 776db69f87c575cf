"""Soft-label distillation for classifiers (``task: classify``, ``distill.method: roadtune``): the Hinton recipe.

The student learns from the hard labels and from the teacher's temperature-softened class probabilities::

    loss = (1 - alpha) * CE(student, labels) + alpha * T^2 * KL(softmax(teacher / T) || softmax(student / T))

T^2 keeps the soft term's gradients on the scale of the hard term's whatever the temperature (Hinton et al., 2015).

:class:`pipeline.distill.trainers.ClassifyDistillTrainer` makes it the student's criterion (``BaseModel.loss`` calls
``self.criterion(preds, batch)`` in Ultralytics 8.4.190) once the EMA copy exists, so neither the EMA nor a saved
checkpoint ever holds the teacher (``save_model`` also drops ``criterion``): the saved student is a plain
Ultralytics classify checkpoint.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from pipeline.datasets.resolve import Dataset
from pipeline.distill.losses import Distiller
from pipeline.recipe.models import model_task


def hinton_kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """KL(teacher || student) between temperature-softened class distributions, batch mean, times T^2."""
    log_student = F.log_softmax(student_logits / temperature, dim=1)
    log_teacher = F.log_softmax(teacher_logits / temperature, dim=1)
    kl = F.kl_div(log_student, log_teacher, log_target=True, reduction="batchmean")
    return kl * temperature**2


def logits_of(preds: Any) -> torch.Tensor:
    """Class logits from a classifier's output: logits in training mode, (probabilities, logits) in eval mode."""
    return preds[1] if isinstance(preds, (list, tuple)) else preds


class SoftLabelLoss(Distiller):
    """The student's criterion: hard-label cross-entropy mixed with the teacher's soft labels.

    Loss items: ``loss`` is the hard-label cross-entropy, as Ultralytics' own classification loss logs it (so
    ``val/loss`` compares with plain runs), ``kd_kl`` the soft-label term before ``alpha``.
    """

    def __init__(self, teacher: nn.Module, temperature: float, alpha: float) -> None:
        self.teacher = teacher.eval().requires_grad_(False)
        self.temperature, self.alpha = temperature, alpha

    @torch.no_grad()
    def teacher_logits(self, img: torch.Tensor) -> torch.Tensor:
        """The frozen teacher's class logits for a batch, in float32."""
        return logits_of(self.teacher(img)).float()

    def __call__(self, preds: Any, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Ultralytics' criterion protocol: (loss, detached loss items by name)."""
        logits = logits_of(preds)
        hard = F.cross_entropy(logits, batch["cls"])
        soft = hinton_kl(logits, self.teacher_logits(batch["img"]), self.temperature)
        loss = (1 - self.alpha) * hard + self.alpha * soft
        return loss, {"loss": hard.detach(), "kd_kl": soft.detach()}


def check_classifier_teacher(teacher: nn.Module, dataset: Dataset) -> list[str]:
    """Disagreements between a teacher and the student's classes (task, count, names in order), one line each.

    The teacher's names may be the dataset's readable names or its class folder names (which Ultralytics gives a
    model trained on the folders).
    """
    if model_task(teacher) != "classify":
        return [f"task: the teacher is a {model_task(teacher)} model, the student a classify model"]
    names = dict(teacher.names)
    if len(names) != len(dataset.names):
        return [f"class count: the teacher has {len(names)} classes, the student's data {len(dataset.names)}"]
    folders = dict(enumerate(sorted(d.name for d in dataset.split_dirs("train")[0].iterdir() if d.is_dir())))
    if names in (dataset.names, folders):
        return []
    differ = [i for i in dataset.names if names.get(i) not in (dataset.names[i], folders.get(i))]
    shown = "; ".join(f"{i}: teacher {names.get(i)!r}, student {dataset.names[i]!r}" for i in differ[:3])
    return [f"class names: {len(differ)} of {len(names)} differ ({shown}{' ...' if len(differ) > 3 else ''})"]
