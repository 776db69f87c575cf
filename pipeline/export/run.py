"""Exporting finished runs: check every run, format and package first, then per run measure the PyTorch
``best.pt`` once and each format's artifact, and write ``<run>/export/<format>[-int8]/`` with its export.json.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.checkpoints import read_checkpoint
from pipeline.errors import UserError
from pipeline.export import measure
from pipeline.export.artifact import (
    clear_partials,
    device_for,
    export_artifact,
    new_work_folder,
    put_in_place,
    size_mb,
)
from pipeline.recipe.export import ExportConfig
from pipeline.recipe.schema import Recipe
from pipeline.records import ExportRecord, Measured, Metrics
from pipeline.run_folder import (
    EXPORT,
    METRICS,
    POINTS,
    RECIPE,
    hold,
    is_finished,
    is_sweep_dir,
    shown,
)

LOG = logging.getLogger("roadtune")
DEFAULT_IMGSZ = 640  # Ultralytics' default (cfg/default.yaml), for a recipe that sets no train.imgsz


@dataclass
class Target:
    """One run's final weights and what they are measured with."""

    run_dir: Path
    weights: Path
    data: Path  # the resolved dataset YAML (an image-folder root for classify)
    task: str
    imgsz: int


def train_imgsz(train: dict[str, Any]) -> int:
    """The size the run trained at (the longer side of an [h, w] pair): the default export size."""
    size = train.get("imgsz", DEFAULT_IMGSZ)
    return max(size) if isinstance(size, list) else int(size)


def target_of(run_dir: Path, data: Path | None, imgsz: int | None) -> Target:
    """The export target of a finished run folder; a UserError naming what is missing."""
    import yaml

    from pipeline.datasets.resolve import resolve_dataset

    if not (run_dir / RECIPE).is_file():
        raise UserError(f"{run_dir}: not a run folder (no {RECIPE}) nor a sweep folder")
    if not is_finished(run_dir):
        raise UserError(f"{run_dir}: unfinished run (no {METRICS}): finish it with python -m pipeline.run --resume")
    recipe = yaml.safe_load((run_dir / RECIPE).read_text(encoding="utf-8"))
    weights = Metrics.read(run_dir).final_weights(run_dir)
    if not weights.is_file():
        raise UserError(f"{run_dir}: no final weights ({weights} is missing)")
    read_checkpoint(weights)  # refuses a file that is not a checkpoint, or would run code, before any work
    data = data or Path(recipe["data"])
    if not data.exists():
        raise UserError(f"{run_dir}: dataset {data} not found: the accuracy after export (and int8 calibration) "
                        "needs its val split (give it with --data)")
    size = imgsz or train_imgsz(recipe.get("train", {}))
    return Target(run_dir.resolve(), weights, resolve_dataset(data).yaml_path, recipe["task"], size)


def export_final_weights(recipe: Recipe, data_yaml: Path, run_dir: Path, weights: Path) -> list[Path]:
    """The recipe's `export:` section, run on the final weights before the run is marked finished."""
    cfg = recipe.export
    size = cfg.imgsz or train_imgsz(recipe.train)
    target = Target(run_dir.resolve(), weights, data_yaml, recipe.task, size)
    return export_run(target, cfg, say=LOG.info)


def plan(folders: list[Path], cfg: ExportConfig, data: Path | None = None,
         say: Callable[[str], None] = print) -> list[Target]:
    """The runs to export (every finished point of a sweep), after every check; one UserError listing all problems."""
    import torch

    from pipeline.export.setup import setup_problems

    problems, targets = setup_problems(cfg, torch.cuda.is_available()), []
    for folder in folders:
        sweep = is_sweep_dir(folder)
        runs = sorted(p for p in (folder / POINTS).glob("*") if p.is_dir()) if sweep else [folder]
        for run_dir in runs:
            if sweep and not is_finished(run_dir):
                say(f"skipped (unfinished point): {shown(run_dir)}")
                continue
            try:
                targets.append(target_of(run_dir, data, cfg.imgsz))
            except UserError as exc:
                problems.append(str(exc))
    if not targets and not problems:
        problems.append(f"no finished run to export in {', '.join(map(str, folders))}")
    if problems:
        raise UserError(f"nothing exported ({len(problems)} problem{'s' * (len(problems) != 1)})", problems)
    return targets


