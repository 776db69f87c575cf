"""Load and check the model, pick the fastest installed runtime, and export through Ultralytics once per weights.

Exports are cached in roadtune's cache folder (:mod:`pipeline.cache`), never beside the weights (a finished run
folder is never written again), under a key of the weights' content, the format and its export arguments and the
Ultralytics version: changed weights (a new ``best.pt`` after another training) are exported again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.cache import VIDEO_EXPORTS, cache_root
from pipeline.checkpoints import read_checkpoint
from pipeline.errors import UserError
from pipeline.recipe.video import VideoConfig

INSTALL_HINT = 'pip install "roadtune[export]"'  # quoted: zsh reads [export] as a glob
SUPPORTED_TASKS = ("detect", "segment")
# The packages Ultralytics 8.4.190's exporter and AutoBackend check for, written the way they check them: we
# check first with install=False, because Ultralytics would otherwise try to pip-install them at export time.
REQUIREMENTS: dict[str, list[str | tuple[str, ...]]] = {
    "onnx": ["onnx>=1.12.0,<2.0.0", ("onnxruntime", "onnxruntime-gpu"), "onnxslim>=0.1.82"],
    "openvino": ["openvino>=2024.0.0"],
}
CUDA_REQUIREMENTS: dict[str, list[str | tuple[str, ...]]] = {"onnx": ["onnxruntime-gpu"]}
TRACK_REQUIREMENT = "lap>=0.5.12"  # Ultralytics' trackers import it, and would pip-install it when missing
EXPORT_NAMES = {"onnx": ".onnx", "openvino": "_openvino_model"}  # the suffixes AutoBackend reads the format from
# Dynamic shapes let exports take the same rectangular letterbox as PyTorch (fewer pixels, same detections).
EXPORT_ARGS: dict[str, dict[str, Any]] = {"onnx": {"dynamic": True}, "openvino": {"dynamic": True}}
CPU_PREFERENCE = ("openvino",)  # measured (benchmarks/video.py, 2-core EPYC): openvino >= torch > onnx in f32


@dataclass
class Detector:
    """A loaded model bound to the run's options; calling it maps a list of frames to one Results per frame."""

    model: Any
    backend: str
    device: str
    task: str
    tracker: str | None
    args: dict[str, Any] = field(default_factory=dict)
    export: Path | None = None

    def __call__(self, frames: list) -> list:
        """Run Ultralytics predict (or track, keeping the tracker's state across calls) on consecutive frames."""
        if self.tracker:
            return self.model.track(frames, persist=True, **self.args)
        return self.model.predict(frames, **self.args)

    def warmup(self, frame: Any) -> None:
        """Build the predictor and run once, so one-time setup is not counted as video time; trackers stay unfed."""
        self.model.predict([frame], **self.args)
        if self.backend == "openvino":
            _openvino_in_f32(self.model, self.export)


def _openvino_in_f32(model: Any, export: Path) -> None:
    """Recompile the OpenVINO model for f32 compute, so that detections match PyTorch's.

    OpenVINO's CPU plugin computes in bf16 by default on CPUs that have it (AVX512_BF16, AMX): on the benchmark
    clip at imgsz 640 that changed the detections of 40 of 221 frames (confidences by up to 0.33).
    Ultralytics 8.4.190's OpenVINOBackend keeps ``compile_model`` as a partial holding its config; written for
    that version: the one place this module reaches into Ultralytics' internals.
    """
    import openvino as ov

    backend = model.predictor.model.backend
    config = {**backend.compile_model.keywords.get("config", {}), "INFERENCE_PRECISION_HINT": "f32"}
    backend.ov_compiled_model = backend.compile_model(ov.Core().read_model(next(export.glob("*.xml"))), config=config)


def installed(backend: str, cuda: bool = False) -> bool:
    """Return True when the packages that ``backend`` needs (export and inference) are installed."""
    from pipeline.ultralytics_api import check_requirements

    needs = REQUIREMENTS.get(backend, []) + (CUDA_REQUIREMENTS.get(backend, []) if cuda else [])
    return not needs or check_requirements(needs, install=False)


def pick_backend(requested: str | None, cuda: bool) -> str:
    """Return ``requested`` once its packages are checked, else the fastest installed backend for the device."""
    if requested is None:
        return "torch" if cuda else next((b for b in CPU_PREFERENCE if installed(b)), "torch")
    if requested == "openvino" and cuda:
        raise UserError("backend 'openvino' runs on the CPU: use --device cpu, or --backend torch on a GPU")
    if not installed(requested, cuda):
        raise UserError(f"backend '{requested}' needs packages that are not installed: {INSTALL_HINT}")
    return requested


