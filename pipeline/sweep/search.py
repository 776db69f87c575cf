"""Successive halving over a sweep's points (``sweep.search``), without Ray: the checks that refuse a search before
any work, the validation score a point recorded after each epoch (what a search compares at its rungs, read from
the stages' results.csv), and what a search spent. Running it on Ray Tune is :mod:`pipeline.sweep.asha`.

A point a search stopped early keeps its folder (results.csv, last.pt) without metrics.json; its status.json holds
``stopped``: the epoch, the rung, the metric and its value there. Finished and stopped points are never trained again.
"""

from __future__ import annotations

import importlib.util
import io
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.recipe.schema import validate_recipe
from pipeline.recipe.sweep import SearchConfig, SweepConfig, score_of
from pipeline.run_folder import POINT_STATUS, RESULTS_CSV, is_finished, stage_dir
from pipeline.sweep.grid import Point, point_raw
from pipeline.textfile import read_json
from pipeline.train.args import plan_stages
from pipeline.ultralytics_api import EPOCH_METRICS, VAL_LOSS_PREFIX

RAY_TUNE_INSTALL = "pip install 'roadtune[ray]'"
TASK_METRICS = {"detect": {"map50_95", "map50", "val_loss"},
                "segment": {"map50_95", "map50", "mask_map50_95", "mask_map50", "val_loss"},
                "classify": {"top1", "top5", "val_loss"}}


def rung_metric(search: SearchConfig, task: str) -> str:
    """What the search compares points by: `search.metric`, else the task's score (mAP50-95, top-1 for classify)."""
    return search.metric or score_of(task)[0]


def trial_order(ids: list[str], seed: int) -> list[str]:
    """The order in which a search starts its points: the grid's, shuffled by `sweep.search.seed`."""
    order = list(ids)
    random.Random(seed).shuffle(order)
    return order


def point_stages(recipe: dict[str, Any]) -> list[tuple[str, int]]:
    """(stage name, epochs) of a point's recipe, in the order they train; [] when the recipe is invalid."""
    parsed, _ = validate_recipe(recipe)
    return [(s.name, s.epochs) for s in plan_stages(parsed)] if parsed else []


def search_problems(base: dict[str, Any], config: SweepConfig, points: list[Point], devices: str | None) -> list[str]:
    """Why `sweep.search` cannot run on this grid (empty when it can): every problem at once, before any work."""
    search = config.search
    problems = []
    if importlib.util.find_spec("ray") is None or importlib.util.find_spec("ray.tune") is None:
        problems.append(f"sweep.search: ASHA runs on Ray Tune, which is not installed: {RAY_TUNE_INSTALL}")
    if len(points) < 2:
        problems.append(f"sweep.search: a search compares points, and this grid has {len(points)}: add values or "
                        "`repeats`, or remove `search`")
    if devices:
        problems.append("--devices: a search runs its points on Ray, which gives each its device: leave --devices "
                        "out (or give --ray ADDRESS for a cluster)")
    epochs = [sum(e for _, e in point_stages(point_raw(base, p))) for p in points]
    shortest = min((e for e in epochs if e), default=0)
    if shortest and search.grace_epochs >= shortest:
        problems.append(f"sweep.search.grace_epochs: {search.grace_epochs} is not below the {shortest} epochs a point "
                        f"trains, so no point could be stopped: use at most {shortest - 1}")
    task = base.get("task")
    metric = rung_metric(search, task) if task in TASK_METRICS else None
    if metric and metric not in TASK_METRICS[task]:
        problems.append(f"sweep.search.metric: {task} runs have no {metric}; use one of "
                        f"{', '.join(sorted(TASK_METRICS[task]))}")
    train = base.get("train") if isinstance(base.get("train"), dict) else {}
    if train.get("val") is False:
        problems.append("train.val: false validates only after the last epoch, and a search compares points after "
                        "every epoch: remove it")
    if str(train.get("device", "cpu")).count(",") or isinstance(train.get("device"), list):
        problems.append(f"train.device={train['device']!r}: a search trains each point on one device: remove it")
    return problems


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
    status = point_dir / POINT_STATUS
    found = read_json(status, "point status") if status.is_file() else {}
    return found.get("stopped") if isinstance(found, dict) else None


def is_done(point_dir: Path) -> bool:
    """A point nothing trains again: finished (metrics.json), or stopped by a search."""
    return is_finished(point_dir) or stop_record(point_dir) is not None


@dataclass
class Spent:
    """What a search trained: per point the epochs it ran, against the full grid's epochs."""

    epochs: dict[str, int]
    full: int
    stopped: dict[str, dict[str, Any]]

    def line(self) -> str:
        trained = sum(self.epochs.values())
        return (f"trained {trained} of the full grid's {self.full} epochs ({100 * trained / max(self.full, 1):.0f} %); "
                f"stopped {len(self.stopped)} of {len(self.epochs)} points early")


def spent(points_dir: Path, stages: dict[str, list[tuple[str, int]]], metric: str) -> Spent:
    """The epochs each point of a search trained (stages: point id -> its stages) and the points it stopped."""
    epochs = {pid: len(recorded_scores(points_dir / pid, s, metric)) for pid, s in stages.items()}
    stopped = {pid: record for pid in stages if (record := stop_record(points_dir / pid))}
    return Spent(epochs, sum(e for s in stages.values() for _, e in s), stopped)
