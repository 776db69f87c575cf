"""Method `roadtune`: dense head-level distillation terms for anchor-free YOLO heads (YOLOv8, YOLO11, YOLOv5u).

Written against the head outputs of Ultralytics 8.4.190 (`nn/modules/head.py`): in training mode a Detect head
returns ``{"boxes": (B, 4*reg_max, A), "scores": (B, nc, A), "feats": [P3, P4, P5]}``, a Segment head adds
``"mask_coefficient": (B, nm, A)`` and ``"proto": (B, nm, H, W)``; in eval mode the same dict is the second item of
the output tuple. Teacher and student see the same augmented batch, so their anchors line up one to one.

Every term is a divergence (0 when the student matches the teacher), averaged over anchors weighted by the
teacher's confidence (its highest class probability), so the many background anchors do not dominate.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from pipeline.recipe.distill import DistillConfig

MASK_TOPK = 32  # anchors per image whose masks are distilled: the teacher's most confident ones


def head_outputs(preds: Any) -> dict[str, Any]:
    """The raw head dict of a model's output in training (dict) or eval ((y, dict)) mode."""
    if isinstance(preds, tuple):
        preds = preds[1]
    return preds.get("one2many", preds)  # end-to-end heads: the dense one-to-many branch


def binary_kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Elementwise KL between the teacher's and the student's Bernoulli (sigmoid) probabilities, softened."""
    target = (teacher_logits / temperature).sigmoid()
    cross = F.binary_cross_entropy_with_logits(student_logits / temperature, target, reduction="none")
    entropy = F.binary_cross_entropy_with_logits(teacher_logits / temperature, target, reduction="none")
    return cross - entropy  # BCE minus the target's entropy: the divergence itself, 0 at a perfect match


def weighted_mean(values: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Mean of per-anchor `values` (B, A) weighted by `weight` (B, A)."""
    return (values * weight).sum() / weight.sum().clamp(min=1e-9)


def soft_label_term(student: dict, teacher: dict, weight: torch.Tensor, temperature: float) -> torch.Tensor:
    """Class scores: the teacher's softened per-anchor probabilities as targets for the student's."""
    kl = binary_kl(student["scores"], teacher["scores"], temperature).sum(1)  # (B, A): summed over classes
    return weighted_mean(kl, weight) * temperature**2  # T^2 keeps gradients comparable across temperatures


