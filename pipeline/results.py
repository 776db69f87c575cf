"""Results of finished runs, read only from their folders: one row per run, then one per point over repeats.

A row carries what the report compares (accuracy, cost, parameters) and what it groups by: ``config`` (the run's
recipe without its name and seed: runs that differ only by seed are repeats of one point) and ``family`` (also
without the freeze: the points a freeze depth is compared within, against the family's ``freeze: none`` point).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from pipeline.errors import UserError
from pipeline.executors import STATUS
from pipeline.sweep import POINTS, is_sweep_dir

METRICS = ["map50", "map50_95", "mask_map50_95", "top1", "top5", "precision", "recall", "epochs",
           "time_per_epoch_s", "train_time_s", "images_per_s", "peak_memory_mb", "inference_ms_per_image"]
SCORES = {"classify": ("top1", "top-1 accuracy")}  # what a comparison ranks points by; others: mAP50-95
ENV_KEYS = ["roadtune", "ultralytics", "torch", "python", "device", "device_kind", "cpu_count", "git_commit"]


@dataclass
class Collected:
    """Everything found in the given folders: finished runs, failed sweep points, skipped unfinished folders."""

    runs: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)


def score_of(task: str) -> tuple[str, str]:
    """The metrics.json key and label a comparison of `task` runs ranks by: top-1 for classify, else mAP50-95."""
    return SCORES.get(task, ("map50_95", "mAP50-95"))


def freeze_label(recipe: dict[str, Any]) -> str:
    """The freeze spec as written in the recipe; per stage (`head:backbone > full:none`) for schedules."""
    if not recipe.get("stages"):
        return str(recipe.get("freeze", "none"))
    return " > ".join(f"{s['name']}:{s.get('freeze', recipe.get('freeze', 'none'))}" for s in recipe["stages"])


def _dataset_label(data: str) -> str:
    path = Path(data)
    return f"{path.parent.name}/{path.name}"


def _group_key(recipe: dict[str, Any], drop_freeze: bool) -> str:
    """JSON of the recipe without name and seed (and without freeze specs): equal keys group together."""
    key = {k: v for k, v in recipe.items() if k not in ("name", "sweep")}
    key["train"] = {k: v for k, v in recipe.get("train", {}).items() if k != "seed"}
    if drop_freeze:
        key.pop("freeze", None)
        key["stages"] = [{k: v for k, v in s.items() if k != "freeze"} for s in recipe.get("stages") or []]
    return json.dumps(key, sort_keys=True, default=str)


def run_row(run_dir: Path) -> dict[str, Any]:
    """One finished run folder as a row: recipe, metrics and environment figures."""
    recipe = yaml.safe_load((run_dir / "recipe.yaml").read_text())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    env_path = run_dir / "env.json"
    env = json.loads(env_path.read_text()) if env_path.is_file() else {}
    return {
        "run_dir": run_dir.resolve(), "run": run_dir.name, "task": recipe["task"],
        "dataset": _dataset_label(recipe["data"]), "model": Path(recipe["model"]).name,
        "weights": Path(recipe["weights"]).name if recipe.get("weights") else "",
        "freeze": freeze_label(recipe), "seed": recipe.get("train", {}).get("seed"),
        "config": _group_key(recipe, drop_freeze=False), "family": _group_key(recipe, drop_freeze=True),
        "frozen_layers": metrics["frozen_layers"], "params_trainable": metrics["params_trainable"],
        "params_total": metrics["params_total"], "memory_kind": metrics.get("memory_kind"),
        **{k: metrics.get(k) for k in METRICS}, "per_class": metrics.get("per_class") or {},
        **{k: env.get(k) for k in ENV_KEYS},
    }


def _run_folders(folder: Path) -> list[Path]:
    if is_sweep_dir(folder):
        return sorted(p for p in (folder / POINTS).glob("*") if p.is_dir())
    if (folder / "recipe.yaml").is_file():
        return [folder]
    raise UserError(f"{folder}: not a run folder (no recipe.yaml) nor a sweep folder (no sweep.json)")


def collect(folders: list[Path], skip_incomplete: bool = False) -> Collected:
    """Read every run in the given run or sweep folders; unfinished ones are an error unless skipped."""
    found, incomplete = Collected(), []
    for folder in folders:
        if not folder.is_dir():
            raise UserError(f"{folder}: no such folder")
        for run_dir in _run_folders(folder):
            status = json.loads((run_dir / STATUS).read_text()) if (run_dir / STATUS).is_file() else {}
            if (run_dir / "metrics.json").is_file():
                found.runs.append(run_row(run_dir))
            elif status.get("returncode", 0) != 0:
                found.failed.append({"run_dir": run_dir.resolve(), "run": run_dir.name, "error": status["error"]})
            else:
                incomplete.append(run_dir)
    if incomplete and not skip_incomplete:
        raise UserError("no metrics.json in these run folders (unfinished runs; finish them with --resume, or "
                        "pass --skip-incomplete)", [str(p) for p in incomplete])
    found.skipped = incomplete
    if not found.runs:
        raise UserError("nothing to compare: no finished run in " + ", ".join(map(str, folders)))
    return found


def points_table(runs: pd.DataFrame, score: str = "map50_95") -> pd.DataFrame:
    """One row per point (config): mean and `<metric>_std` over its repeats, `n` repeats, its run folders."""
    grouped = runs.groupby("config", sort=False)
    first = grouped[["task", "dataset", "model", "weights", "freeze", "family", "frozen_layers",
                     "params_trainable", "params_total", "memory_kind"]].first()
    numeric = runs[METRICS].apply(pd.to_numeric, errors="coerce").assign(config=runs["config"])
    means = numeric.groupby("config", sort=False)[METRICS].mean()
    stds = numeric.groupby("config", sort=False)[METRICS].std().add_suffix("_std")  # NaN for a single repeat
    extra = grouped.agg(n=("run", "size"), run_dirs=("run_dir", list), seeds=("seed", list))
    points = pd.concat([first, means, stds, extra], axis=1).reset_index()
    points = points.sort_values(["model", "weights", "family", "frozen_layers", "params_trainable"],
                                ascending=[True, True, True, True, False], kind="stable")
    return with_deltas(points.reset_index(drop=True), score)


def with_deltas(points: pd.DataFrame, score: str = "map50_95") -> pd.DataFrame:
    """Deltas against the family's `freeze: none` point: `score` points lost, time and memory saved in %."""
    base = points[points["frozen_layers"] == 0].drop_duplicates("family").set_index("family")
    ref = points["family"].map
    points["map_lost_pts"] = (ref(base[score]) - points[score]) * 100
    points["time_saved_pct"] = (1 - points["time_per_epoch_s"] / ref(base["time_per_epoch_s"])) * 100
    points["memory_saved_pct"] = (1 - points["peak_memory_mb"] / ref(base["peak_memory_mb"])) * 100
    return points.round({"map_lost_pts": 3, "time_saved_pct": 2, "memory_saved_pct": 2})


def per_class_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean per-class mAP50-95 of each point (rows: configs, columns: class names); NaN where a class had no AP."""
    per_class = pd.DataFrame([{"config": c, **pc} for c, pc in zip(runs["config"], runs["per_class"])])
    return per_class.groupby("config", sort=False).mean(numeric_only=True)


def environments(runs: pd.DataFrame) -> pd.DataFrame:
    """The distinct versions and devices the runs were made with, and how many runs each."""
    env = runs[ENV_KEYS].astype(str)
    return env.value_counts().rename("runs").reset_index()
