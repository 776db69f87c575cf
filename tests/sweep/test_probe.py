"""--probe-batch: the batch search on memory models, a real probe training on the CPU (its mechanics), the report's
probe columns next to a real tiny sweep, the refusal without a GPU, and (on a GPU) the whole probe."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch
from test_sweep import TRAIN, sweep_recipe

from pipeline.compare.__main__ import main as compare_main
from pipeline.records import Probe
from pipeline.run import main as run_main
from pipeline.sweep.grid import expand
from pipeline.sweep.probe import largest_batch, measure_batch, point_stage_run
from pipeline.sweep.run import SweepSpec, resolve_points, run_sweep

DEPTHS = ["none", "all-but-head"]


class Counted:
    """A memory model `peak(batch)` (None: out of memory) that records the batches it was asked for."""

    def __init__(self, peak) -> None:
        self.peak, self.asked = peak, []

    def __call__(self, batch: int) -> float | None:
        self.asked.append(batch)
        return self.peak(batch)


def test_search_on_a_linear_model_finds_the_largest_batch_in_budget():
    budget = 500 + 40 * 64  # freeze none: 40 MB per image, at batch 64
    measure = Counted(lambda b: 500 + 20 * b)  # a deeper freeze: half the memory per image
    batch = largest_batch(measure, 64, budget, cap=512)
    assert batch == 128 and measure.asked == [64, 128]  # twice the batch is exactly in budget
    measure = Counted(lambda b: 500 + 10 * b)
    batch = largest_batch(measure, 64, budget, cap=512)
    assert batch == 256 and measure.peak(batch) <= budget < measure.peak(batch + 8)
    assert len(set(measure.asked)) <= 4


def test_search_never_returns_a_batch_over_budget_across_a_jump():
    budget = 500 + 40 * 64
    measure = Counted(lambda b: 500 + 20 * b + (1500 if b > 100 else 0))  # e.g. a cuDNN workspace switch
    batch = largest_batch(measure, 64, budget, cap=512)
    assert 64 < batch <= 100 and measure.peak(batch) <= budget and batch % 8 == 0
    assert all(measure.peak(b) > budget for b in measure.asked if b > batch)
    assert len(set(measure.asked)) <= 4


@pytest.mark.parametrize("peak", [lambda b: 3000 if b <= 64 else 9000,  # every larger batch is over budget
                                  lambda b: 3000 if b <= 64 else None])  # or runs out of device memory
def test_search_returns_the_default_batch_when_nothing_larger_fits(peak):
    measure = Counted(peak)
    assert largest_batch(measure, 64, 3060, cap=512) == 64
    assert len(set(measure.asked)) <= 4


def test_search_stops_at_the_cap_and_at_the_default_over_budget():
    assert largest_batch(Counted(lambda b: 10 * b), 16, 10_000, cap=40) == 40  # the line says 1000: the cap
    measure = Counted(lambda b: 10 * b)
    assert largest_batch(measure, 16, 10_000, cap=16) == 16 and measure.asked == [16]
    assert largest_batch(Counted(lambda b: 10 * b), 64, 100, cap=512) == 64  # not even the default is in budget
    measure = Counted(lambda b: 10 * b)
    assert largest_batch(measure, 64, 640, cap=512) == 64 and measure.asked == [64]  # the budget's own point


@pytest.fixture(scope="module")
def tiny_sweep(tmp_path_factory) -> Path:
    """A real two-depth sweep (none, all-but-head) of 1-epoch trainings on 16 synthetic images: its folder."""
    recipe = sweep_recipe(tmp_path_factory.mktemp("recipe"), {"freeze": DEPTHS}, name="probe-sweep")
    runs = tmp_path_factory.mktemp("runs")
    assert run_sweep(recipe, [], runs_dir=runs) == 0
    (folder,) = (runs / "probe-sweep").iterdir()
    return folder


def test_a_probe_training_measures_the_batch_it_asked_for_in_its_own_folder(tiny_sweep, capsys):
    spec = SweepSpec.read(tiny_sweep)
    points = expand(spec.config)
    resolved = resolve_points(spec, points)
    point = points[1].id  # all-but-head
    before = sorted((p, p.stat().st_mtime_ns) for p in (tiny_sweep / "points").rglob("*"))
    stage_run = point_stage_run(resolved[point][0], spec.base_dir, tiny_sweep / "probe" / point)
    assert len(stage_run.frozen) == 22
    measured = measure_batch(stage_run, 8, warmup=1, timed=2)
    assert measured.fits and measured.batch == 8 and measured.train_images == 16
    assert measured.peak_mb is None and measured.device == "cpu"  # GPU memory only; the CPU has none to report
    assert measured.images_per_s > 0
    args = (tiny_sweep / "probe" / point / "stages" / "batch-8" / "args.yaml").read_text()
    assert "batch: 8\n" in args and "epochs: 1000\n" in args and "val: false\n" in args
    assert sorted((p, p.stat().st_mtime_ns) for p in (tiny_sweep / "points").rglob("*")) == before
    assert not list((tiny_sweep / "probe").rglob("*.pt"))  # save=False: no checkpoints (no weights transfer here)


def test_report_shows_the_probe_columns_and_budget(tiny_sweep, tmp_path):
    assert "probe batch" not in (tiny_sweep / "report.md").read_text()  # the sweep's own report: no probe.json yet
    ids = sorted(p.name for p in (tiny_sweep / "points").iterdir())
    entries = [{"point": ids[0], "freeze": "none", "default_batch": 64, "default_images_per_s": 812.5,
                "probe_batch": 64, "probe_peak_mb": 6911.0, "probe_images_per_s": 812.5},
               {"point": ids[1], "freeze": "all-but-head", "default_batch": 64, "default_images_per_s": 1240.0,
                "probe_batch": 208, "probe_peak_mb": 6480.2, "probe_images_per_s": 1911.3}]
    Probe(budget_mb=6911.0, device="NVIDIA H200", default_batch=64, max_batch=512, warmup_batches=2, timed_batches=5,
          points=entries).write(tiny_sweep)
    try:
        assert compare_main([str(tiny_sweep), "--out", str(tmp_path)]) == 0
    finally:
        (tiny_sweep / "probe.json").unlink()
    markdown = (tmp_path / "report.md").read_text()
    assert "6,911 MB `freeze: none` used at batch 64 (NVIDIA H200)" in markdown
    assert "searched up to batch 512" in markdown
    table = [[cell.strip() for cell in line.split("|")[1:-1]] for line in markdown.splitlines()
             if line.startswith("| model") or "freeze-" in line and line.startswith("| ")]
    header, *rows = table
    at = header.index("images/s")
    assert header[at + 1:at + 4] == ["probe batch", "images/s @ default batch (probe)", "images/s @ probe batch"]
    assert [row[at + 1:at + 4] for row in rows] == [["64", "812.5", "812.5"], ["208", "1240.0", "1911.3"]]
    csv = pd.read_csv(tmp_path / "report.csv")
    assert list(csv["probe_batch"]) == [64, 208] and list(csv["probe_images_per_s"]) == [812.5, 1911.3]


@pytest.mark.parametrize("extra, why", [
    (["--set", "train.device=cpu"], "train.device is cpu, but the probe measures peak GPU memory"),
    (["--set", "sweep.freeze=[backbone,all-but-head]", "--set", "train.device=cpu"], "sweep.freeze must list `none`"),
    (["--set", "train.device=0,1"], "--probe-batch measures one GPU"),
    (["--set", "train.batch=-1", "--set", "train.device=cpu"], "train.batch must be a fixed batch size >= 1"),
])
def test_probe_batch_is_refused_before_anything_is_written(tmp_path, capsys, extra, why):
    recipe = sweep_recipe(tmp_path, {"freeze": DEPTHS})
    assert run_main([str(recipe), "--probe-batch", "--runs-dir", str(tmp_path / "runs"), *extra]) == 2
    assert why in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_probe_batch_needs_a_sweep(tmp_path, write_recipe, synth_yaml, capsys):
    recipe = write_recipe({"name": "one", "task": "detect", "model": "yolov8n.yaml", "data": str(synth_yaml),
                           "train": TRAIN})
    assert run_main([str(recipe), "--probe-batch", "--runs-dir", str(tmp_path / "runs")]) == 2
    assert "--probe-batch measures the freeze depths of a sweep" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="--probe-batch measures GPU memory: needs a CUDA GPU")
def test_probe_of_a_tiny_sweep_on_the_gpu(tmp_path):
    recipe = sweep_recipe(tmp_path, {"freeze": DEPTHS})
    assert run_main([str(recipe), "--probe-batch", "--runs-dir", str(tmp_path / "runs")]) == 0
    (sweep,) = (tmp_path / "runs" / "tiny-sweep").iterdir()
    probe = json.loads((sweep / "probe.json").read_text())
    assert probe["budget_mb"] > 0 and probe["default_batch"] == 8 and probe["device"] != "cpu"
    none, deep = probe["points"]
    assert (none["freeze"], none["probe_batch"], none["probe_peak_mb"]) == ("none", 8, probe["budget_mb"])
    assert deep["freeze"] == "all-but-head" and 8 <= deep["probe_batch"] <= 16  # capped at the 16 train images
    assert deep["default_peak_mb"] < probe["budget_mb"] and deep["probe_peak_mb"] <= probe["budget_mb"]
    assert all(e["default_images_per_s"] > 0 and e["probe_images_per_s"] > 0 for e in probe["points"])
    assert {8, deep["probe_batch"]} <= {m["batch"] for m in deep["measurements"]} and len(deep["measurements"]) <= 4
    assert "probe batch" in (sweep / "report.md").read_text()
    assert not list((sweep / "points").rglob("batch-*"))  # probe trainings never go into the points
    # a second --probe-batch keeps the measured probe.json
    assert run_main(["--resume", str(sweep), "--probe-batch"]) == 0
    assert json.loads((sweep / "probe.json").read_text()) == probe