def box_term(student: dict, teacher: dict, weight: torch.Tensor, temperature: float) -> torch.Tensor:
    """Localization distillation: KL between the teacher's and student's DFL distributions of each box side."""
    b, c, a = student["boxes"].shape
    shape = (b, 4, c // 4, a)  # (batch, sides, reg_max bins, anchors), the layout v8DetectionLoss decodes
    log_s = F.log_softmax(student["boxes"].view(shape) / temperature, dim=2)
    log_t = F.log_softmax(teacher["boxes"].view(shape) / temperature, dim=2)
    kl = (log_t.exp() * (log_t - log_s)).sum(2).mean(1)  # (B, A): summed over bins, averaged over sides
    return weighted_mean(kl, weight) * temperature**2


def standardise(x: torch.Tensor) -> torch.Tensor:
    """Per sample and channel: zero mean and unit variance over the positions. The tiny epsilon (not instance_norm's
    1e-5) keeps it scale-free for teachers whose feature maps vary little in absolute terms."""
    mean, var = x.mean((2, 3), keepdim=True), x.var((2, 3), keepdim=True, unbiased=False)
    return (x - mean) * torch.rsqrt(var + 1e-12)


def feature_term(student: dict, teacher: dict, projector: nn.ModuleList) -> torch.Tensor:
    """Neck features: student maps projected to the teacher's channels; both normalised per channel (as PKD)."""
    losses = [
        F.mse_loss(standardise(proj(s)), standardise(t))
        for proj, s, t in zip(projector, student["feats"], teacher["feats"])
    ]
    return torch.stack(losses).mean()


def mask_term(student: dict, teacher: dict, weight: torch.Tensor, temperature: float) -> torch.Tensor:
    """Segment: masks assembled from each model's own prototypes and coefficients, on the teacher's top anchors.

    Comparing assembled masks (not prototypes directly) leaves the student free to choose its own prototype basis.
    """
    top_w, idx = weight.topk(min(MASK_TOPK, weight.shape[1]), dim=1)  # (B, k)

    def masks(out: dict) -> torch.Tensor:
        coef = out["mask_coefficient"].gather(2, idx[:, None].expand(-1, out["mask_coefficient"].shape[1], -1))
        proto = out["proto"][0] if isinstance(out["proto"], tuple) else out["proto"]
        return torch.einsum("bnk,bnhw->bkhw", coef, proto)

    kl = binary_kl(masks(student), masks(teacher), temperature).mean((2, 3))  # (B, k)
    return weighted_mean(kl, top_w) * temperature**2


def build_projector(student: nn.Module, teacher: nn.Module) -> nn.ModuleList:
    """One 1x1 conv per level from the student's head input channels to the teacher's."""

    def channels(model: nn.Module) -> list[int]:
        return [branch[0].conv.in_channels for branch in model.model[-1].cv2]  # Detect box branch: Conv first

    return nn.ModuleList(nn.Conv2d(cs, ct, 1) for cs, ct in zip(channels(student), channels(teacher)))


class Distiller:
    """What the distillation trainers (:mod:`pipeline.distill.trainers`) drive, for every task: a criterion that
    holds the frozen teacher, as a plain object (not an nn.Module), so that assigning it to ``model.criterion``
    registers neither the teacher nor its own trainable parts as parts of the student: the saved checkpoint stays
    a plain Ultralytics model.
    """

    projector: nn.Module | None = None  # trainable outside the student: its own param group, saved beside last.pt
    base: Any = None  # the student's own Ultralytics criterion, given once Ultralytics has set its class weights

    def start_epoch(self, epoch: int, batches: int) -> None:
        """Called as each epoch starts (also after a resume), with the batches per epoch; no clock by default."""


class RoadtuneLoss(Distiller):
    """The student's criterion: its own Ultralytics loss (`base`) plus the weighted distillation terms, as one loss
    dict."""

    def __init__(self, student: nn.Module, teacher: nn.Module, cfg: DistillConfig) -> None:
        self.teacher = teacher.eval().requires_grad_(False)
        self.cfg = cfg
        device = next(student.parameters()).device
        self.half = device.type == "cuda"  # teacher inference in half precision on CUDA
        self.teacher.to(device)
        if self.half:
            self.teacher.half()
        self.projector = build_projector(student, teacher).to(device) if cfg.weights.feature > 0 else None
        self.base: Any = None  # the student's own criterion; set once Ultralytics has set its class weights
        self.step, self.batches = 0, 1  # training batches seen, batches per epoch: set by start_epoch

    def start_epoch(self, epoch: int, batches: int) -> None:
        """Place the ramp at the start of `epoch` (also after a resume), with `batches` batches per epoch."""
        self.step, self.batches = epoch * batches, max(batches, 1)

    def gain(self) -> float:
        """The ramp factor for the current batch: (batch number) / (ramp_epochs batches), at most 1."""
        ramp = self.cfg.ramp_epochs * self.batches
        return 1.0 if ramp <= 0 else min(1.0, (self.step + 1) / ramp)

    @torch.no_grad()
    def teacher_outputs(self, img: torch.Tensor) -> dict[str, Any]:
        """The frozen teacher's head outputs on `img`, in float32."""
        out = head_outputs(self.teacher(img.half() if self.half else img))
        return {k: [f.float() for f in v] if isinstance(v, list) else v.float() for k, v in out.items()}

    def terms(self, preds: Any, img: torch.Tensor) -> dict[str, torch.Tensor]:
        """The unweighted distillation terms (divergences) of the enabled weights, for student outputs `preds`."""
        student, teacher = head_outputs(preds), self.teacher_outputs(img)
        if student["scores"].shape != teacher["scores"].shape:
            raise RuntimeError(f"teacher and student anchors differ: {teacher['scores'].shape} vs "
                               f"{student['scores'].shape}; check_teacher_student should have caught this")
        weight = teacher["scores"].sigmoid().amax(1)  # (B, A): teacher confidence per anchor
        w, t = self.cfg.weights, self.cfg.temperature
        out = {}
        if w.cls:
            out["kd_cls"] = soft_label_term(student, teacher, weight, t)
        if w.box:
            out["kd_box"] = box_term(student, teacher, weight, t)
        if w.feature:
            out["kd_feat"] = feature_term(student, teacher, self.projector)
        if w.mask and "proto" in student:
            out["kd_mask"] = mask_term(student, teacher, weight, t)
        return out

    def __call__(self, preds: Any, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Ultralytics' criterion protocol: (loss vector scaled by batch size, detached loss items by name).

        The kd_* items are the terms as they enter the loss (weight and ramp applied), on the scale of the detection
        items (before the batch-size factor); kd_ratio is their sum over the sum of the detection items.
        """
        loss, items = self.base(preds, batch)
        gain, w = self.gain(), self.cfg.weights
        self.step += 1
        gains = {"kd_cls": w.cls, "kd_box": w.box, "kd_feat": w.feature, "kd_mask": w.mask}
        weighted = {k: v * gains[k] * gain for k, v in self.terms(preds, batch["img"]).items()}
        if not weighted:
            return loss, items
        extra = torch.stack(list(weighted.values()))
        ratio = extra.detach().sum() / torch.stack(list(items.values())).sum().clamp(min=1e-9)
        # Ultralytics sums the loss vector and scales it by batch size; the extra terms follow the same convention.
        logged = {**items, **{k: v.detach() for k, v in weighted.items()}, "kd_ratio": ratio}
        return torch.cat([loss, extra * batch["img"].shape[0]]), logged
