"""Shared test setup: offline mode, a private data cache, tiny synthetic datasets, and the shared/ material."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
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
        pytest.skip(f"real material not present: {path} (see docs/datasets.md, 'Real data')")
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


def point_folder(recipe: Path, run_dir: Path) -> list[str]:
    """`recipe` copied into `run_dir` as a sweep point's recipe.yaml; the command that runs that point."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "recipe.yaml").write_text(recipe.read_text())
    return [sys.executable, "-m", "pipeline.sweep.worker", str(run_dir)]


def distill_recipe(synth_yaml: Path, teacher: str, **distill) -> dict:
    """A 1-epoch, 64 px detect student recipe on `synth_yaml` distilled from `teacher`."""
    return {"name": "kd", "task": "detect", "model": "yolov8n.yaml", "data": str(synth_yaml),
            "train": {"epochs": 1, "imgsz": 64, "batch": 8, "workers": 0, "plots": False, "seed": 0},
            "distill": {"teacher": teacher, **distill}}


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


@pytest.fixture(scope="session")
def teacher_pt(tmp_path_factory, synth_data) -> Path:
    """A YOLOv8s teacher trained one tiny epoch on the synthetic road set (5 classes)."""
    from ultralytics import YOLO

    project = tmp_path_factory.mktemp("teacher")
    YOLO("yolov8s.yaml").train(data=str(synth_data), epochs=1, imgsz=64, batch=8, workers=0, plots=False, seed=0,
                               project=str(project), name="t", exist_ok=True)
    return project / "t" / "weights" / "best.pt"


@pytest.fixture(scope="session")
def exported_run(tmp_path_factory, synth_yaml) -> Path:
    """A finished 1-epoch run whose recipe exports its final weights to ONNX (export/onnx/export.json)."""
    from pipeline.run import main as run_main

    folder = tmp_path_factory.mktemp("exported")
    recipe = folder / "r.yaml"
    train = {"epochs": 1, "imgsz": 64, "batch": 8, "workers": 0, "plots": False, "seed": 0}
    recipe.write_text(yaml.safe_dump({"name": "x", "task": "detect", "model": "yolov8n.yaml", "data": str(synth_yaml),
                                      "train": train, "export": {"format": "onnx", "throughput_batch": 2}}))
    assert run_main([str(recipe), "--runs-dir", str(folder / "runs")]) == 0
    (found,) = (folder / "runs" / "x").iterdir()
    return found


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


# The commands of README and docs/ as a user types them (tests/acceptance): a fresh copy of the repo with ../shared
# beside it.
# The fixtures live here, not in a conftest.py of their own: pytest imports every conftest.py as module `conftest`,
# and a second one would shadow this one for the tests that import its helpers.
SHARED_NEEDED = ("data/kitti_mini", "data/kitti_pool", "data/gtsrb_mini", "data/camvid_seg",
                 "weights/yolov5n_coco_state_dict.pt",
                 "video/highway_dashcam_udacity_test_video.mp4")


def _copy_repo(dest: Path) -> Path:
    """The files a fresh clone has (tracked and not-ignored), nothing else: no runs/, no caches, no venv."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True,
                            check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        if (REPO / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, dest / name)
    return dest


@pytest.fixture(scope="session")
def user_repo(tmp_path_factory) -> Path:
    """A fresh copy of the repo, with ../shared beside it when this machine has the real material."""
    root = tmp_path_factory.mktemp("user")
    repo = _copy_repo(root / "roadtune")
    for item in SHARED_NEEDED:
        src = SHARED / item
        if src.exists():
            (root / "shared" / item).parent.mkdir(parents=True, exist_ok=True)
            (shutil.copytree if src.is_dir() else shutil.copy2)(src, root / "shared" / item)
    for path in (root / "shared").rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return repo


@pytest.fixture(scope="session")
def official_weights(tmp_path_factory) -> Path:
    """Stand-ins for the official yolov8n.pt and yolov8n-seg.pt, which are not available offline: the same
    architectures (COCO's 80 classes, untrained), saved as Ultralytics checkpoints where docs/recipes.md says to put
    them ($ROADTUNE_WEIGHTS).
    """
    from pipeline.recipe.models import build_model, save_checkpoint

    folder = tmp_path_factory.mktemp("weights")
    for name in ("yolov8n", "yolov8n-seg"):
        save_checkpoint(build_model(f"{name}.yaml"), folder / f"{name}.pt")
    return folder


@pytest.fixture(scope="session")
def quickstart_run(user_repo) -> tuple[str, str]:
    """README's quickstart, shrunk to one epoch: (what it printed, the run folder as printed)."""
    from acceptance.shell import QUICKSTART, TINY, printed, type_command

    out = type_command(user_repo, QUICKSTART, TINY)
    return out, printed(out, "run folder")
