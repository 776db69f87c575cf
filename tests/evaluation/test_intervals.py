"""Intervals and paired differences from per-image records made by hand (tests/evaluation/records.py)."""

from __future__ import annotations

import numpy as np
from records import made_record

from pipeline.evaluation.intervals import Settings, interval, replicates
from pipeline.evaluation.per_image import PerImage


def _delta(scores: dict, a: str, b: str) -> tuple[float, float]:
    return interval((scores[a] - scores[b]) * 100, 0.95)


def test_a_known_margin_is_found_and_identical_predictions_give_zero():
    records = {"good": made_record(200, 0.7, seed=1), "worse": made_record(200, 0.5, seed=1),
               "copy": made_record(200, 0.7, seed=1)}
    found = replicates(records, "map50_95", Settings(resamples=300))
    low, high = _delta(found.scores, "good", "worse")
    assert low > 0  # the margin (about 12 points of mAP50-95 here) is outside the noise: 0 is excluded
    assert low < 100 * (np.mean(found.scores["good"]) - np.mean(found.scores["worse"])) < high
    assert _delta(found.scores, "good", "copy") == (0.0, 0.0)  # identical predictions: exactly 0, 0 included


def test_seeds_are_drawn_alike_for_points_that_share_them():
    records = {f"{d}-s{s}": made_record(60, rate, seed=7, jitter=s) for d, rate in (("a", 0.6), ("b", 0.6))
               for s in range(3)}
    found = replicates(records, "map50_95", Settings(resamples=200))
    a = found.point({s: f"a-s{s}" for s in range(3)}, shared_seeds=[0, 1, 2])
    b = found.point({s: f"b-s{s}" for s in range(3)}, shared_seeds=[0, 1, 2])
    assert np.array_equal(a, b)  # same records per seed, same seed draws, same image draws
    alone = found.point({s: f"b-s{s}" for s in range(2)}, shared_seeds=[0, 1, 2])
    assert alone is not None and not np.array_equal(alone, a)
    assert found.point({0: "missing"}, shared_seeds=[0]) is None  # a run without a record: no interval


def test_records_over_other_images_are_paired_on_the_common_ones():
    whole = made_record(40, 0.6, seed=3)
    part = whole.restricted(whole.images[:30])
    found = replicates({"whole": whole, "part": part}, "map50_95", Settings(resamples=100))
    assert found.images == 30
    assert np.array_equal(found.scores["whole"], found.scores["part"])


def test_too_few_images_or_no_records_say_so():
    one = made_record(1, 0.6, seed=3)
    assert "too few" in replicates({"a": one}, "map50_95", Settings(resamples=100)).note
    assert "no per-image records" in replicates({"a": None}, "map50_95", Settings(resamples=100)).note
    empty = PerImage("detect", np.array(["1.jpg", "2.jpg"]))
    assert "no targets" in replicates({"a": empty}, "map50_95", Settings(resamples=100)).note
