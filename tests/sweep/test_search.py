"""sweep.search (ASHA on Ray Tune): refusals before any work, the per-epoch scores a search compares, and a real
tiny search on the synthetic set that stops a point, is killed, resumes without training a finished or stopped
point again, and is read back by pipeline.compare."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import REPO, write_synth_yaml

from pipeline.compare.__main__ import main as compare_main
from pipeline.run import main as run_main
from pipeline.sweep.search import trial_order

# nbs = batch: every batch is an optimizer step (Ultralytics accumulates to nbs=64 by default: one step in 4 epochs)
TRAIN = {"epochs": 3, "imgsz": 64, "batch": 8, "nbs": 8, "workers": 0, "plots": False, "optimizer": "SGD",
         "warmup_epochs": 0}
ASHA = {"method": "asha", "grace_epochs": 1, "reduction": 2, "metric": "val_loss"}


def search_recipe(folder: Path, sweep: dict, train: dict | None = None) -> Path:
    data = write_synth_yaml(folder)
    recipe = {"name": "search", "task": "detect", "model": "yolov8n.yaml", "data": data.name,
              "train": {**TRAIN, **(train or {})}, "sweep": sweep}
    path = folder / "search.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


@pytest.mark.parametrize(("sweep", "train", "needle"), [
    ({"freeze": ["none", 5], "search": {**ASHA, "grace_epochs": 3}}, {},
     "sweep.search.grace_epochs: 3 is not below the 3 epochs a point trains"),
    ({"freeze": ["none", 5], "search": {**ASHA, "reduction": 1}}, {},
     "sweep.search.reduction: Input should be greater"),
    ({"freeze": ["none"], "search": ASHA}, {}, "a search compares points, and this grid has 1"),
    ({"freeze": ["none", 5], "search": {**ASHA, "metric": "top1"}}, {},
     "sweep.search.metric: detect runs have no top1"),
    ({"freeze": ["none", 5], "search": ASHA}, {"val": False}, "train.val: false validates only after the last epoch"),
])
def test_a_search_that_cannot_run_is_refused_before_any_work(tmp_path, capsys, sweep, train, needle):
    path = search_recipe(tmp_path, sweep, train)
    assert run_main([str(path), "--runs-dir", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err, err
    assert not (tmp_path / "runs").exists()


def test_a_search_without_ray_prints_the_pip_line(tmp_path, capsys, monkeypatch):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name.startswith("ray") else
                        find_spec(name, *a))
    path = search_recipe(tmp_path, {"freeze": ["none", 5], "search": ASHA})
    assert run_main([str(path), "--runs-dir", str(tmp_path / "runs"), "--devices", "0,1"]) == 2
    err = capsys.readouterr().err
    assert "ASHA runs on Ray Tune, which is not installed: pip install 'roadtune[ray]'" in err, err
    assert "--devices: a search runs its points itself" in err  # every problem at once
    assert not (tmp_path / "runs").exists()


def _start(path: Path, runs: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pipeline.run", str(path), "--runs-dir", str(runs)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def _points(runs: Path) -> dict[str, Path]:
    return {p.name: p for p in runs.glob("search/*/points/*")}


@pytest.mark.slow
def test_a_tiny_search_stops_a_point_resumes_after_a_kill_and_reports(tmp_path):
    # lr0 1e-6 barely moves the weights: its validation loss trails the others' from the first rung on. The order
    # puts a learning point first, so the scheduler has a result to compare the slow one with.
    ids = ["0-lr0-0.05-s0", "1-lr0-1e-06-s0", "2-lr0-0.02-s0"]
    seed = next(s for s in range(20) if trial_order(ids, s)[0] != ids[1] and trial_order(ids, s)[2] != ids[1])
    path = search_recipe(tmp_path, {"train.lr0": [0.05, 1e-6, 0.02], "search": {**ASHA, "seed": seed}})
    runs = tmp_path / "runs"
    first = _start(path, runs)
    deadline = time.time() + 300
    while not any((p / "metrics.json").is_file() for p in _points(runs).values()):  # one point finished
        assert first.poll() is None and time.time() < deadline, first.stdout.read() if first.poll() else "slow"
        time.sleep(0.5)
    finished = {n: (p / "stages/train/results.csv").read_bytes() for n, p in _points(runs).items()
                if (p / "metrics.json").is_file()}
    holders = [int(t) for p in _points(runs).values() if (p / ".lock").is_file() and (t := (p / ".lock").read_text())]
    os.killpg(first.pid, signal.SIGKILL)  # the search and its local Ray: no last words
    first.wait()
    deadline = time.time() + 60
    while any(Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split(")")[1][:3]
              for pid in holders) and time.time() < deadline:  # Ray ends the trials, the workers die with them
        time.sleep(0.5)

    second = _start(path, runs)
    out, _ = second.communicate(timeout=600)
    assert second.returncode == 0, out
    points = _points(runs)
    for name, before in finished.items():
        assert (points[name] / "stages/train/results.csv").read_bytes() == before, f"{name} trained again"
    status = {n: json.loads((p / "status.json").read_text()) for n, p in points.items()}
    stopped = {n: s["stopped"] for n, s in status.items() if s.get("stopped")}
    assert "1-lr0-1e-06-s0" in stopped and trial_order(ids, seed)[0] not in stopped, status
    assert stopped["1-lr0-1e-06-s0"]["epoch"] == 1 and stopped["1-lr0-1e-06-s0"]["metric"] == "val_loss"
    assert not (points["1-lr0-1e-06-s0"] / "metrics.json").exists()
    assert all((points[n] / "metrics.json").is_file() != (n in stopped) for n in points)

    (sweep_dir,) = runs.glob("search/*")
    assert compare_main([str(sweep_dir), "--out", str(tmp_path / "report")]) == 0  # stopped is not unfinished
    report = (tmp_path / "report" / "report.md").read_text()
    assert "1-lr0-1e-06-s0" in report and "stopped at epoch 1" in report
