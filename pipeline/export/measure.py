"""What an exported model costs and scores: latency at a small batch (pre-processing, inference and
post-processing apart), images/s at a larger batch, accuracy on the val split, and the machine it was measured on.

Every figure comes from Ultralytics' own predictor and validator, as a deployed ``YOLO(artifact)`` runs them: the
latency parts are its ``Results.speed``; the total is the wall time of the whole ``predict`` call.
"""

from __future__ import annotations

import os
import platform
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.datasets.images import image_files
from pipeline.datasets.resolve import resolve_dataset
from pipeline.errors import UserError

STAGES = ("preprocess", "inference", "postprocess")
# Ultralytics' validator keys -> the names metrics.json uses (box, mask, classify)
ACCURACY_KEYS = {"metrics/mAP50(B)": "map50", "metrics/mAP50-95(B)": "map50_95", "metrics/mAP50(M)": "mask_map50",
                 "metrics/mAP50-95(M)": "mask_map50_95", "metrics/accuracy_top1": "top1",
                 "metrics/accuracy_top5": "top5"}
RUNTIMES = ("onnxruntime", "openvino", "tensorrt", "torch", "ultralytics")
THROUGHPUT_CALLS = 10  # timed calls at the large batch, after two untimed ones


def val_images(data: Path, count: int) -> list[np.ndarray]:
    """Up to `count` val images of one size, decoded in memory (BGR, as camera frames): disk reads stay out of the
    timing."""
    import cv2

    dataset = resolve_dataset(data)
    entries = ["val"] if dataset.image_folder else dataset.config.get("val") or []
    files = [f for e in ([entries] if isinstance(entries, str) else entries) for f in image_files(dataset.root / e)]
    if not files:
        raise UserError(f"{data}: no val images to measure the latency on")
    frames = [cv2.imread(str(f)) for f in files[:count * 4]]
    # One camera gives frames of one size; Ultralytics letterboxes a batch of mixed sizes to a full square, which
    # would measure another (larger) input than batch 1 does. Keep the most common size.
    shapes = [frame.shape for frame in frames]
    common = max(set(shapes), key=shapes.count)
    return [frame for frame in frames if frame.shape == common][:count]


def _summary(values: list[float]) -> dict[str, float]:
    return {"median": round(float(np.median(values)), 3), "p90": round(float(np.percentile(values, 90)), 3)}


def latency(model: Any, frames: list[np.ndarray], batch: int, runs: int, warmup: int, **predict: Any) -> dict:
    """ms per call at `batch` frames: median and p90 of `runs` timed calls after `warmup` untimed ones, total and
    per stage (Ultralytics' per-image ``Results.speed`` times the batch)."""
    calls: list[dict[str, float]] = []
    for i in range(warmup + runs):
        chunk = [frames[(i * batch + k) % len(frames)] for k in range(batch)]
        start = time.perf_counter()
        results = model.predict(chunk, verbose=False, **predict)
        total = (time.perf_counter() - start) * 1000
        if i >= warmup:
            calls.append({"total": total, **{s: results[0].speed[s] * batch for s in STAGES}})
    return {"batch": batch, "runs": runs, "warmup": warmup,
            **{key: _summary([c[key] for c in calls]) for key in ("total", *STAGES)}}


def throughput(model: Any, frames: list[np.ndarray], batch: int, **predict: Any) -> dict:
    """Images per second at `batch` frames per call, end to end (pre- and post-processing included)."""
    chunk = [frames[k % len(frames)] for k in range(batch)]
    for _ in range(2):
        model.predict(chunk, verbose=False, **predict)
    start = time.perf_counter()
    for _ in range(THROUGHPUT_CALLS):
        model.predict(chunk, verbose=False, **predict)
    seconds = time.perf_counter() - start
    return {"batch": batch, "calls": THROUGHPUT_CALLS, "images_per_s": round(batch * THROUGHPUT_CALLS / seconds, 2)}


def accuracy(model: Any, data: Path, imgsz: int, device: str, work: Path) -> dict[str, float]:
    """The model's accuracy on the val split through Ultralytics' validator (batch 1, its defaults otherwise);
    its output folder goes to `work`, which the caller removes."""
    metrics = model.val(data=str(data), imgsz=imgsz, batch=1, device=device, plots=False, verbose=False,
                        project=str(work), name="val", exist_ok=True)
    found = metrics.results_dict
    return {name: round(float(found[key]), 5) for key, name in ACCURACY_KEYS.items() if key in found}


def delta_points(exported: dict[str, float], pytorch: dict[str, float]) -> dict[str, float]:
    """Exported minus PyTorch, in points (x100) per accuracy figure: negative is a loss."""
    return {k: round((exported[k] - pytorch[k]) * 100, 3) for k in exported if k in pytorch}


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo on Linux; platform's answer elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine(device: str) -> dict[str, Any]:
    """Where the figures were measured: device, CPU/GPU model, threads, runtime versions."""
    import torch

    versions = {}
    for name in RUNTIMES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return {"device": device, "gpu": torch.cuda.get_device_name(0) if device != "cpu" else None,
            "cpu": cpu_model(), "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "openvino_precision": _openvino_precision(),
            "platform": platform.platform(), "python": platform.python_version(), "versions": versions}


def _openvino_precision() -> str | None:
    """The precision OpenVINO's CPU plugin computes in by default here (bf16 on CPUs with AVX512_BF16 or AMX)."""
    try:
        import openvino as ov

        return ov.Core().get_property("CPU", "INFERENCE_PRECISION_HINT").get_type_name()
    except Exception:  # noqa: BLE001 - not installed, or a build without the CPU plugin: nothing to record
        return None
