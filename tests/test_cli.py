"""The ``roadtune`` console script, run as a real subprocess: command list, bad commands, each command's usage."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.cli import SUBCOMMANDS
from pipeline.recipe.video import VideoConfig

REPO = Path(__file__).resolve().parents[1]
SCRIPT = Path(sys.executable).parent / "roadtune"  # installed beside the venv's python by `pip install -e .`


def roadtune(*args: str) -> subprocess.CompletedProcess:
    """Run the installed console script (else the same entry point with ``-m``) on this checkout's code."""
    command = [str(SCRIPT)] if SCRIPT.is_file() else [sys.executable, "-m", "pipeline.cli"]
    env = {**os.environ, "PYTHONPATH": str(REPO), "YOLO_OFFLINE": "1", "COLUMNS": "200"}
    return subprocess.run([*command, *args], capture_output=True, text=True, cwd=REPO, env=env, timeout=120)


def flat(text: str) -> str:
    """Help text with argparse's line wrapping undone."""
    return re.sub(r"\s+", " ", text)


def test_help_lists_every_command_with_its_summary() -> None:
    done = roadtune("--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: roadtune ")
    for name, (_, summary) in SUBCOMMANDS.items():
        assert re.search(rf"\b{name} +{re.escape(summary)}", flat(done.stdout)), name


@pytest.mark.parametrize("args", [["bogus"], [], ["--set", "x=1", "run"]])
def test_an_unknown_or_missing_command_is_an_error_naming_the_commands(args: list[str]) -> None:
    done = roadtune(*args)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith("usage: roadtune ") and "roadtune: error:" in done.stderr
    if args == ["bogus"]:
        assert "invalid choice: 'bogus'" in done.stderr and all(f"'{name}'" in done.stderr for name in SUBCOMMANDS)


@pytest.mark.parametrize("name", list(SUBCOMMANDS))
def test_each_command_help_names_the_console_script(name: str) -> None:
    done = roadtune(name, "--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: roadtune {name} "), done.stdout.splitlines()[0]
    assert "python -m" not in done.stdout.splitlines()[0]


def test_video_help_documents_imgsz_conf_iou_with_their_defaults() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"}
    done = subprocess.run([sys.executable, "-m", "pipeline.video", "--help"], capture_output=True, text=True,
                          cwd=REPO, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    for option in ("imgsz", "conf", "iou", "batch"):
        default = VideoConfig.model_fields[option].default
        assert re.search(rf"--{option} {option.upper()} +\S.*\(default: {default}\)", done.stdout), option
