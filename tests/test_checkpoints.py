"""No code runs from a checkpoint: a .pt whose unpickling would run a command is refused by every entry point,
and the checkpoints roadtune and Ultralytics write still load through the same safe path.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from conftest import REPO, shared_path, write_synth_yaml

from pipeline.checkpoints import TRUST_ENV, load_model, read_checkpoint
from pipeline.errors import UserError
from pipeline.recipe.models import build_model, model_task, read_state_dict, save_checkpoint


class _Command:
    """Unpickles as ``os.system(command)``: what a hostile checkpoint does."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


class _PathTouch:
    """Pickles as ``getattr(PosixPath, "touch")``: getattr and PosixPath are both on Ultralytics' allow-list."""

    def __call__(self, *args):
        raise AssertionError("only pickled, never called")

    def __reduce__(self):
        return getattr, (pathlib.PosixPath, "touch")


class _Touch:
    """Unpickles as ``PosixPath.touch(marker)``, through allowed globals rather than os.system."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return _PathTouch(), (self.marker,)


def write_trap(folder: Path, name: str = "trap.pt", **save_args) -> tuple[Path, Path]:
    """A .pt shaped like an Ultralytics checkpoint whose unpickling creates a marker file: (trap, marker)."""
    marker = folder / f"MARKER-{name}"
    trap = folder / name
    torch.save({"model": _Command(f"touch {marker}"), "train_args": {}}, trap, **save_args)
    return trap, marker


def run_cli(module: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "YOLO_OFFLINE": "1"}
    env.pop(TRUST_ENV, None)
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def write_clip(path: Path) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 64))
    for i in range(3):
        writer.write(np.full((64, 64, 3), 40 * i, np.uint8))
    writer.release()
    return path


def recipe_with_trap(trap: Path, data: Path, key: str) -> dict:
    recipe = {"name": "trap", "task": "detect", "model": "yolov8n.yaml", "data": str(data),
              "train": {"epochs": 1, "imgsz": 64}}
    if key == "distill.teacher":
        recipe["distill"] = {"teacher": str(trap), "method": "roadtune"}
    else:
        recipe[key] = str(trap)
    return recipe


@pytest.mark.parametrize("key", ["model", "weights", "distill.teacher"])
def test_run_refuses_a_trap_checkpoint_without_running_it(key, tmp_path, write_recipe):
    trap, marker = write_trap(tmp_path)
    recipe = write_recipe(recipe_with_trap(trap, write_synth_yaml(tmp_path), key))
    out = run_cli("pipeline.run", str(recipe), "--dry-run", "--runs-dir", str(tmp_path / "runs"), cwd=tmp_path)
    assert out.returncode == 2, out.stderr[-3000:]
    assert f"{key}: refused to load {trap}" in out.stderr and "posix.system" in out.stderr, out.stderr[-3000:]
    assert "Traceback" not in out.stderr
    assert not marker.exists(), "the checkpoint's code ran"
    assert not (tmp_path / "runs").exists()


def test_video_refuses_a_trap_checkpoint_without_running_it(tmp_path):
    trap, marker = write_trap(tmp_path)
    clip = write_clip(tmp_path / "clip.mp4")
    out = run_cli("pipeline.video", str(trap), str(clip), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert out.returncode == 2, out.stderr[-3000:]
    assert f"refused to load {trap}" in out.stderr and "posix.system" in out.stderr, out.stderr[-3000:]
    assert not marker.exists(), "the checkpoint's code ran"
    assert not (tmp_path / "out").exists()


def test_advise_refuses_a_trap_checkpoint_without_running_it(tmp_path, write_recipe):
    trap, marker = write_trap(tmp_path)
    recipe = write_recipe(recipe_with_trap(trap, write_synth_yaml(tmp_path), "model"))
    out = run_cli("pipeline.compare", "--advise", str(recipe), cwd=tmp_path)
    assert out.returncode == 2, out.stderr[-3000:]
    assert f"refused to load {trap}" in out.stderr and "posix.system" in out.stderr, out.stderr[-3000:]
    assert not marker.exists(), "the checkpoint's code ran"


def test_other_pickle_formats_and_globals_are_refused_too(tmp_path):
    legacy, legacy_marker = write_trap(tmp_path, "legacy.pt", _use_new_zipfile_serialization=False)
    touch_marker = tmp_path / "MARKER-touch"
    touch = tmp_path / "touch.pt"
    torch.save({"ema": _Touch(touch_marker)}, touch)
    for path, refused in ((legacy, "it needs posix.system"), (touch, r"unsafe getattr\(type, 'touch'\) blocked")):
        for load in (read_checkpoint, load_model, read_state_dict, lambda p: build_model(str(p))):
            with pytest.raises(UserError, match=f"refused to load {path}: {refused}"):
                load(path)
    assert not legacy_marker.exists() and not touch_marker.exists()


def test_trusting_pickles_is_an_explicit_opt_in(tmp_path, monkeypatch):
    trap, marker = write_trap(tmp_path)
    with pytest.raises(UserError) as refused:
        read_checkpoint(trap)
    assert f"set {TRUST_ENV}=1" in refused.value.render() and not marker.exists()
    monkeypatch.setenv(TRUST_ENV, "1")
    assert read_checkpoint(trap)["model"] == 0  # os.system's exit status: the file was unpickled fully
    assert marker.exists()


def test_torch_without_an_allow_list_is_refused_not_unpickled(tmp_path, monkeypatch):
    """Ultralytics falls back to a full unpickle on torch < 2.6; roadtune refuses instead."""
    trap, marker = write_trap(tmp_path)
    monkeypatch.delattr(torch.serialization, "get_unsafe_globals_in_checkpoint")
    with pytest.raises(UserError, match=f"cannot load {trap} safely: torch .* has no weights_only allow-list"):
        read_checkpoint(trap)
    assert not marker.exists()


def _shapes(root: Path) -> Path:
    for split, n in (("train", 4), ("val", 2)):
        for i, name in enumerate(("dark", "light")):
            (root / split / name).mkdir(parents=True)
            for k in range(n):
                cv2.imwrite(str(root / split / name / f"{k}.png"), np.full((32, 32, 3), 50 + 150 * i + k, np.uint8))
    return root


@pytest.mark.slow
@pytest.mark.parametrize("task", ["detect", "classify"])
def test_checkpoints_of_a_real_training_load_safely(task, tmp_path, synth_data):
    from ultralytics import YOLO

    arch, data = ("yolov8n.yaml", synth_data) if task == "detect" else ("yolov8n-cls.yaml", _shapes(tmp_path / "s"))
    YOLO(arch).train(data=str(data), epochs=1, imgsz=64, batch=4, workers=0, plots=False, val=True, device="cpu",
                     project=str(tmp_path), name="t", exist_ok=True)
    for name in ("best.pt", "last.pt"):
        path = tmp_path / "t" / "weights" / name
        assert read_checkpoint(path)["train_args"]["task"] == task
        model = load_model(path)
        assert model_task(model) == task and len(model.names) == (5 if task == "detect" else 2)
        state = read_state_dict(path)
        assert set(state) == set(model.state_dict()) and all(v.dtype != torch.float16 for v in state.values())


def test_save_checkpoint_and_shared_state_dict_load_safely(tmp_path):
    init = save_checkpoint(build_model("yolov8n-seg.yaml", nc=3), tmp_path / "init.pt", {0: "a", 1: "b", 2: "c"})
    model = build_model(str(init))
    assert model_task(model) == "segment" and model.names == {0: "a", 1: "b", 2: "c"}
    state_dict_file = shared_path("weights/yolov5n_coco_state_dict.pt")
    coco = read_state_dict(state_dict_file)
    target = build_model("yolov5nu.yaml", nc=80).state_dict()
    matched = [k for k, v in coco.items() if k in target and target[k].shape == v.shape]
    assert len(coco) > 300 and len(matched) > 0.9 * len(coco), (len(coco), len(matched))
    with pytest.raises(UserError, match=r"holds no model .* give it as `weights:`"):
        build_model(str(state_dict_file))  # a state dict is weights for an architecture, not a model


def test_after_bootstrap_ultralytics_itself_refuses_a_trap(tmp_path):
    """Files Ultralytics opens on its own (YOLO(path), a stage's start weights, distill_model) are held to the rule."""
    trap, marker = write_trap(tmp_path)
    code = ("import sys; from pipeline.bootstrap import bootstrap; bootstrap(); from ultralytics import YOLO\n"
            "try:\n    YOLO(sys.argv[1])\nexcept TypeError as e:\n    print(e)")
    env = {**os.environ, "PYTHONPATH": str(REPO), "YOLO_OFFLINE": "1"}
    env.pop(TRUST_ENV, None)
    out = subprocess.run([sys.executable, "-c", code, str(trap)], env=env, capture_output=True, text=True)
    assert out.returncode == 0 and "references types outside" in out.stdout, out.stderr[-2000:]
    assert not marker.exists(), "Ultralytics' own load ran the checkpoint's code"
