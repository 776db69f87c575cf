"""The run folder: its file names, creating one (never overwriting), atomic writes, and the one-process lock.

A run folder is ``runs/<name>/<YYYYmmdd-HHMMSS>/`` holding ``recipe.yaml``, ``env.json``, ``stages/<stage>/``
(Ultralytics' own output), ``metrics.json`` and ``log.txt``. ``metrics.json`` exists only once the run finished,
which is how a resume knows what is left to do; a finished run folder is read-only to every command.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from pipeline.errors import UserError

RECIPE = "recipe.yaml"
ENV = "env.json"
METRICS = "metrics.json"
LOG_FILE = "log.txt"
STAGES = "stages"
PSEUDO = "pseudo"  # the teacher-labelled frames of distill.unlabeled, with counts.json
PSEUDO_COUNTS = "pseudo/counts.json"
LOCK = ".lock"
STAGE_OUTPUTS = ("weights/best.pt", "weights/last.pt", "results.csv")  # what Ultralytics leaves in a stage folder


def create_run_dir(runs_root: Path, name: str) -> Path:
    """A new, empty run folder <runs_root>/<name>/<timestamp> (absolute), suffixed -2, -3... when taken."""
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
