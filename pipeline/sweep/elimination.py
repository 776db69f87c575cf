"""``sweep.search: {method: paired}``: successive elimination on paired intervals, a search that stops a freeze depth
only when the data show it behind.

The points train in rounds up to each rung (``grace_epochs * reduction^k`` epochs, as ASHA's rungs), every seed of a
depth alike. At a rung, every depth's seeds are scored from their per-image records of that epoch (the point
recipes get ``per_image: epochs``) under the same resampled val images and seeds
(:mod:`pipeline.evaluation.intervals`). A depth is stopped, all its seeds together, only when a depth that freezes
**no more** layers is ahead of it by more than the tolerance over its whole paired interval. Why only those: deeper
freezes lead early and shallower ones overtake them later (the early-stopping bias measured in
docs/performance.md), so a shallower depth ahead early stays ahead, while a deeper one ahead early may not. The
report then recommends from the depths that ran to the end, with their intervals, and lists the stopped ones.

A round trains a point until its rung and stops its process after that epoch's checkpoint (epochs.jsonl is written
after last.pt); the next round resumes it from last.pt, as any interrupted run. Running the sweep again replays
the same decisions from the same records.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.compare.epochs import spent
from pipeline.compare.results import group_key
from pipeline.evaluation.intervals import Settings, interval, replicates
from pipeline.evaluation.per_image import PerImage
from pipeline.records import PointStatus
from pipeline.run_folder import EPOCHS_LOG, POINTS, RECIPE, TRAIN_ARGS, per_image_file, stage_dir
from pipeline.sweep.executors import finish_point, start_point
from pipeline.textfile import read_yaml
from pipeline.train.metrics import read_epochs

LOG = logging.getLogger("roadtune")
POLL_S = 0.5


def rung_epochs(grace: int, reduction: float, max_epochs: int) -> list[int]:
    """The epochs below `max_epochs` at which depths are compared: grace, grace*reduction, ... (rounded)."""
    rungs, k = [], 0
    while (epoch := round(grace * reduction**k)) < max_epochs:
        rungs += [] if epoch in rungs else [epoch]
        k += 1
    return rungs


@dataclass(frozen=True)
class Stop:
    """Why a depth stops at a rung: the shallower-or-equal depth ahead of it, and by how much (paired interval)."""

    behind: str
    low: float
    high: float
    value: float


def rung_stops(records: dict[str, dict[Any, PerImage]], frozen: dict[str, int], score: str, tolerance: float,
               settings: Settings) -> dict[str, Stop]:
    """The depths (group -> seed -> record at the rung) to stop: those that a depth freezing no more layers leads
    by more than `tolerance` points over the whole paired interval. None without records to compare."""
    found = replicates({(g, s): r for g, seeds in records.items() for s, r in seeds.items()}, score, settings)
    if found.note:
        return {}
    shared = sorted(set.intersection(*(set(map(str, seeds)) for seeds in records.values())))
    points = {g: found.point({str(s): (g, s) for s in seeds}, shared) for g, seeds in records.items()}
    stops = {}
    for group, reps in points.items():
        leaders = [(interval((points[p] - reps) * 100, settings.level), p) for p in points
                   if p != group and frozen[p] <= frozen[group]]
        ahead = [(bounds, p) for bounds, p in leaders if bounds[0] > tolerance]
        if ahead:
            (low, high), leader = max(ahead)
            stops[group] = Stop(leader, low, high, round(float(reps.mean()), 5))
    return stops


def _epochs_done(point_dir: Path, stage: str) -> int:
    """Epochs the point's stage finished, checkpoint included (its epochs.jsonl is written after last.pt)."""
    return len(read_epochs(stage_dir(point_dir, stage) / EPOCHS_LOG))


def train_until(point_dir: Path, stage: str, epoch: int | None) -> PointStatus | None:
    """Train a point up to `epoch` (None: to its end) in its own process, stopped after that epoch's checkpoint;
    its status when it ended on its own (finished or failed), None when it was paused at the rung."""
    if epoch is not None and _epochs_done(point_dir, stage) >= epoch:
        return None
    start, proc = time.perf_counter(), start_point(point_dir)
    while (result := finish_point(proc, point_dir, None, start, block=False)) is None:
        if epoch is not None and _epochs_done(point_dir, stage) >= epoch:
            os.kill(proc.pid, signal.SIGKILL)  # after last.pt: the next round resumes from it
            finish_point(proc, point_dir, None, start)
            return None
        time.sleep(POLL_S)
    return result


def frozen_layers(point_dir: Path, stage: str) -> int:
    """Layers the point freezes, from its stage's Ultralytics arguments (written when its training started)."""
    freeze = read_yaml(stage_dir(point_dir, stage) / TRAIN_ARGS, "train arguments file").get("freeze")
    return len(freeze) if isinstance(freeze, list) else int(freeze or 0)


def run_elimination(sweep_dir: Path, ids: list[str], stage: str, epochs: int, grace: int, reduction: float,
                    score: str, tolerance: float, settings: Settings) -> list[PointStatus]:
    """Run the search over the points `ids` (single-stage, `epochs` each); return the failed points."""
    points_dir = sweep_dir / POINTS
    recipes = {pid: read_yaml(points_dir / pid / RECIPE, "point recipe") for pid in ids}
    groups: dict[str, list[str]] = {}
    for pid, recipe in recipes.items():
        groups.setdefault(group_key(recipe, drop_freeze=False), []).append(pid)
    failed, stopped = [], set()
    for k, rung in enumerate([*rung_epochs(grace, reduction, epochs), epochs]):
        final = rung == epochs
        for pid in [p for key, members in groups.items() if key not in stopped for p in members]:
            status = None if PointStatus.path(points_dir / pid).is_file() else train_until(
                points_dir / pid, stage, None if final else rung)
            if status is not None:
                status.write(points_dir / pid)
                failed += [] if status.ok else [status]
        if final:
            break
        live = {key: members for key, members in groups.items() if key not in stopped and
                all(per_image_file(stage_dir(points_dir / p, stage), rung).is_file() for p in members)}
        records = {key: {recipes[p]["train"]["seed"]:
                         PerImage.load(per_image_file(stage_dir(points_dir / p, stage), rung)) for p in members}
                   for key, members in live.items()}
        frozen = {key: frozen_layers(points_dir / members[0], stage) for key, members in live.items()}
        for key, stop in rung_stops(records, frozen, score, tolerance, settings).items():
            stopped.add(key)
            leader = recipes[live[stop.behind][0]].get("freeze", "none")
            for pid in live[key]:
                PointStatus(point=pid, returncode=None, stopped={
                    "epoch": rung, "rung": k + 1, "metric": score, "value": stop.value, "max_epochs": epochs,
                    "behind": str(leader), "interval": [stop.low, stop.high]}).write(points_dir / pid)
            LOG.info(f"search: stopped {', '.join(live[key])} at epoch {rung}: freeze `{leader}` is ahead by "
                     f"[{stop.low:+.1f}, {stop.high:+.1f}] points of {score}")
    LOG.info(f"search: {spent(points_dir, {pid: [(stage, epochs)] for pid in ids}, score).line()}")
    return failed
