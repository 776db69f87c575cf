"""Shared test setup: offline mode, a private data cache, tiny synthetic datasets, and the shared/ material."""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

os.environ["YOLO_OFFLINE"] = "1"
os.environ.setdefault("ROADTUNE_CACHE", tempfile.mkdtemp(prefix="roadtune-cache-"))
os.environ.setdefault("OMP_NUM_THREADS", "2")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def shared_path(relative: str) -> Path:
    """A path in ../shared, or skip the test with the reason when that material is not on this machine."""
    path = SHARED / relative
    if not path.exists():
        pytest.skip(f"real material not present: {path} (see README, 'Real data')")
    return path


def copy_shared_dataset(name: str, dest: Path) -> Path:
    """Copy ../shared/data/<name> to `dest` (Ultralytics writes label caches beside the labels) and return its yaml."""
    src = shared_path(f"data/{name}")
    shutil.copytree(src, dest / name)
    for p in (dest / name).rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    return dest / name / "data.yaml"


def write_synth_yaml(folder: Path, train: int = 16, val: int = 8, width: int = 128, height: int = 96) -> Path:
    """A small synthetic road dataset YAML (generated into the test cache on first use)."""
    repo_yaml = yaml.safe_load((REPO / "datasets" / "synth-road.yaml").read_text())
    repo_yaml["roadtune_synth"] = {"train": train, "val": val, "width": width, "height": height, "seed": 0}
    path = folder / f"synth-{train}-{val}-{width}x{height}.yaml"
    path.write_text(yaml.safe_dump(repo_yaml, sort_keys=False))
    return path


@pytest.fixture(autouse=True)
def _ultralytics_logs_follow_capture():
    """Ultralytics binds its log handler to the sys.stdout of its first import; point it at the current one."""
    from ultralytics.utils import LOGGER

    for handler in LOGGER.handlers:
        if type(handler) is logging.StreamHandler:  # exactly Ultralytics' console handler, not pytest's capture
            handler.stream = sys.stdout  # plain assignment: setStream() would flush an already closed stream
    yield


@pytest.fixture(scope="session")
def synth_yaml(tmp_path_factory) -> Path:
    """16 train / 8 val synthetic road images at 128x96."""
    return write_synth_yaml(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="session")
def synth_data(synth_yaml) -> Path:
    """The generated synthetic set's resolved YAML, for calling Ultralytics directly."""
    from pipeline.datasets.resolve import resolve_dataset

    return resolve_dataset(synth_yaml).yaml_path


@pytest.fixture
def write_recipe(tmp_path):
    """Write a recipe dict as YAML in tmp_path and return its path."""

    def write(recipe: dict, name: str = "recipe.yaml") -> Path:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(recipe, sort_keys=False))
        return path

    return write


@pytest.fixture
def tiny_train() -> dict:
    """Ultralytics train args for a seconds-long CPU run."""
    return {"epochs": 1, "imgsz": 64, "batch": 8, "workers": 0, "plots": False, "seed": 0}
