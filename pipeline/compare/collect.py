"""Finished runs read back from their folders alone (run folders, or sweep folders with their points): a row per
finished run (:func:`run_row`), and the failed, stopped, unfinished and unreadable ones beside them; any file that
cannot be read is a UserError naming it. :mod:`pipeline.compare.results` turns the rows into tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from pipeline.compare.results import (
    ENV_KEYS,
    FIGURES,
    dataset_label,
    freeze_label,
    group_key,
    recipe_values,
    value_text,
)
from pipeline.errors import UserError
from pipeline.recipe.sweep import SweepConfig
from pipeline.records import Environment, Metrics, PointStatus, Probe, Record, SweepFile
from pipeline.run_folder import (
    METRICS,
    POINTS,
    RECIPE,
    STAGES,
    SWEEP_MARKER,
    TRAIN_ARGS,
    is_sweep_dir,
    per_image_file,
    stage_dir,
)
from pipeline.textfile import read_yaml

R = TypeVar("R", bound=Record)


@dataclass
class Collected:
    """Everything found in the given folders: finished runs, failed sweep points, skipped unfinished folders."""

    runs: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    stopped: list[dict[str, Any]] = field(default_factory=list)  # points a search stopped early (sweep.search)
    skipped: list[Path] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # "<file>: <cause>" of runs skipped with --skip-incomplete
    grid: dict[str, list[str]] = field(default_factory=dict)  # swept key -> values (display text), from sweep.json
    probes: list[dict[str, Any]] = field(default_factory=list)  # the sweeps' probe.json, each with its sweep_dir


def _unreadable(path: Path, exc: UserError) -> UserError:
    return UserError(f"{path}: cannot be read ({str(exc).removeprefix(f'{path}: ')})")


def read_record(record: type[R], folder: Path) -> R:
    """One of a run's JSON files (:mod:`pipeline.records`); a UserError naming the file and the cause."""
    try:
        return record.read(folder)
    except UserError as exc:
        raise _unreadable(record.path(folder), exc) from None


def read_file(path: Path, required: tuple[str, ...] = ()) -> dict[str, Any]:
    """A run's YAML file as a mapping holding `required`; a UserError naming the file and the cause."""
    try:
        data = read_yaml(path, "run file")
    except UserError as exc:
        raise _unreadable(path, exc) from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: cannot be read (not a mapping but {type(data).__name__})")
    missing = [k for k in required if k not in data]
    if missing:
        raise UserError(f"{path}: cannot be read (missing {', '.join(missing)})")
    return data


def run_row(run_dir: Path) -> dict[str, Any]:
    """One finished run folder as a row: recipe, metrics and environment figures."""
    recipe = read_file(run_dir / RECIPE, ("task", "data", "model"))
    metrics = read_record(Metrics, run_dir)
    env = read_record(Environment, run_dir) if Environment.path(run_dir).is_file() else Environment()
    return {
        "run_dir": run_dir.resolve(), "run": run_dir.name, "task": recipe["task"],
        "dataset": dataset_label(recipe["data"]), "model": Path(recipe["model"]).name,
        "weights": Path(recipe["weights"]).name if recipe.get("weights") else "",
        "freeze": freeze_label(recipe), "seed": recipe.get("train", {}).get("seed"),
        "config": group_key(recipe, drop_freeze=False), "family": group_key(recipe, drop_freeze=True),
        "frozen_layers": metrics.frozen_layers, "params_trainable": metrics.params_trainable,
        "params_total": metrics.params_total, "memory_kind": metrics.memory_kind,
        **{k: getattr(metrics, k) for k in FIGURES}, "per_class": metrics.per_class,
        **{k: getattr(env, k) for k in ENV_KEYS}, "values": recipe_values(recipe),
        "per_image": per_image_file(stage_dir(run_dir, metrics.stages[-1].name), None) if metrics.stages else None,
    }


def sweep_grid(sweep_dir: Path) -> dict[str, list[str]]:
    """The grid of a sweep folder's sweep.json: swept key -> its values as the report writes them."""
    marker = read_record(SweepFile, sweep_dir)
    try:
        grid = SweepConfig.model_validate(marker.base.get("sweep")).grid
    except ValidationError as exc:
        raise UserError(f"{sweep_dir / SWEEP_MARKER}: cannot be read (no valid sweep section: {exc})") from None
    return {key: [value_text(v) for v in values] for key, values in grid.items()}


def _run_folders(folder: Path) -> list[Path]:
    if is_sweep_dir(folder):
        return sorted(p for p in (folder / POINTS).glob("*") if p.is_dir())
    if (folder / RECIPE).is_file():
        return [folder]
    raise UserError(f"{folder}: not a run folder (no {RECIPE}) nor a sweep folder (no {SWEEP_MARKER})")


def collect(folders: list[Path], skip_incomplete: bool = False) -> Collected:
    """Read every run in the given run or sweep folders; unfinished or unreadable ones are an error unless skipped."""
    found, incomplete = Collected(), []
    for folder in folders:
        if not folder.is_dir():
            raise UserError(f"{folder}: no such folder")
        if is_sweep_dir(folder):
            for key, values in sweep_grid(folder).items():
                known = found.grid.setdefault(key, [])
                known += [v for v in values if v not in known]
            if Probe.path(folder).is_file():
                probe = read_record(Probe, folder).model_dump()
                found.probes.append({**probe, "sweep_dir": folder.resolve()})
        for run_dir in _run_folders(folder):
            try:
                _add_run(found, incomplete, run_dir)
            except UserError as exc:  # one of the run's files cannot be read
                if not skip_incomplete:
                    raise
                found.unreadable.append(str(exc))
    if incomplete and not skip_incomplete:
        raise UserError(f"no {METRICS} in these run folders (unfinished runs; finish them with --resume, or "
                        "pass --skip-incomplete)", [str(p) for p in incomplete])
    found.skipped = incomplete
    if not found.runs:
        raise UserError("nothing to compare: no finished, readable run in " + ", ".join(map(str, folders)),
                        found.unreadable)
    return found


def _add_run(found: Collected, incomplete: list[Path], run_dir: Path) -> None:
    """A finished run becomes a row, a failed sweep point a failure, anything else an unfinished folder."""
    if Metrics.path(run_dir).exists():  # a metrics.json that cannot be read is named, not taken for unfinished
        found.runs.append(run_row(run_dir))
        return
    status = read_record(PointStatus, run_dir) if PointStatus.path(run_dir).is_file() else None
    if status and status.stopped:
        recipe = read_file(run_dir / RECIPE)
        found.stopped.append({"run_dir": run_dir.resolve(), "run": run_dir.name, "freeze": freeze_label(recipe),
                              "values": recipe_values(recipe), "frozen_layers": _frozen_when_stopped(run_dir),
                              **status.stopped})
    elif status and not status.ok:
        found.failed.append({"run_dir": run_dir.resolve(), "run": run_dir.name, "error": status.error or ""})
    else:
        incomplete.append(run_dir)


def _frozen_when_stopped(run_dir: Path) -> int | None:
    """The frozen layer count of the last stage a stopped point trained: Ultralytics' args.yaml `freeze` list."""
    started = sorted((run_dir / STAGES).glob(f"*/{TRAIN_ARGS}"), key=lambda p: p.stat().st_mtime)
    return len(read_file(started[-1]).get("freeze") or []) if started else None
