"""Intervals over val images and seeds, and paired differences, from per-image records.

A comparison's runs are scored under the same resamples of the val images (:func:`pipeline.evaluation.bootstrap.
image_weights`): resample b draws the images once for every run, so the difference of two points in resample b is
a **paired** difference (the same images for both). A point repeated over seeds first draws its seeds with
replacement (points that share their seeds share the draws: seed-paired), then averages its drawn runs' scores in
resample b. The interval is the percentile interval of the resamples (95 % by default).

>>> import numpy as np
>>> interval(np.arange(1001) / 1000, 0.95)
(0.025, 0.975)
"""

from __future__ import annotations

import zlib
from collections.abc import Hashable
from dataclasses import dataclass, field

import numpy as np

from pipeline.evaluation.bootstrap import image_weights, replicate_scores
from pipeline.evaluation.per_image import PerImage

RESAMPLES = 1000  # default number of resamples: benchmarks/intervals.py measures its cost
LEVEL = 0.95
MIN_IMAGES = 2  # a single image cannot be resampled into anything but itself


@dataclass(frozen=True)
class Settings:
    """How intervals are drawn: resamples, the seed of the draws, the confidence level."""

    resamples: int = RESAMPLES
    seed: int = 0
    level: float = LEVEL


def interval(values: np.ndarray, level: float) -> tuple[float, float]:
    """The percentile interval of `values` at `level` (NaN, NaN when there are no finite values)."""
    finite = values[np.isfinite(values)]
    if not len(finite):
        return float("nan"), float("nan")
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return round(float(low), 6), round(float(high), 6)


@dataclass
class Replicates:
    """Every run's score under the shared image resamples, and per point its replicates over seeds and images.

    `note` says why there are no replicates at all (too few common images, no targets); runs without a record get
    none (their points are marked "no interval").
    """

    scores: dict[Hashable, np.ndarray] = field(default_factory=dict)
    images: int = 0
    note: str = ""
    settings: Settings = field(default_factory=Settings)

    def point(self, runs: dict[Hashable, Hashable], shared_seeds: list[Hashable]) -> np.ndarray | None:
        """Replicates of a point's mean over its runs (seed -> run id): seeds drawn with replacement per resample,
        with the same draws as every point whose seeds are `shared_seeds`; None when a run has no scores."""
        if not runs or any(r not in self.scores for r in runs.values()):
            return None
        seeds = sorted(runs, key=str)
        shared = sorted(shared_seeds, key=str) == seeds
        own = zlib.crc32(" ".join(map(str, seeds)).encode())  # points with other seeds draw apart, reproducibly
        rng = np.random.default_rng([self.settings.seed, 0 if shared else own])
        draws = rng.integers(0, len(seeds), size=(self.settings.resamples, len(seeds)))
        table = np.stack([self.scores[runs[s]] for s in seeds])  # seeds x resamples
        if len(seeds) == 1:
            return table[0]
        return table[draws, np.arange(self.settings.resamples)[:, None]].mean(1)


def replicates(records: dict[Hashable, PerImage | None], score: str, settings: Settings) -> Replicates:
    """Each recorded run's `score` under the same `settings.resamples` draws of the images all records share."""
    present = {k: r for k, r in records.items() if r is not None}
    if not present:
        return Replicates(note="no per-image records (runs made before roadtune kept them)", settings=settings)
    common = set.intersection(*(set(r.images.tolist()) for r in present.values()))
    names = np.array(sorted(common))
    if len(names) < MIN_IMAGES:
        return Replicates(images=len(names), settings=settings,
                          note=f"{len(names)} val image(s) common to the runs: too few to resample")
    weights = image_weights(len(names), settings.resamples, settings.seed)
    scores = {}
    for key, record in present.items():
        same = len(record.images) == len(names) and (record.images == names).all()
        scores[key] = replicate_scores(record if same else record.restricted(names), score, weights)
    if all(np.isnan(s).all() for s in scores.values()):
        return Replicates(images=len(names), settings=settings, note="no targets in the val images: no score")
    return Replicates(scores, len(names), settings=settings)