def weights_hash(path: Path) -> str:
    """Return the sha256 of the file's content (the export cache key)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def export_key(weights: Path, backend: str) -> str:
    """What an export depends on: the weights' content, the format, its export arguments, Ultralytics' version."""
    import ultralytics

    what = json.dumps([weights_hash(weights), backend, EXPORT_ARGS[backend], ultralytics.__version__], sort_keys=True)
    return hashlib.sha256(what.encode()).hexdigest()[:16]


def cached_export(weights: Path, backend: str) -> Path:
    """Export ``weights`` to ``backend`` through Ultralytics into the cache, or return the export cached there."""
    folder = cache_root() / VIDEO_EXPORTS
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{weights.stem}.{export_key(weights, backend)}{EXPORT_NAMES[backend]}"
    if target.exists():
        return target
    from ultralytics import YOLO

    # Ultralytics writes the export beside its input: export a private copy, then move the export into place in
    # one rename (a second process exporting the same weights at the same time keeps the first one's).
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        copy = Path(shutil.copy2(weights, Path(tmp) / weights.name))
        exported = YOLO(copy).export(format=backend, device="cpu", verbose=False, **EXPORT_ARGS[backend])
        try:
            os.replace(exported, target)
        except OSError:
            if not target.exists():
                raise
    return target


def class_ids(wanted: list[str] | None, names: dict[int, str]) -> list[int] | None:
    """Map ``--classes`` names to the model's class ids; an unknown name is a UserError."""
    if not wanted:
        return None
    by_name = {name: i for i, name in names.items()}
    if unknown := [name for name in wanted if name not in by_name]:
        raise UserError(f"unknown class in --classes: {', '.join(unknown)} "
                        f"(the model's classes: {', '.join(names.values())})")
    return [by_name[name] for name in wanted]


def _load_checkpoint(weights: Path) -> Any:
    """Load an Ultralytics .pt checkpoint of a detect or segment model, else raise UserError."""
    from ultralytics import YOLO

    if not weights.is_file():
        raise UserError(f"weights not found: {weights}")
    if weights.suffix != ".pt":
        raise UserError(f"weights must be an Ultralytics .pt checkpoint: {weights}")
    read_checkpoint(weights)  # refuses a pickle that would run code, before YOLO(weights) unpickles it
    try:
        model = YOLO(weights)
    except Exception as error:  # noqa: BLE001 - torch/pickle raise many types for a file that is not a checkpoint
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise UserError(f"cannot load weights {weights}: {first_line}") from None
    if model.task not in SUPPORTED_TASKS:
        raise UserError(f"weights of a {model.task} model: the video demo needs detect or segment weights ({weights})")
    return model


def load_detector(weights: Path, cfg: VideoConfig) -> Detector:
    """Check weights, classes, device and backend, export when the backend needs it, and return the detector."""
    from ultralytics import YOLO

    from pipeline.ultralytics_api import check_requirements, select_device

    weights = Path(weights)
    model = _load_checkpoint(weights)
    classes = class_ids(cfg.classes, dict(model.names))
    try:
        device = select_device(cfg.device or "", verbose=False)
    except ValueError:
        raise UserError(f"device '{cfg.device}' is not available here: use --device cpu") from None
    backend = pick_backend(cfg.backend, device.type == "cuda")
    if cfg.track and not check_requirements(TRACK_REQUIREMENT, install=False):
        raise UserError(f"--track needs {TRACK_REQUIREMENT}, a roadtune dependency: pip install '{TRACK_REQUIREMENT}'")
    export = cached_export(weights, backend) if backend != "torch" else None
    if export is not None:
        model = YOLO(export, task=model.task)
    device_arg = "cpu" if device.type == "cpu" else str(device.index or 0)
    args = {"imgsz": cfg.imgsz, "conf": cfg.conf, "iou": cfg.iou, "classes": classes, "device": device_arg,
            "verbose": False}
    if cfg.track:  # in predict's args too, so that warmup's predictor is the one track() reuses
        args["tracker"] = f"{cfg.track}.yaml"
    return Detector(model, backend, str(device), model.task, cfg.track, args, export)
