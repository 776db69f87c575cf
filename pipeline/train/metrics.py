"""Measurements of a stage: epoch timing and memory (as Ultralytics callbacks), and final validation figures."""

from __future__ import annotations

import json
import resource
import time
from pathlib import Path
from typing import Any

import torch

from pipeline.textfile import read_text

DETECTION_KEYS = ("map50", "map50_95", "precision", "recall")


class EpochTimer:
    """Callbacks ``fn(trainer)`` that append one line per finished epoch to ``epochs.jsonl`` in the stage folder.

    The file survives an interrupted run, so a resumed stage reports the time of every epoch it ran.
    """

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self._epoch_start = self._train_end = 0.0

    def callbacks(self) -> dict[str, Any]:
        """The Ultralytics events this timer listens to."""
        return {
            "on_train_start": self.on_train_start,
            "on_train_epoch_start": self.on_epoch_start,
            "on_train_epoch_end": self.on_train_epoch_end,
            "on_fit_epoch_end": self.on_fit_epoch_end,
        }

    def on_train_start(self, trainer: Any) -> None:
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()

    def on_epoch_start(self, trainer: Any) -> None:
        self._epoch_start = time.perf_counter()

    def on_train_epoch_end(self, trainer: Any) -> None:
        self._train_end = time.perf_counter()

    def on_fit_epoch_end(self, trainer: Any) -> None:
        if not self._train_end or trainer.epoch >= trainer.epochs:  # final_eval re-fires this event; skip it
            return
        record = {
            "epoch": trainer.epoch + 1,
            "train_s": round(self._train_end - self._epoch_start, 4),
            "epoch_s": round(time.perf_counter() - self._epoch_start, 4),
            "images": len(trainer.train_loader.dataset),
            "batches": len(trainer.train_loader),  # optimizer steps (nbs accumulation aside): compute, as images
            **peak_memory(),
        }
        with self.log_path.open("a") as fh:
            fh.write(json.dumps(record) + "\n")
        self._train_end = 0.0


def peak_memory() -> dict[str, Any]:
    """Peak memory so far: CUDA max allocated when on a GPU, else the process's peak resident set size."""
    if torch.cuda.is_available() and torch.cuda.max_memory_allocated() > 0:
        return {"peak_memory_mb": round(torch.cuda.max_memory_allocated() / 2**20, 1), "memory_kind": "cuda"}
    return {"peak_memory_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1), "memory_kind": "rss"}


def read_epochs(log_path: Path) -> list[dict[str, Any]]:
    """The epoch records of a stage, last record per epoch number (a resumed epoch replaces its partial run)."""
    if not log_path.is_file():
        return []
    by_epoch = {}
    for line in read_text(log_path, "epoch log").splitlines():
        if line.strip():
            record = json.loads(line)
            by_epoch[record["epoch"]] = record
    return [by_epoch[k] for k in sorted(by_epoch)]


def timing_summary(epochs: list[dict[str, Any]]) -> dict[str, Any]:
    """Train time, time per epoch, batches and images seen (the compute), throughput and peak memory from epoch
    records (batches: None for records written before they were counted)."""
    if not epochs:
        return {"epochs": 0, "train_time_s": 0.0, "time_per_epoch_s": None, "batches": 0, "images_seen": 0,
                "time_per_batch_s": None, "images_per_s": None, "peak_memory_mb": None, "memory_kind": None}
    total = sum(e["epoch_s"] for e in epochs)
    train = sum(e["train_s"] for e in epochs)
    batches = sum(e["batches"] for e in epochs) if all("batches" in e for e in epochs) else None
    return {
        "epochs": len(epochs),
        "train_time_s": round(total, 3),
        "time_per_epoch_s": round(total / len(epochs), 3),
        "batches": batches,
        "images_seen": sum(e["images"] for e in epochs),
        "time_per_batch_s": round(train / batches, 4) if batches else None,
        "images_per_s": round(sum(e["images"] for e in epochs) / max(train, 1e-9), 2),
        "peak_memory_mb": max(e["peak_memory_mb"] for e in epochs),
        "memory_kind": epochs[-1]["memory_kind"],
    }


def classification_summary(validator: Any, names: dict[int, str]) -> dict[str, Any]:
    """top-1/top-5 accuracy, macro precision and recall over the classes in val, per-class top-1 accuracy (recall)
    and inference time, from Ultralytics' classification validator and its confusion matrix.
    """
    import numpy as np

    # [predicted, true] counts, as Ultralytics 8.4.190 (ConfusionMatrix.process_cls_preds) fills it
    matrix = np.asarray(validator.confusion_matrix.matrix, dtype=float)
    hits, true, predicted = np.diag(matrix), matrix.sum(0), matrix.sum(1)
    present = true > 0  # classes absent from val have no accuracy: null, as detection reports them
    recall = np.divide(hits, true, out=np.zeros_like(hits), where=present)
    precision = np.divide(hits, predicted, out=np.zeros_like(hits), where=predicted > 0)
    return {
        "top1": round(float(validator.metrics.top1), 5),
        "top5": round(float(validator.metrics.top5), 5),
        "precision": round(float(precision[present].mean()), 5) if present.any() else 0.0,
        "recall": round(float(recall[present].mean()), 5) if present.any() else 0.0,
        "per_class": {name: (round(float(recall[i]), 5) if present[i] else None) for i, name in names.items()},
        "inference_ms_per_image": round(float(validator.speed.get("inference", 0.0)), 3),
    }


def validation_summary(validator: Any, names: dict[int, str]) -> dict[str, Any]:
    """mAP, precision, recall, per-class mAP50-95 and inference time from an Ultralytics validator after a run
    (top-1/top-5 in place of mAP for a classifier, see :func:`classification_summary`).
    """
    metrics = validator.metrics
    if not hasattr(metrics, "box"):
        return classification_summary(validator, names)
    box = metrics.box
    summary: dict[str, Any] = {
        "map50": round(float(box.map50), 5),
        "map50_95": round(float(box.map), 5),
        "precision": round(float(box.mp), 5),
        "recall": round(float(box.mr), 5),
    }
    if hasattr(metrics, "seg"):
        summary["mask_map50"] = round(float(metrics.seg.map50), 5)
        summary["mask_map50_95"] = round(float(metrics.seg.map), 5)
    # Classes absent from the val split have no AP: null, not Ultralytics' filler (the mean).
    present = {int(c): float(ap) for c, ap in zip(box.ap_class_index, box.ap)}
    summary["per_class"] = {name: (round(present[i], 5) if i in present else None) for i, name in names.items()}
    summary["inference_ms_per_image"] = round(float(validator.speed.get("inference", 0.0)), 3)
    return summary
