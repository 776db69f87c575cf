"""Typing the commands of README and docs/ in a shell from the root of a user's copy of the repo; reading output."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
QUICKSTART = "python -m pipeline.run recipes/quickstart.yaml"  # README's quickstart (a session fixture runs it once)
TINY = "--set train.epochs=1 --set train.imgsz=64 --set train.batch=8 --set train.workers=0"
TWO_TINY_STAGES = "--set stages.0.epochs=1 --set stages.1.epochs=1 --set train.imgsz=64 --set train.workers=0"


def user_env(**extra: str) -> dict[str, str]:
    """The user's shell: this venv's `python` first on PATH, offline."""
    env = dict(os.environ, YOLO_OFFLINE="1", PYTHONUNBUFFERED="1")
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.pop("PYTHONPATH", None)  # `python -m` from the repo root imports the copy's `pipeline`, as for a user
    env.update(extra)
    return env


def type_command(repo: Path, command: str, shrink: str = "", env: dict[str, str] | None = None,
                 expect: int = 0, timeout: int = 600) -> str:
    """Run `command` (as README prints it, placeholders filled in) plus `shrink` in bash from the repo root;
    assert its exit code and return what it printed.
    """
    done = subprocess.run(f"{command} {shrink}", shell=True, executable="/bin/bash", cwd=repo, env=env or user_env(),
                          capture_output=True, text=True, timeout=timeout)
    out = done.stdout + done.stderr
    assert done.returncode == expect, f"`{command} {shrink}` exited {done.returncode}:\n{out[-4000:]}"
    assert "Traceback" not in out, out[-4000:]
    return out


def printed(out: str, label: str) -> str:
    """The path a command printed after `label:` (the last such line), e.g. `run folder: runs/x/<ts>`."""
    found = re.findall(rf"^{re.escape(label)}: (\S+)$", out, flags=re.MULTILINE)
    assert found, f"no `{label}:` line in:\n{out[-2000:]}"
    return found[-1]


def needs_shared(repo: Path, *items: str) -> None:
    """Skip with the reason when ../shared lacks the real material a command uses."""
    for item in items:
        if not (repo.parent / "shared" / item).exists():
            pytest.skip(f"real material not present: ../shared/{item} (see docs/datasets.md, 'Real data')")


def kill_after_first_epoch(repo: Path, command: str, env: dict[str, str], epochs_log: str) -> Path:
    """Start `command`, wait until a run folder's `epochs_log` has one epoch, then SIGKILL the whole process group.

    Returns the run folder (the one holding the log).
    """
    earlier = set(repo.glob("runs/*/*"))
    proc = subprocess.Popen(command, shell=True, executable="/bin/bash", cwd=repo, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        logs = [p for d in set(repo.glob("runs/*/*")) - earlier if (p := d / epochs_log).is_file()
                and p.read_text().count("\n") >= 1]
        if logs:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return logs[0].parents[len(Path(epochs_log).parts) - 1]
        time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"`{command}` never finished an epoch (exit {proc.poll()})")
