"""Real sweeps of tiny trainings: grid, points as child processes, report, resume, failures, Ray executor."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import write_synth_yaml

from pipeline.bootstrap import bootstrap
from pipeline.errors import UserError
from pipeline.sweep.run import run_sweep

TRAIN = {"epochs": 1, "imgsz": 64, "batch": 8, "workers": 0, "plots": False}
DEPTHS = ["none", "backbone", "all-but-head"]
# Columns that do not depend on timing or the executor; equal seeds on the CPU give equal figures.
STABLE = ["model", "freeze", "frozen_layers", "params_trainable", "params_total", "n", "map50", "map50_95",
          "precision", "recall", "epochs"]


def sweep_recipe(folder: Path, sweep: dict, name: str = "tiny-sweep") -> Path:
    """A 1-epoch, 64 px sweep recipe on 16 synthetic images, written into `folder`."""
    bootstrap()
    data = write_synth_yaml(folder)
    recipe = {"name": name, "task": "detect", "model": "yolov8n.yaml", "data": data.name, "train": TRAIN,
              "sweep": sweep}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def recipe(tmp_path_factory) -> Path:
    return sweep_recipe(tmp_path_factory.mktemp("recipe"), {"freeze": DEPTHS})


@pytest.fixture(scope="module")
def sweep(recipe, tmp_path_factory) -> Path:
    """The three-depth sweep, run once with the sequential executor; its folder."""
    runs = tmp_path_factory.mktemp("runs")
    assert run_sweep(recipe, [], runs_dir=runs) == 0
    (folder,) = (runs / "tiny-sweep").iterdir()
    return folder


def point_ids(folder: Path) -> list[str]:
    return sorted(p.name for p in (folder / "points").iterdir())


@pytest.mark.slow
def test_sweep_report_rows_plots_and_recommendation(sweep):
    report = pd.read_csv(sweep / "report.csv")
    assert list(report["freeze"]) == DEPTHS
    assert list(report["frozen_layers"]) == [0, 10, 22]
    assert report["params_trainable"].is_monotonic_decreasing and report["params_trainable"].is_unique
    for point, row in zip(point_ids(sweep), report.itertuples()):
        metrics = json.loads((sweep / "points" / point / "metrics.json").read_text())
        assert (row.params_trainable, row.map50_95, row.time_per_epoch_s) == (
            metrics["params_trainable"], metrics["map50_95"], metrics["time_per_epoch_s"])
        status = json.loads((sweep / "points" / point / "status.json").read_text())
        assert status["returncode"] == 0 and status["peak_rss_mb"] > 100  # a child running torch
    assert report.loc[0, "map_lost_pts"] == 0 and report["time_saved_pct"].notna().all()
    page = (sweep / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 5
    markdown = (sweep / "report.md").read_text()
    no_signal = report["map50_95"].max() < 0.01
    verdict = "- **No signal**: the best mAP50-95" if no_signal else "- **yolov8n.yaml**: "  # a depth, or no signal
    assert "**Recommendation**" in markdown and verdict in markdown
    assert "[0-freeze-none-s0](points/0-freeze-none-s0)" in markdown and "8.4." in markdown
    assert {p.name for p in sweep.glob("*.png")} == {"map-vs-depth.png", "time-vs-depth.png", "memory-vs-depth.png",
                                                     "accuracy-vs-cost.png", "per-class-ap.png"}


def test_dry_run_lists_points_and_plans(recipe, tmp_path, capsys):
    assert run_sweep(recipe, ["sweep.repeats=2"], runs_dir=tmp_path, dry_run=True) == 0
    out = capsys.readouterr().out
    assert "6 points:" in out and "2-freeze-all-but-head-s1: freeze=\"all-but-head\", train.seed=1" in out
    assert out.count("trainable") >= 3 * 10 and "frozen layers: 22" in out
    assert not any(tmp_path.iterdir()), "a dry run creates no folder"


@pytest.mark.parametrize(("grid", "expected"), [
    ({"frezee": ["none"]}, "sweep.frezee=\"none\": frezee: Extra inputs are not permitted (did you mean `freeze`?)"),
    ({"train.epoch": [1, 2]}, "sweep.train.epoch=1: train.epoch: not an Ultralytics train argument"),
    ({"freeze": "none"}, "sweep.freeze: Input should be a valid list"),
    ({"train.seed": [1]}, "sweep.train.seed: cannot be swept"),
    ({"freeze": [99]}, "0-freeze-99-s0: freeze: 99 goes beyond the model's 23 layers"),
])
def test_bad_grid_is_reported_before_training(tmp_path, grid, expected):
    with pytest.raises(UserError) as info:
        run_sweep(sweep_recipe(tmp_path, grid), [], runs_dir=tmp_path / "runs")
    assert any(p.startswith(expected) for p in info.value.problems), info.value.problems
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_rerun_and_resume_run_only_the_missing_points(sweep, recipe, tmp_path, capsys):
    runs = tmp_path / "runs"
    copy = shutil.copytree(sweep, runs / "tiny-sweep" / "20000101-000000")
    *finished, killed = [copy / "points" / p for p in point_ids(copy)]
    # The state a point killed during its first epoch leaves: recipe, env and log, no weights, no metrics.
    for name in ("metrics.json", "status.json", "stages"):
        shutil.rmtree(killed / name) if (killed / name).is_dir() else (killed / name).unlink()
    kept = {p: p.stat().st_mtime_ns for point in finished for p in point.rglob("*")}

    assert run_sweep(recipe, [], runs_dir=runs) == 0  # the same command again continues the unfinished sweep
    assert "3 points, 2 finished, 1 to run" in capsys.readouterr().out
    assert [p.name for p in (runs / "tiny-sweep").iterdir()] == [copy.name]
    assert {p: p.stat().st_mtime_ns for point in finished for p in point.rglob("*")} == kept, "finished: untouched"
    assert json.loads((killed / "metrics.json").read_text())["epochs"] == 1
    assert len(pd.read_csv(copy / "report.csv")) == 3

    assert run_sweep(None, [], resume_dir=copy) == 0
    assert "3 points, 3 finished, 0 to run" in capsys.readouterr().out


@pytest.mark.slow
def test_failing_point_is_recorded_and_the_others_finish(tmp_path):
    # batch 1 at 32 px passes every recipe check and fails in the point's trainer: the 1x1 coarsest feature map of
    # a single image leaves BatchNorm one value per channel (torch: "Expected more than 1 value per channel")
    recipe = sweep_recipe(tmp_path, {"train.batch": [1, 8]}, name="failing")
    spec = yaml.safe_load(recipe.read_text())
    spec["train"] = {**spec["train"], "imgsz": 32}
    recipe.write_text(yaml.safe_dump(spec, sort_keys=False))
    assert run_sweep(recipe, [], runs_dir=tmp_path / "runs", devices="cpu,cpu") == 1
    (folder,) = (tmp_path / "runs" / "failing").iterdir()
    status = json.loads((folder / "points" / "0-batch-1-s0" / "status.json").read_text())
    assert status["returncode"] != 0 and "value per channel" in status["error"] and status["device"] == "cpu"
    assert (folder / "points" / "1-batch-8-s0" / "metrics.json").is_file()
    report = pd.read_csv(folder / "report.csv")
    assert len(report) == 1 and report.loc[0, "epochs"] == 1
    markdown = (folder / "report.md").read_text()
    assert "## Failed points" in markdown and status["error"][:60] in markdown


@pytest.mark.slow
def test_ray_executor_gives_the_same_rows(sweep, tmp_path):
    ray = pytest.importorskip("ray", reason="Ray is optional: pip install 'roadtune[ray]'")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        spec = json.loads((sweep / "sweep.json").read_text())
        recipe = Path(spec["base_dir"]) / "tiny-sweep.yaml"
        assert run_sweep(recipe, [], runs_dir=tmp_path, ray_address="local") == 0
    finally:
        ray.shutdown()
    (folder,) = (tmp_path / "tiny-sweep").iterdir()
    on_ray, sequential = pd.read_csv(folder / "report.csv"), pd.read_csv(sweep / "report.csv")
    pd.testing.assert_frame_equal(on_ray[STABLE], sequential[STABLE])


@pytest.mark.slow
def test_prestarted_points_give_the_same_rows(sweep, recipe, tmp_path, monkeypatch):
    """$ROADTUNE_PRESTART=1 (the default from 8 cores): each next point's child imports while the current one
    trains, then goes; the rows are those of the plain sequential sweep."""
    monkeypatch.setenv("ROADTUNE_PRESTART", "1")
    assert run_sweep(recipe, [], runs_dir=tmp_path / "runs") == 0
    (folder,) = (tmp_path / "runs" / "tiny-sweep").iterdir()
    statuses = [json.loads((folder / "points" / p / "status.json").read_text()) for p in point_ids(folder)]
    assert [s["returncode"] for s in statuses] == [0, 0, 0]
    pd.testing.assert_frame_equal(pd.read_csv(folder / "report.csv")[STABLE], pd.read_csv(sweep / "report.csv")[STABLE])


def test_a_prestarted_point_told_nothing_exits_untouched(recipe, tmp_path):
    """The sweep ended (or was stopped) before this point's turn: stdin closes without `go`, nothing is written."""
    import subprocess
    import sys

    run_dir = tmp_path / "point"
    run_dir.mkdir()
    (run_dir / "recipe.yaml").write_text(recipe.read_text())
    done = subprocess.run([sys.executable, "-m", "pipeline.sweep.worker", str(run_dir), "--wait-for-go"],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in run_dir.iterdir()) == ["recipe.yaml"]
