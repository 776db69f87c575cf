"""Each point's interval and its paired difference to the family's `freeze: none` point, as columns of the points
table (the bootstrap itself: :mod:`pipeline.evaluation.intervals`).

Columns added: ``score_lo`` / ``score_hi`` (the point's score, seeds then images resampled), ``delta_lo_pts`` /
``delta_hi_pts`` (the point minus `freeze: none` in points, paired: positive is better) and ``replicates`` (the
point's resampled scores, for the recommendation's paired comparisons). A point without per-image records (a run
made by an older roadtune) gets NaN there and is shown as "no interval".
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.evaluation.intervals import Replicates, Settings, interval, replicates
from pipeline.evaluation.per_image import PerImage

NO_INTERVAL = "no interval"


def _records(runs: pd.DataFrame) -> dict[str, PerImage | None]:
    """Each run's final per-image record (None where the run has none) by its run folder."""
    return {str(d): PerImage.load(Path(p)) if isinstance(p, str | Path) and Path(p).is_file() else None
            for d, p in zip(runs["run_dir"], runs["per_image"])}


def point_replicates(points: pd.DataFrame, found: Replicates) -> list[np.ndarray | None]:
    """Each point's replicates over seeds and images (None: a run of it has no record)."""
    seed_sets = [sorted(map(str, seeds)) for seeds in points["seeds"]]
    shared = sorted(set.intersection(*(set(s) for s in seed_sets))) if seed_sets else []
    return [found.point({str(s): str(d) for s, d in zip(seeds, dirs)}, shared)
            for seeds, dirs in zip(points["seeds"], points["run_dirs"])]


def with_intervals(points: pd.DataFrame, runs: pd.DataFrame, score: str,
                   settings: Settings) -> tuple[pd.DataFrame, Replicates]:
    """The points with their intervals and paired deltas against their family's `freeze: none` point."""
    found = replicates(_records(runs), score, settings)
    reps = point_replicates(points, found)
    bounds = [interval(r, settings.level) if r is not None else (np.nan, np.nan) for r in reps]
    points = points.assign(**{"score_lo": [b[0] for b in bounds], "score_hi": [b[1] for b in bounds]},
                           replicates=reps)
    base = {family: i for i, family in zip(points.index[::-1], points["family"][::-1])
            if points.at[i, "frozen_layers"] == 0}
    deltas = []
    for i, family in zip(points.index, points["family"]):
        ref = base.get(family)
        pair = None if ref is None or reps[i] is None or reps[ref] is None else (reps[i] - reps[ref]) * 100
        deltas.append(interval(pair, settings.level) if pair is not None else (np.nan, np.nan))
    return points.assign(delta_lo_pts=[d[0] for d in deltas], delta_hi_pts=[d[1] for d in deltas]), found


def paired_bounds(points: pd.DataFrame, a: int, b: int, level: float) -> tuple[float, float]:
    """The interval of point `a` minus point `b` in points (same resamples: paired)."""
    return interval((points.at[a, "replicates"] - points.at[b, "replicates"]) * 100, level)


def has_intervals(points: pd.DataFrame) -> bool:
    """Whether every point of the table has replicates (else the recommendation cannot use intervals)."""
    return "replicates" in points and points["replicates"].map(lambda r: r is not None).all()
