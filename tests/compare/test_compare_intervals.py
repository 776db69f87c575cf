"""The freeze recommendation from paired intervals: it names a depth only where the intervals show one, and flips
from "no signal" to a depth as the val split grows (per-image records made by hand)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.compare.intervals import with_intervals
from pipeline.compare.recommend import freeze_verdicts, recommend
from pipeline.evaluation.bootstrap import replicate_scores
from pipeline.evaluation.intervals import Settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "evaluation"))
from records import made_record  # noqa: E402

DEPTHS = [("none", 0, 0.60, 3_000_000), ("backbone", 10, 0.595, 1_500_000), ("all-but-head", 23, 0.45, 300_000)]


def comparison(tmp_path: Path, images: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Runs and points of a 3-depth comparison, one seed, whose records score like DEPTHS' hit rates on
    `images` val images."""
    runs, points = [], []
    for freeze, frozen, rate, params in DEPTHS:
        record = made_record(images, rate, seed=5, jitter=frozen)
        path = record.save(tmp_path / f"{images}-{freeze}" / "final.npz")
        score = float(replicate_scores(record, "map50_95", np.ones((1, images)))[0])
        runs.append({"run_dir": str(path.parent), "per_image": path})
        points.append({"model": "yolov5nu.yaml", "weights": "", "freeze": freeze, "frozen_layers": frozen,
                       "params_trainable": params, "n": 1, "map50_95": score, "config": freeze, "family": "f",
                       "seeds": [0], "run_dirs": [str(path.parent)], "memory_kind": "rss",
                       "time_saved_pct": frozen * 2.0, "memory_saved_pct": frozen * 1.0})
    return pd.DataFrame(runs), pd.DataFrame(points)


def test_the_recommendation_flips_from_no_signal_to_a_depth_as_val_grows(tmp_path):
    texts = {}
    for images in (20, 2000):
        runs, points = comparison(tmp_path, images)
        points, _ = with_intervals(points, runs, "map50_95", Settings(resamples=300))
        texts[images] = recommend(points, tolerance=1.0)
    assert "no signal" in texts[20] and "nothing is recommended" in texts[20]
    assert "freeze `backbone`" in texts[2000] and "no signal" not in texts[2000]
    assert "Shown more than 1 point(s) behind another depth: `all-but-head` (at least" in texts[2000]


def test_verdicts_and_paired_deltas_against_freeze_none(tmp_path):
    runs, points = comparison(tmp_path, 2000)
    points, found = with_intervals(points, runs, "map50_95", Settings(resamples=300))
    verdicts = freeze_verdicts(points, 1.0, 0.95)
    assert verdicts["verdict"].tolist() == ["within", "within", "rejected"]
    assert points.at[0, "delta_lo_pts"] == points.at[0, "delta_hi_pts"] == 0.0  # none against itself
    assert points.at[2, "delta_hi_pts"] < -10  # all-but-head: more than 10 points lost, the whole interval
    assert (points["score_lo"] < points["map50_95"]).all() and (points["map50_95"] < points["score_hi"]).all()
    assert found.images == 2000


def test_runs_without_records_are_marked_and_still_recommended(tmp_path):
    runs, points = comparison(tmp_path, 50)
    runs.loc[1, "per_image"] = None  # a run made before per-image records
    points, _ = with_intervals(points, runs, "map50_95", Settings(resamples=100))
    assert points["score_lo"].isna().tolist() == [False, True, False]
    assert "no interval" in recommend(points, tolerance=1.0)
