"""Models: offline-first weight resolution, building the network, and weight transfer between checkpoints."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from pipeline.checkpoints import load_model, read_checkpoint
from pipeline.errors import UserError
from pipeline.textfile import read_yaml

ASSETS_URL = "https://github.com/ultralytics/assets/releases"
HEAD_TYPES = {"Detect": "detect", "Segment": "segment", "Classify": "classify", "Pose": "pose", "OBB": "obb"}


def resolve_model_file(name: str, base: Path) -> str:
    """Find a checkpoint offline-first: the path as given (against `base`, then the CWD), `$ROADTUNE_WEIGHTS`,
    Ultralytics' weights folder, then let Ultralytics download it when online. Architectures (.yaml) that
    Ultralytics ships are returned as-is.
    """
    given = Path(name).expanduser()
    if name.endswith((".yaml", ".yml")):
        for candidate in (base / given, given):
            if candidate.is_file():
                return str(candidate.resolve())
        if given.parent == Path(".") and _builtin_arch_exists(given.name):
            return name
        raise UserError(f"model architecture not found: {name} (not a file, not an Ultralytics model yaml)")
    candidates = [base / given, given]
    if given.parent == Path("."):
        if os.environ.get("ROADTUNE_WEIGHTS"):
            candidates.append(Path(os.environ["ROADTUNE_WEIGHTS"]) / given)
        candidates.append(_ultralytics_weights_dir() / given)
    for candidate in candidates:
        if candidate.is_file():
            return str(candidate.resolve())
    if given.parent == Path(".") and os.environ.get("YOLO_OFFLINE") != "1":
        return name  # Ultralytics downloads official checkpoints by name
    raise UserError(
        f"weights file not found: {name}",
        [
            f"looked in: {', '.join(str(c) for c in dict.fromkeys(candidates))}",
            "offline: put the file in the folder named by $ROADTUNE_WEIGHTS (or give its path);"
            f" official checkpoints are at {ASSETS_URL}",
            "or build from an architecture, e.g. model: yolov8n.yaml",
        ],
    )


def _ultralytics_weights_dir() -> Path:
    from pipeline.ultralytics_api import SETTINGS

    return Path(SETTINGS["weights_dir"])


def _builtin_arch_exists(name: str) -> bool:
    """True for a yaml Ultralytics can build (e.g. yolov8n.yaml from yolov8.yaml with scale n)."""
    from pipeline.ultralytics_api import yaml_model_load

    try:
        yaml_model_load(name)
        return True
    except (FileNotFoundError, OSError):
        return False


def build_model(source: str, nc: int | None = None, verbose: bool = False) -> nn.Module:
    """Build the Ultralytics network for `source` (.yaml or .pt), with `nc` classes when given, on the CPU."""
    from pipeline.ultralytics_api import guess_model_task, yaml_model_load

    if source.endswith((".yaml", ".yml")):
        if Path(source).exists():  # the user's own file: through roadtune's reader first (not text, alias bombs)
            read_yaml(Path(source), "model architecture file")
        cfg = yaml_model_load(source)
        if not {"backbone", "head"} <= set(cfg):
            raise UserError(f"{source} is not a model architecture (no `backbone:` and `head:`): is it a dataset "
                            "YAML? Give it as `data:`, and a model such as yolov8n.yaml or yolov8n.pt as `model:`")
        return _model_class(guess_model_task(cfg))(cfg, nc=nc, verbose=verbose)
    model = load_model(source)
    if nc is not None and nc != model.yaml.get("nc"):
        rebuilt = _model_class(model_task(model))(model.yaml, nc=nc, verbose=verbose)
        rebuilt.load(model, verbose=False)
        return rebuilt
    return model.float()


def _model_class(task: str) -> type:
    from pipeline.ultralytics_api import ClassificationModel, DetectionModel, SegmentationModel

    return {"detect": DetectionModel, "segment": SegmentationModel, "classify": ClassificationModel}[task]


def model_task(model: nn.Module) -> str:
    """The task of a built model, from its final layer's type (Detect, Segment, Classify...)."""
    head = type(model.model[-1]).__name__
    return next((task for name, task in HEAD_TYPES.items() if head.startswith(name)), "detect")


@dataclass
class Transfer:
    """The result of loading foreign weights into a model by name and shape."""

    transferred: int
    total: int
    fresh_layers: list[int] = field(default_factory=list)

    @property
    def fraction(self) -> float:
        return self.transferred / max(self.total, 1)


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Tensors of an Ultralytics checkpoint, a plain state dict, or a dict holding `state_dict`."""
    obj: Any = read_checkpoint(path)
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if isinstance(obj, dict) and isinstance(obj.get("ema") or obj.get("model"), nn.Module):
        obj = (obj.get("ema") or obj["model"]).float().state_dict()  # EMA first, as Ultralytics' load_checkpoint
    if not isinstance(obj, dict) or not any(isinstance(v, torch.Tensor) for v in obj.values()):
        raise UserError(f"{path} holds no tensors: expected a checkpoint or a state dict")
    return {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}


def transfer_weights(model: nn.Module, state: dict[str, torch.Tensor]) -> Transfer:
    """Copy every tensor of `state` whose name and shape match into `model`; report what came over."""
    own = model.state_dict()
    matched = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    model.load_state_dict(matched, strict=False)
    fresh = sorted({int(k.split(".")[1]) for k in own if k not in matched and k.split(".")[1].isdigit()})
    return Transfer(transferred=len(matched), total=len(own), fresh_layers=fresh)


def save_checkpoint(model: nn.Module, path: Path, names: dict[int, str] | None = None) -> Path:
    """Write `model` as an Ultralytics checkpoint that `YOLO(path)` and its trainer accept."""
    from ultralytics import __version__

    if names is not None:
        model.names = names
    path.parent.mkdir(parents=True, exist_ok=True)
    # Ultralytics 8.4.190 load_checkpoint takes the task from train_args (default: detect) before the model's head
    train_args = {"task": model_task(model)}
    torch.save({"model": model.half(), "train_args": train_args, "version": __version__, "date": None}, path)
    model.float()
    return path
