"""What each point of a sweep recorded, epoch by epoch, read from its folder alone: its validation score after every
epoch (the stages' results.csv, what a search compares at its rungs), where a search stopped it (status.json), and
the epochs a search trained against its full grid.

A point a search stopped early keeps its folder (results.csv, last.pt) without metrics.json; its status.json holds
``stopped``: the epoch, the rung, the metric and its value there. Finished and stopped points are never trained again.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.recipe.schema import validate_recipe
from pipeline.recipe.stages import plan_stages
from pipeline.recipe.sweep import SearchConfig, SweepConfig, score_of
from pipeline.records import PointStatus, SweepFile
from pipeline.run_folder import POINTS, RECIPE, RESULTS_CSV, is_finished, stage_dir
from pipeline.textfile import read_yaml
from pipeline.ultralytics_api import EPOCH_METRICS, VAL_LOSS_PREFIX


def rung_metric(search: SearchConfig, task: str) -> str:
    """What the search compares points by: `search.metric`, else the task's score (mAP50-95, top-1 for classify)."""
    return search.metric or score_of(task)[0]


def point_stages(recipe: dict[str, Any]) -> list[tuple[str, int]]:
    """(stage name, epochs) of a point's recipe, in the order they train; [] when the recipe is invalid."""
    parsed, _ = validate_recipe(recipe)
    return [(s.name, s.epochs) for s in plan_stages(parsed)] if parsed else []


def recorded_scores(point_dir: Path, stages: list[tuple[str, int]], metric: str) -> list[float]:
    """The point's `metric` after each epoch it finished, over its stages in order (epoch k of the list is the k-th
    epoch the point trained). Rows Ultralytics is still writing are left for the next read."""
    scores: list[float] = []
    for name, epochs in stages:
        csv = stage_dir(point_dir, name) / RESULTS_CSV
        lines = csv.read_text(errors="replace").splitlines(keepends=True) if csv.is_file() else []
        complete = "".join(line for line in lines if line.endswith("\n"))
        if complete.count("\n") < 2:
            break
        table = pd.read_csv(io.StringIO(complete)).rename(columns=str.strip)
        table = table.drop_duplicates("epoch", keep="last").sort_values("epoch")  # a resume may repeat a row
        values = (table.filter(like=VAL_LOSS_PREFIX).sum(axis=1) if metric == "val_loss"
                  else table[EPOCH_METRICS[metric]])
        scores += [round(float(v), 6) for v in values.head(epochs)]
        if len(table) < epochs:
            break
    return scores


def stop_record(point_dir: Path) -> dict[str, Any] | None:
    """Where a search stopped the point (epoch, rung, metric, value), or None when it did not."""
    return PointStatus.read(point_dir).stopped if PointStatus.path(point_dir).is_file() else None


def is_done(point_dir: Path) -> bool:
    """A point nothing trains again: finished (metrics.json), or stopped by a search."""
    return is_finished(point_dir) or stop_record(point_dir) is not None


@dataclass
class Spent:
    """What a search trained: per point the epochs it ran, against the full grid's epochs."""

    epochs: dict[str, int]
    full: int
    stopped: dict[str, dict[str, Any]]

    def epochs_line(self) -> str:
        trained = sum(self.epochs.values())
        return f"trained {trained} of the full grid's {self.full} epochs ({100 * trained / max(self.full, 1):.0f} %)"

    def line(self) -> str:
        return f"{self.epochs_line()}; stopped {len(self.stopped)} of {len(self.epochs)} points early"


def spent(points_dir: Path, stages: dict[str, list[tuple[str, int]]], metric: str) -> Spent:
    """The epochs each point of a search trained (stages: point id -> its stages) and the points it stopped."""
    epochs = {pid: len(recorded_scores(points_dir / pid, s, metric)) for pid, s in stages.items()}
    stopped = {pid: record for pid in stages if (record := stop_record(points_dir / pid))}
    return Spent(epochs, sum(e for s in stages.values() for _, e in s), stopped)


def search_spent(sweep_dir: Path) -> Spent | None:
    """What the search of a sweep folder trained against its full grid (None for a sweep without a search)."""
    base = SweepFile.read(sweep_dir).base
    config = SweepConfig.model_validate(base["sweep"])
    if not config.search:
        return None
    folders = sorted(p for p in (sweep_dir / POINTS).iterdir() if (p / RECIPE).is_file())
    stages = {f.name: point_stages(read_yaml(f / RECIPE, "point recipe")) for f in folders}
    return spent(sweep_dir / POINTS, stages, rung_metric(config.search, base["task"]))
