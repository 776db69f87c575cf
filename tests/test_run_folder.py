"""Reliability: one process per run, a finished run is read-only, --resume only resumes, write faults are exit 2."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from conftest import REPO, point_folder

from pipeline.run import main as run_main
from pipeline.run_folder import LOCK, create_run_dir, hold
from pipeline.sweep.worker import main as worker_main


@pytest.fixture
def interrupted_run(tmp_path, synth_yaml, tiny_train) -> Path:
    """A run folder as a killed run leaves it before its first epoch: recipe.yaml and nothing else."""
    run_dir = tmp_path / "runs" / "r" / "20261201-000000"
    run_dir.mkdir(parents=True)
    recipe = {"name": "r", "task": "detect", "model": "yolov8n.yaml", "data": str(synth_yaml), "train": tiny_train}
    (run_dir / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    return run_dir


def run_cli(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline.run", *argv], cwd=REPO, capture_output=True, text=True,
                          timeout=300)


def test_a_second_process_on_a_run_is_refused_with_the_holders_pid(interrupted_run):
    with hold(interrupted_run):
        done = run_cli("--resume", str(interrupted_run))
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"in use by process {os.getpid()}" in done.stderr and "Traceback" not in done.stderr
    assert not (interrupted_run / "stages").exists(), "the refused process must not start training"


def test_resume_dry_run_says_what_would_resume_and_trains_nothing(interrupted_run, capsys):
    assert run_main(["--resume", str(interrupted_run), "--dry-run"]) == 0
    assert "would resume" in capsys.readouterr().out
    assert sorted(p.name for p in interrupted_run.iterdir()) == ["recipe.yaml"]


@pytest.mark.parametrize("extra", [["recipes/quickstart.yaml"], ["--set", "train.epochs=5"]])
def test_resume_with_a_recipe_or_set_is_an_error(interrupted_run, capsys, extra):
    assert run_main(["--resume", str(interrupted_run), *extra]) == 2
    assert "--resume continues a run with the recipe it was started with" in capsys.readouterr().err
    assert sorted(p.name for p in interrupted_run.iterdir()) == ["recipe.yaml"]


def test_a_finished_run_is_read_only_to_every_flag(interrupted_run, capsys):
    (interrupted_run / "metrics.json").write_text(json.dumps({"epochs": 1}))
    before = {p.name: p.read_bytes() for p in interrupted_run.iterdir()}
    assert worker_main([str(interrupted_run)]) == 2
    assert "finished run and is never written again" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in interrupted_run.iterdir()} == before


def test_a_full_disk_is_a_clear_error(interrupted_run, synth_yaml, tiny_train, write_recipe, monkeypatch, capsys):
    original = Path.write_text

    def no_space(self, *args, **kwargs):
        if self.name.startswith(".env.json"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", no_space)
    recipe = write_recipe({"name": "full", "task": "detect", "model": "yolov8n.yaml", "data": str(synth_yaml),
                           "train": tiny_train})
    assert run_main([str(recipe), "--runs-dir", str(interrupted_run.parents[2] / "full-disk")]) == 2
    err = capsys.readouterr().err
    assert "cannot write" in err and ".env.json.partial" in err and "the disk is full" in err


def test_a_runs_dir_that_cannot_be_made_is_a_clear_error(tmp_path, synth_yaml, tiny_train, write_recipe, capsys):
    (tmp_path / "a-file").write_text("not a folder")
    recipe = write_recipe({"name": "x", "task": "detect", "model": "yolov8n.yaml", "data": str(synth_yaml),
                           "train": tiny_train})
    assert run_main([str(recipe), "--runs-dir", str(tmp_path / "a-file" / "runs")]) == 2
    assert "a part of the path is a file" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="children die with the sweep through Linux's PR_SET_PDEATHSIG")
def test_a_sweeps_child_dies_with_the_sweep(tmp_path, synth_yaml, tiny_train, write_recipe):
    recipe = write_recipe({"name": "orphan", "task": "detect", "model": "yolov8n.yaml", "data": str(synth_yaml),
                           "train": {**tiny_train, "epochs": 200}, "sweep": {"freeze": ["none", 5]}})
    parent = subprocess.Popen([sys.executable, "-m", "pipeline.run", str(recipe), "--runs-dir", str(tmp_path / "runs")],
                              cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline, child = time.time() + 180, None
    while child is None and time.time() < deadline:
        locks = [p for p in (tmp_path / "runs").glob(f"orphan/*/points/*/{LOCK}") if p.read_text().strip()]
        child = int(locks[0].read_text()) if locks else None
        time.sleep(0.2)
    assert child, "the first point never started"
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.time() + 30
    while time.time() < deadline and Path(f"/proc/{child}").exists() and "Z" not in _state(child):
        time.sleep(0.2)
    assert not Path(f"/proc/{child}").exists() or "Z" in _state(child), f"point process {child} trains on"


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0]
    except OSError:
        return "gone"


def _killed_after_first_epoch(run_dir: Path, recipe: Path) -> None:
    proc = subprocess.Popen(point_folder(recipe, run_dir), cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    epochs_log, deadline = run_dir / "stages/train/epochs.jsonl", time.time() + 240
    while not (epochs_log.is_file() and epochs_log.read_text().count("\n") >= 1) and proc.poll() is None:
        assert time.time() < deadline, "first epoch never finished"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["row-without-checkpoint", "last-pt-cut-short"])
def test_resume_repairs_what_a_kill_or_full_disk_left(tmp_path, synth_yaml, tiny_train, write_recipe, damage, capsys):
    """A kill between Ultralytics' results.csv row and its last.pt left a row that resume appended again (the
    flaky `4 == 3`); a last.pt cut short by a full disk made the run impossible to resume.
    """
    recipe = write_recipe({"name": "k", "task": "detect", "model": "yolov8n.yaml", "data": str(synth_yaml),
                           "train": {**tiny_train, "epochs": 3}})
    run_dir = tmp_path / "runs" / "k" / "fixed"
    _killed_after_first_epoch(run_dir, recipe)
    stage = run_dir / "stages/train"
    results = stage / "results.csv"
    saved = len(results.read_text().splitlines()) - 1  # epochs whose row is written (last.pt holds at least one)
    if damage == "row-without-checkpoint":
        header, *rows = results.read_text().splitlines()
        results.write_text("\n".join([header, *rows, f"{saved + 1}" + rows[-1][rows[-1].index(","):]]) + "\n")
    else:
        data = (stage / "weights/last.pt").read_bytes()
        (stage / "weights/last.pt").write_bytes(data[: len(data) // 2])

    assert run_main(["--resume", str(run_dir)]) == 0
    epochs = [int(float(line.split(",")[0])) for line in results.read_text().splitlines()[1:]]
    assert epochs == [1, 2, 3]
    assert json.loads((run_dir / "metrics.json").read_text())["epochs"] == 3
    if damage == "last-pt-cut-short":
        assert "cannot be read (cut short?): resuming from its best.pt" in (run_dir / "log.txt").read_text()


def test_runs_started_in_the_same_second_get_folders_of_their_own(tmp_path):
    """Eight callers at once (a sweep's children, two shells): each claims a folder nobody else got."""
    start, made = threading.Barrier(8), []

    def claim() -> None:
        start.wait()
        made.append(create_run_dir(tmp_path / "runs", "same"))

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(made)) == 8 and all(p.is_dir() and not any(p.iterdir()) for p in made)
    stamps = {p.name.split("-")[0] + "-" + p.name.split("-")[1] for p in made}
    assert len(stamps) <= 2  # one second (or two, at a boundary): the -2, -3 ... suffixes told them apart
