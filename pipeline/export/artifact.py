"""Exporting one artifact through Ultralytics' exporter into a private folder, and putting the finished folder in
place in one rename, so that ``export/<format>`` holds a complete export (artifact and export.json) or nothing.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from pipeline.recipe.export import ExportConfig
from pipeline.video.backend import EXPORT_ARGS

PARTIAL = ".partial-"  # prefix of the private folders an export is made in: removed when one is found unfinished


def device_for(fmt: str) -> str:
    """Where a format is exported and measured: TensorRT on the first GPU, the others on the CPU."""
    return "0" if fmt == "engine" else "cpu"


def export_artifact(weights: Path, fmt: str, cfg: ExportConfig, imgsz: int, data: Path, work: Path) -> Path:
    """Export a copy of `weights` in `work` (Ultralytics writes beside its input) and return the artifact."""
    from ultralytics import YOLO

    copy = Path(shutil.copy2(weights, work / weights.name))
    # Dynamic shapes (as the video demo exports) let one artifact take batch 1 and the throughput batch, and the
    # same rectangular letterbox as PyTorch; a TensorRT profile is built up to the largest batch measured.
    args = {**EXPORT_ARGS.get(fmt, {"dynamic": True}), "batch": max(cfg.batch, cfg.throughput_batch)}
    if cfg.int8:  # calibrate on the train split: the val split is what the accuracy after export is measured on
        args.update(data=str(data), split="train", fraction=cfg.fraction)
    quantize = 8 if cfg.int8 else 16 if cfg.half else None
    exported = YOLO(copy).export(format=fmt, imgsz=imgsz, quantize=quantize, device=device_for(fmt), verbose=False,
                                 **args)
    copy.unlink()
    return Path(exported)


def size_mb(artifact: Path) -> float:
    """The artifact's size on disk in MB (a folder such as OpenVINO's: all its files)."""
    files = [artifact] if artifact.is_file() else [p for p in artifact.rglob("*") if p.is_file()]
    return round(sum(p.stat().st_size for p in files) / 1e6, 3)


def new_work_folder(export_dir: Path, name: str) -> Path:
    """A private, empty folder beside export/<name> to export into."""
    export_dir.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{PARTIAL}{name}-", dir=export_dir))


def put_in_place(work: Path, dest: Path) -> None:
    """Make the finished `work` folder `dest` (replacing an earlier export of the same format) by renames only."""
    old = None
    if dest.exists():
        old = dest.with_name(f"{PARTIAL}{dest.name}-replaced")
        os.replace(dest, old)
    os.replace(work, dest)
    if old is not None:
        shutil.rmtree(old)


def clear_partials(export_dir: Path) -> None:
    """Remove the private folders of exports that did not finish (a killed process); called under the lock."""
    for stale in export_dir.glob(f"{PARTIAL}*") if export_dir.is_dir() else []:
        shutil.rmtree(stale, ignore_errors=True)
