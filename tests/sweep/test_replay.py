"""The paired search replayed on a recorded full grid (tests/fixtures/recorded-grid: kitti_mini, 3 depths x 3 seeds,
10 epochs, per-image records at the rungs of grace 2 / reduction 2 and at the end, predictions below confidence
0.01 dropped to keep it small): what it stops, that its answer is never one the full grid rejects."""

from __future__ import annotations

from pathlib import Path

from pipeline.sweep.replay import replay_paired

GRID = Path(__file__).resolve().parents[1] / "fixtures" / "recorded-grid"


def test_a_replay_of_a_recorded_grid_names_no_depth_the_full_grid_rejects():
    row = replay_paired(GRID, grace=2, reduction=2.0, seed=0, tolerance=1.0, resamples=200)
    assert row["names a rejected depth"] is False and row["names a depth not shown within"] is False
    assert row["search"] == row["full grid"] == "backbone"
    # every depth lies within 1.6 points of the others: none is shown behind a shallower one, so nothing stops
    assert row["stopped"] == "—" and row["epochs"] == "100 %"