def _measured(model_file: Path, target: Target, cfg: ExportConfig, frames: list, device: str,
              work: Path) -> Measured:
    """Latency, images/s and accuracy of one model file (an artifact, or the PyTorch best.pt it is set beside)."""
    from ultralytics import YOLO

    model = YOLO(model_file, task=target.task)
    predict = {"imgsz": target.imgsz, "device": device}
    return Measured(latency_ms=measure.latency(model, frames, cfg.batch, cfg.runs, cfg.warmup, **predict),
                    throughput=measure.throughput(model, frames, cfg.throughput_batch, **predict),
                    accuracy=measure.accuracy(model, target.data, target.imgsz, device, work))


def export_run(target: Target, cfg: ExportConfig, overwrite: bool = False,
               say: Callable[[str], None] = print) -> list[Path]:
    """Export and measure every format of `cfg` for one run into <run>/export/; an existing export is kept unless
    `overwrite`. Returns the export folders."""
    export_dir = target.run_dir / EXPORT
    export_dir.mkdir(exist_ok=True)
    done, references = [], {}
    with hold(export_dir):
        clear_partials(export_dir)
        frames = measure.val_images(target.data, max(cfg.batch, cfg.throughput_batch) * 4)
        for fmt in cfg.format:
            dest = export_dir / cfg.folder_name(fmt)
            if ExportRecord.path(dest).is_file() and not overwrite:
                say(f"kept (exported before; --overwrite exports again): {shown(dest)}")
                done.append(dest)
                continue
            work = new_work_folder(export_dir, dest.name)
            try:
                device = device_for(fmt)
                if device not in references:
                    references[device] = _measured(target.weights, target, cfg, frames, device, work / "pytorch")
                artifact = export_artifact(target.weights, fmt, cfg, target.imgsz, target.data, work)
                record = _measured(artifact, target, cfg, frames, device, work / "val")
                record = _record(target, cfg, fmt, artifact, record, references[device], device)
                shutil.rmtree(work / "val", ignore_errors=True)
                shutil.rmtree(work / "pytorch", ignore_errors=True)
                record.write(work)
                put_in_place(work, dest)
            finally:
                shutil.rmtree(work, ignore_errors=True)
            say(f"export: {shown(dest)}  {headline(record)}")
            done.append(dest)
    return done


def _record(target: Target, cfg: ExportConfig, fmt: str, artifact: Path, measured: Measured,
            pytorch: Measured, device: str) -> ExportRecord:
    """export.json: what was exported, its measurements beside PyTorch's, and where they were measured."""
    return ExportRecord(
        format=fmt, precision=cfg.precision(), artifact=artifact.name, size_mb=size_mb(artifact),
        pytorch_size_mb=size_mb(target.weights), weights=str(target.weights), task=target.task, imgsz=target.imgsz,
        data=str(target.data), **dict(measured),
        accuracy_delta_pts=measure.delta_points(measured.accuracy, pytorch.accuracy),
        pytorch=pytorch, machine=measure.machine(device), options=cfg.model_dump(mode="json"))


def headline(record: ExportRecord) -> str:
    """One line of an export's figures: latency, images/s, size, accuracy and its change against PyTorch."""
    score = "top1" if "top1" in record.accuracy else "map50_95"
    latency, torch_latency = record.latency_ms.total, record.pytorch.latency_ms.total
    return (f"{latency.median:.1f} ms (p90 {latency.p90:.1f}; PyTorch {torch_latency.median:.1f}) at batch "
            f"{record.latency_ms.batch}, {record.throughput.images_per_s:.1f} images/s at batch "
            f"{record.throughput.batch}, {record.size_mb:.1f} MB, {score} {record.accuracy[score]:.4f} "
            f"({record.accuracy_delta_pts.get(score, float('nan')):+.2f} points vs PyTorch)")
