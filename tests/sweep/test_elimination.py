"""sweep.search method paired: the stop rule on records made by hand (a depth stops only behind a depth that
freezes no more layers, by more than the tolerance over the whole paired interval), its rungs, its refusals, and a
real tiny search on the synthetic set that pauses every point at its rungs, resumes them, and reports."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from test_search import search_recipe

from pipeline.evaluation.intervals import Settings
from pipeline.run import main as run_main
from pipeline.sweep.elimination import rung_epochs, rung_stops

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "evaluation"))
from records import made_record  # noqa: E402

PAIRED = {"method": "paired", "grace_epochs": 1, "reduction": 2, "resamples": 200}


def test_rungs_are_ashas_below_the_last_epoch():
    assert rung_epochs(2, 3, 12) == [2, 6]
    assert rung_epochs(1, 2, 3) == [1, 2]
    assert rung_epochs(4, 3, 4) == []


def _records(rates: dict[str, float], images: int = 400) -> dict:
    return {g: {s: made_record(images, rate, seed=s, jitter=10 + i) for s in range(3)}
            for i, (g, rate) in enumerate(rates.items())}


def test_a_depth_behind_a_shallower_one_stops_and_a_deeper_leader_stops_nothing():
    records = _records({"none": 0.6, "backbone": 0.58, "all-but-head": 0.4})
    frozen = {"none": 0, "backbone": 10, "all-but-head": 23}
    stops = rung_stops(records, frozen, "map50_95", 1.0, Settings(resamples=200))
    assert set(stops) == {"all-but-head"}  # backbone is within the tolerance of none: it goes on
    assert stops["all-but-head"].low > 1.0 and stops["all-but-head"].behind in ("none", "backbone")
    # the same scores with the deep freeze leading: the early-rung bias, so the shallow depth is never stopped
    stops = rung_stops(records, {"none": 23, "backbone": 10, "all-but-head": 0}, "map50_95", 1.0,
                       Settings(resamples=200))
    assert stops == {}


def test_nothing_stops_where_the_intervals_cannot_tell():
    records = _records({"none": 0.6, "backbone": 0.55}, images=12)
    assert rung_stops(records, {"none": 0, "backbone": 10}, "map50_95", 1.0, Settings(resamples=200)) == {}


@pytest.mark.parametrize(("search", "stages", "needle"), [
    ({**PAIRED, "metric": "val_loss"}, None, "val_loss has no per-image record"),
    (PAIRED, [{"name": "head", "epochs": 2}, {"name": "full", "epochs": 2}], "these points have several stages"),
])
def test_a_paired_search_that_cannot_run_is_refused(tmp_path, capsys, search, stages, needle):
    path = search_recipe(tmp_path, {"freeze": ["none", 5], "search": search})
    if stages:
        text = path.read_text() + "stages:\n" + "".join(f"- {{name: {s['name']}, epochs: {s['epochs']}}}\n"
                                                        for s in stages)
        path.write_text(text)
    assert run_main([str(path), "--runs-dir", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err


@pytest.mark.slow
def test_a_paired_search_pauses_at_its_rungs_and_reports(tmp_path):
    path = search_recipe(tmp_path, {"freeze": ["none", 5], "search": PAIRED}, {"epochs": 2})
    assert run_main([str(path), "--runs-dir", str(tmp_path / "runs")]) == 0
    sweep = next((tmp_path / "runs" / "search").iterdir())
    for point in sorted((sweep / "points").iterdir()):
        records = sorted(p.name for p in (point / "stages" / "train" / "per_image").iterdir())
        assert records == ["epoch-001.npz", "epoch-002.npz", "final.npz"]
        console = (point / "console.txt").read_text()
        assert console.count("Resuming training") == 1  # paused after epoch 1 (the rung), resumed from last.pt
        assert json.loads((point / "metrics.json").read_text())["epochs"] == 2
    report = (sweep / "report.md").read_text()
    assert "95 % interval" in report and "Intervals" in report
