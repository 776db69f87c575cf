"""What one validation scored per image, kept so a report can resample the val images (a bootstrap) without running
the model again, and how it is captured from Ultralytics' own validator while a stage trains.

Detect and segment: per prediction its image, confidence, class and whether it is a true positive at each of the ten
IoU thresholds 0.50:0.95, as Ultralytics' validator matched it (``tp``; ``tp_m`` for masks); per target its image
and class. Classify: per image whether the top-1 and the top-5 prediction were right. Nothing is re-matched here:
the scores computed from a record are Ultralytics' own (see :mod:`pipeline.evaluation.bootstrap`).

A record is one compressed ``.npz`` file (about 10 bytes per prediction), in the stage folder's ``per_image/``:
``final.npz`` for best.pt after training and, with the recipe's ``per_image: epochs``, ``epoch-NNN.npz`` after every
epoch (what a search compares points by).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import UserError
from pipeline.run_folder import per_image_file

IOU_THRESHOLDS = 10  # Ultralytics' iouv: 0.50, 0.55, ..., 0.95 (checked on 8.4.190)


@dataclass
class PerImage:
    """One validation, image by image (see the module docstring); `images` are the val images' names."""

    task: str
    images: np.ndarray
    pred_img: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    conf: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    pred_cls: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int16))
    tp: np.ndarray = field(default_factory=lambda: np.zeros((0, IOU_THRESHOLDS), bool))
    tp_m: np.ndarray | None = None
    target_img: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    target_cls: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int16))
    top1: np.ndarray | None = None
    top5: np.ndarray | None = None

    def save(self, path: Path) -> Path:
        """Write the record (atomically: a partial file is renamed once complete)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}
        for key in ("tp", "tp_m"):  # ten booleans per prediction -> two bytes
            if key in arrays:
                arrays[key] = np.packbits(arrays[key], axis=1)
        partial = path.with_name(f".{path.name}.partial.npz")
        np.savez_compressed(partial, **{**arrays, "task": np.array(self.task), "images": self.images.astype(str)})
        partial.replace(path)
        return path

    @classmethod
    def load(cls, path: Path) -> PerImage:
        """The record at `path`; a UserError naming the file when it is not one."""
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays: dict[str, Any] = {k: data[k] for k in data.files}
        except (OSError, ValueError) as exc:
            raise UserError(f"{path}: not a per-image record ({exc})") from None
        for key in ("tp", "tp_m"):
            if key in arrays:
                arrays[key] = np.unpackbits(arrays[key], axis=1, count=IOU_THRESHOLDS).astype(bool)
        arrays["task"] = str(arrays["task"])
        return cls(**arrays)

    @property
    def n_images(self) -> int:
        return len(self.images)

    def restricted(self, images: np.ndarray) -> PerImage:
        """The record over `images` only (a subset of its own, in that order): for pairing runs whose val splits
        differ."""
        index = {name: i for i, name in enumerate(self.images)}
        new = np.full(len(self.images), -1, np.int64)
        new[[index[name] for name in images]] = np.arange(len(images))
        if self.task == "classify":
            keep = [index[name] for name in images]
            return PerImage(self.task, np.asarray(images), top1=self.top1[keep], top5=self.top5[keep])
        preds, targets = new[self.pred_img] >= 0, new[self.target_img] >= 0
        return PerImage(self.task, np.asarray(images), pred_img=new[self.pred_img][preds].astype(np.int32),
                        conf=self.conf[preds], pred_cls=self.pred_cls[preds], tp=self.tp[preds],
                        tp_m=None if self.tp_m is None else self.tp_m[preds],
                        target_img=new[self.target_img][targets].astype(np.int32), target_cls=self.target_cls[targets])


def detection_record(task: str, stats: list[dict[str, Any]]) -> PerImage:
    """A record from the per-image stats Ultralytics' DetMetrics.update_stats received (one dict per image)."""
    images = np.array([s["im_name"] for s in stats], dtype=str)
    n_pred = [len(s["conf"]) for s in stats]
    n_target = [len(s["target_cls"]) for s in stats]

    def cat(key: str, dtype: Any, width: int | None = None) -> np.ndarray:
        parts = [np.asarray(s[key], dtype=dtype) for s in stats]
        empty = np.zeros((0, width) if width else 0, dtype)
        return np.concatenate([empty, *[p.reshape(-1, width) if width else p.ravel() for p in parts]])

    return PerImage(
        task, images, pred_img=np.repeat(np.arange(len(stats)), n_pred).astype(np.int32),
        conf=cat("conf", np.float32), pred_cls=cat("pred_cls", np.int16), tp=cat("tp", bool, IOU_THRESHOLDS),
        tp_m=cat("tp_m", bool, IOU_THRESHOLDS) if task == "segment" else None,
        target_img=np.repeat(np.arange(len(stats)), n_target).astype(np.int32),
        target_cls=cat("target_cls", np.int16))


def classification_record(validator: Any) -> PerImage:
    """A record from a classification validator after it ran: its top-5 predictions and targets, in the order of
    its (unshuffled) val dataset, images named `class_folder/file`."""
    top = np.concatenate([p.numpy() for p in validator.pred]) if validator.pred else np.zeros((0, 1), int)
    targets = np.concatenate([t.numpy() for t in validator.targets]) if validator.targets else np.zeros(0, int)
    samples = validator.dataloader.dataset.samples
    images = np.array([f"{Path(s[0]).parent.name}/{Path(s[0]).name}" for s in samples[: len(targets)]], dtype=str)
    return PerImage("classify", images, top1=top[:, 0] == targets, top5=(top == targets[:, None]).any(1))


class ImageRecorder:
    """Ultralytics callbacks that keep a stage's per-image records: every validation while training (with
    `per_epoch`) and the final one of best.pt, into the stage folder.

    The trainer marks the epoch that a validation belongs to (on_train_epoch_end); a validation without a mark is
    the final one. Detection stats are taken as Ultralytics' metrics receive them, image by image
    (DetMetrics.update_stats, wrapped on the validator's own metrics object: ultralytics_api CONTRACT
    evaluation.update_stats); classification from the validator's pred/targets lists after it ran.
    """

    def __init__(self, stage_folder: Path, task: str, per_epoch: bool) -> None:
        self.folder, self.task, self.per_epoch = stage_folder, task, per_epoch
        self.epoch: int | None = None
        self.stats: list[dict[str, Any]] = []

    def callbacks(self) -> dict[str, Any]:
        """The Ultralytics events this recorder listens to (trainer and validator events alike)."""
        return {"on_train_epoch_end": self.on_train_epoch_end, "on_val_start": self.on_val_start,
                "on_val_end": self.on_val_end}

    def on_train_epoch_end(self, trainer: Any) -> None:
        self.epoch = trainer.epoch + 1

    def on_val_start(self, validator: Any) -> None:
        self.stats = []
        metrics = getattr(validator, "metrics", None)
        if self.task == "classify" or getattr(metrics, "_roadtune_recorded", None) is self:
            return
        update = metrics.update_stats

        def update_and_keep(stat: dict[str, Any]) -> None:
            update(stat)
            self.stats.append({k: stat[k] for k in ("im_name", "conf", "pred_cls", "tp", "tp_m", "target_cls")
                               if k in stat})

        metrics.update_stats, metrics._roadtune_recorded = update_and_keep, self

    def on_val_end(self, validator: Any) -> None:
        epoch, self.epoch = self.epoch, None
        if epoch is not None and not self.per_epoch:
            return
        record = classification_record(validator) if self.task == "classify" else detection_record(self.task,
                                                                                                    self.stats)
        record.save(per_image_file(self.folder, epoch))
