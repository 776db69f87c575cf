"""README's commands, typed as a user types them: from the root of a fresh copy of the repo, default `runs/`,
relative paths exactly as README writes them, shrunk only with `--set train.epochs=1`-style overrides.

The copy sits in a temporary folder with a `shared/` beside it holding a copy of the real material it needs, so
`../shared/...` means what it means on our machines and Ultralytics' label caches never land in the real one.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from shell import REPO, SHARED

SHARED_NEEDED = ("data/kitti_mini", "data/gtsrb_mini", "weights/yolov5n_coco_state_dict.pt",
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
    architectures (COCO's 80 classes, untrained), saved as Ultralytics checkpoints where README says to put them
    ($ROADTUNE_WEIGHTS).
    """
    from pipeline.models import build_model, save_checkpoint

    folder = tmp_path_factory.mktemp("weights")
    for name in ("yolov8n", "yolov8n-seg"):
        save_checkpoint(build_model(f"{name}.yaml"), folder / f"{name}.pt")
    return folder


@pytest.fixture(scope="session")
def quickstart_run(user_repo) -> tuple[str, str]:
    """README's quickstart, shrunk to one epoch: (what it printed, the run folder as printed)."""
    from shell import TINY, printed, type_command

    out = type_command(user_repo, "python -m pipeline.run recipes/quickstart.yaml", TINY)
    return out, printed(out, "run folder")
