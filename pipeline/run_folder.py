"""The run folder: every file and folder name in it, creating one (never overwriting), atomic writes, and the
one-process lock. No other module spells one of these names; its JSON files are records (:mod:`pipeline.records`).

A run folder is ``runs/<name>/<YYYYmmdd-HHMMSS>/`` holding ``recipe.yaml``, ``env.json``, ``stages/<stage>/``
(Ultralytics' own output), ``metrics.json`` and ``log.txt``. ``metrics.json`` exists only once the run finished,
which is how a resume knows what is left to do; a finished run folder is read-only to every command.
A sweep folder is a run folder holding ``sweep.json``, one run folder per point under ``points/`` and the report
(with ``--probe-batch`` also ``probe.json`` and the probe trainings in ``probe/``).
``export/`` is the one folder a command writes into a finished run: the exported models and their measurements.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from pipeline.errors import UserError

# a run folder
RECIPE = "recipe.yaml"  # the resolved recipe: every path absolute, every default filled in
ENV = "env.json"
METRICS = "metrics.json"
LOG_FILE = "log.txt"
INIT_WEIGHTS = "init.pt"  # the model after a weights transfer, where the first stage starts
STAGES = "stages"
PSEUDO = "pseudo"  # the teacher-labelled frames of distill.unlabeled, as a dataset with counts.json
PSEUDO_DATA = "data.yaml"  # in PSEUDO
PSEUDO_COUNTS_FILE = "counts.json"  # in PSEUDO: written last, so it marks a complete labelling
PSEUDO_PREDICTIONS = "predictions.jsonl"  # in PSEUDO: every teacher box above the floor, with its confidence
TEACHER_VAL = "teacher-val"  # in PSEUDO: the teacher's validation that sets per-class thresholds (conf: f1)
VIDEO = "video"  # the recipe's video demo
EXPORT = "export"  # python -m pipeline.export (or the recipe's `export:`): export/<format>[-int8], one per format
EXPORT_JSON = "export.json"  # in an export/<format> folder: written last, beside the artifact, when it is complete
LOCK = ".lock"
# a stage folder, stages/<stage>/: Ultralytics' output (weights/, results.csv, args.yaml) and roadtune's beside it
WEIGHTS = "weights"
BEST_FILE, LAST_FILE = "best.pt", "last.pt"
BEST = f"{WEIGHTS}/{BEST_FILE}"
LAST = f"{WEIGHTS}/{LAST_FILE}"
PROJECTOR = f"{WEIGHTS}/distill_projector.pt"  # beside last.pt: the projector is not part of the student checkpoint
DISTILL_CONFIG = "distill.json"  # a distilled stage: the teacher and method its trainer reads (distill.plan)
RESULTS_CSV = "results.csv"
TRAIN_ARGS = "args.yaml"
STAGE_SUMMARY = "summary.json"
EPOCHS_LOG = "epochs.jsonl"
PER_IMAGE = "per_image"  # in a stage folder: what each validation scored per image (pipeline.evaluation)
PER_IMAGE_FINAL = "final.npz"  # in PER_IMAGE: the validation of best.pt after training (the run's figures)
STAGE_OUTPUTS = (BEST, LAST, RESULTS_CSV)  # what Ultralytics leaves in a stage folder
# a sweep folder
SWEEP_MARKER = "sweep.json"
POINTS = "points"
POINT_STATUS = "status.json"  # in a point's folder: how its child process ended
POINT_CONSOLE = "console.txt"  # in a point's folder: its child process' output
SEARCH = "search"  # sweep.search: Ray Tune's records of each search run (one folder per start)
PROBE = "probe"  # --probe-batch: its trainings, one folder per probed point
PROBE_JSON = "probe.json"  # --probe-batch: per freeze depth the largest batch in the memory budget
REPORT_CSV, REPORT_MD, REPORT_HTML = "report.csv", "report.md", "report.html"


def create_run_dir(runs_root: Path, name: str) -> Path:
    """A new, empty run folder <runs_root>/<name>/<timestamp> (absolute), suffixed -2, -3... when taken."""
    # Not Ultralytics' increment_path (utils/files.py, 8.4.190): it tests exists() and then mkdir(exist_ok=True),
    # so two runs started in the same second can both get the same folder. mkdir() without exist_ok claims a
    # name atomically: whoever loses the race gets FileExistsError and takes the next suffix.
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    parent = runs_root.expanduser().resolve() / name
    parent.mkdir(parents=True, exist_ok=True)
    for k in range(1, 1000):
        candidate = parent / (stamp if k == 1 else f"{stamp}-{k}")
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue
    raise UserError(f"no free run folder under {parent}: 999 runs started in the same second")


def is_finished(run_dir: Path) -> bool:
    """A finished run has its metrics.json; nothing writes into it again."""
    return (run_dir / METRICS).is_file()


def refuse_finished(run_dir: Path) -> None:
    """A UserError when `run_dir` is a finished run, which no command writes into."""
    if is_finished(run_dir):
        raise UserError(f"{run_dir} is a finished run and is never written again: start a new run")


def stage_dir(run_dir: Path, stage: str) -> Path:
    """A stage's folder, where Ultralytics writes (project=<run>/stages, name=<stage>)."""
    return run_dir / STAGES / stage


def per_image_file(stage_folder: Path, epoch: int | None) -> Path:
    """A stage's per-image record of one validation: after `epoch` (1-based), or of best.pt at the end (None)."""
    return stage_folder / PER_IMAGE / (PER_IMAGE_FINAL if epoch is None else f"epoch-{epoch:03d}.npz")


def point_dir(sweep_dir: Path, point_id: str) -> Path:
    """A sweep point's run folder."""
    return sweep_dir / POINTS / point_id


def is_sweep_dir(path: Path) -> bool:
    """A sweep folder carries its sweep.json."""
    return (path / SWEEP_MARKER).is_file()


def shown(path: Path) -> str:
    """A path as the user would type it: relative to the working directory when it lies below it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def write_atomic(path: Path, text: str) -> None:
    """Write a file so that a crash or a full disk leaves the old content or none, never half a file."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def missing_stage_outputs(stage_dir: Path) -> list[Path]:
    """The files Ultralytics should have left in a finished stage folder but did not."""
    return [stage_dir / name for name in STAGE_OUTPUTS if not (stage_dir / name).is_file()]


@contextmanager
def hold(folder: Path) -> Iterator[None]:
    """Hold the folder's lock for as long as the block runs; a second process is refused with the holder's PID.

    flock locks die with their process, so a killed run never leaves a stale lock behind.
    """
    fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise UserError(f"{shown(folder)} is in use by process {holder}: wait for it to end (or stop it), "
                        "then run the command again") from None
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)
