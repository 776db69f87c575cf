"""Successive halving over a sweep's points (``sweep.search``), without Ray: the checks that refuse a search before
any work, the metric it compares points by, and the order it starts them in. Running it on Ray Tune is
:mod:`pipeline.sweep.asha`; what each point recorded per epoch, and where a search stopped it, is read by
:mod:`pipeline.compare.epochs`.
"""

from __future__ import annotations

import importlib.util
import random
from typing import Any

from pipeline.compare.epochs import point_stages, rung_metric
from pipeline.recipe.sweep import SweepConfig
from pipeline.sweep.grid import Point, point_raw

RAY_TUNE_INSTALL = "pip install 'roadtune[ray]'"
TASK_METRICS = {"detect": {"map50_95", "map50", "val_loss"},
                "segment": {"map50_95", "map50", "mask_map50_95", "mask_map50", "val_loss"},
                "classify": {"top1", "top5", "val_loss"}}


def trial_order(ids: list[str], seed: int) -> list[str]:
    """The order in which a search starts its points: the grid's, shuffled by `sweep.search.seed`."""
    order = list(ids)
    random.Random(seed).shuffle(order)
    return order


def search_problems(base: dict[str, Any], config: SweepConfig, points: list[Point], devices: str | None) -> list[str]:
    """Why `sweep.search` cannot run on this grid (empty when it can): every problem at once, before any work."""
    search = config.search
    problems = []
    paired = search.method == "paired"
    if not paired and (importlib.util.find_spec("ray") is None or importlib.util.find_spec("ray.tune") is None):
        problems.append(f"sweep.search: ASHA runs on Ray Tune, which is not installed: {RAY_TUNE_INSTALL}")
    if len(points) < 2:
        problems.append(f"sweep.search: a search compares points, and this grid has {len(points)}: add values or "
                        "`repeats`, or remove `search`")
    if devices:
        problems.append("--devices: a search runs its points itself (asha: on Ray, which gives each its device): "
                        "leave --devices out (or give --ray ADDRESS for an asha search on a cluster)")
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
    if paired and metric == "val_loss":
        problems.append("sweep.search.metric: val_loss has no per-image record to resample; method paired compares "
                        "the task's scores (leave `metric` out)")
    if paired and any(len(point_stages(point_raw(base, p))) > 1 for p in points):
        problems.append("sweep.search: method paired compares points by the epochs of one stage; these points have "
                        "several stages (use method asha, or one stage)")
    train = base.get("train") if isinstance(base.get("train"), dict) else {}
    if train.get("val") is False:
        problems.append("train.val: false validates only after the last epoch, and a search compares points after "
                        "every epoch: remove it")
    if str(train.get("device", "cpu")).count(",") or isinstance(train.get("device"), list):
        problems.append(f"train.device={train['device']!r}: a search trains each point on one device: remove it")
    return problems
