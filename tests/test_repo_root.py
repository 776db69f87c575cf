"""The repository root holds the project's own entries only: a stray file there (a dataset YAML written by hand or
by a command run from the root) would ship with every clone. Ignored local folders (.venv, runs, caches) are
allowed: git never sees them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import REPO

# README.md's and docs/code-layout.md's top-level entries, plus CI and git's own
OWN = {"README.md", "pyproject.toml", "datasets", "recipes", "pipeline", "tests", "benchmarks", "docs", ".ci",
       ".gitignore", ".git"}


def stray_entries(repo: Path) -> list[str]:
    """Top-level entries of `repo` that git sees (tracked or untracked, not ignored by .gitignore) beyond OWN.
    A tracked file already deleted from the working tree is gone, so it is not counted."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=repo, capture_output=True,
                            check=True).stdout.decode().split("\0")
    seen = {name.split("/")[0] for name in filter(None, listed) if (repo / name).exists()}
    return sorted(seen - OWN)


def _git_repo(folder: Path) -> Path:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    subprocess.run(["git", "init", "-q", str(folder)], check=True)
    return folder


def test_the_check_finds_a_stray_file_and_passes_ignored_folders(tmp_path):
    repo = _git_repo(tmp_path / "repo")
    (repo / ".gitignore").write_text("runs/\n*.egg-info/\n")
    for name in ("README.md", "pipeline/run.py", "synth.yaml", "notes/todo.txt", "runs/a/results.csv",
                 "roadtune.egg-info/PKG-INFO", ".ruff_cache/0.1/x", ".ruff_cache/.gitignore"):
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text("*\n" if name.endswith(".gitignore") else "x")
    assert stray_entries(repo) == ["notes", "synth.yaml"]  # .ruff_cache ignores itself: its .gitignore says `*`


def test_the_repository_root_holds_only_the_projects_own_entries():
    if not (REPO / ".git").exists() or shutil.which("git") is None:
        pytest.skip("not a git checkout")
    assert stray_entries(REPO) == [], "move these out of the repository root (or add them to .gitignore when local)"
