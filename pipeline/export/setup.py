"""What an export needs on this machine: each format's runtime packages, a CUDA GPU for TensorRT, checked before
any work (the recipe's ``export:`` section in preflight, and ``python -m pipeline.export``)."""

from __future__ import annotations

from importlib.util import find_spec

from pipeline.recipe.export import ExportConfig
from pipeline.video.backend import INSTALL_HINT, installed

# What Ultralytics 8.4.190's exporter checks for beyond the runtime itself (video.backend.REQUIREMENTS), written as it
# checks them: we check first with install=False, because it would otherwise pip-install them halfway through.
INT8_REQUIREMENTS: dict[str, list[str]] = {"openvino": ["nncf>=2.14.0"]}


def setup_problems(cfg: ExportConfig, cuda: bool) -> list[str]:
    """What keeps these exports from running on this machine: a format without its device or its packages."""
    from pipeline.ultralytics_api import check_requirements

    problems = []
    for fmt in cfg.format:
        if fmt == "engine" and not cuda:
            problems.append("format engine: TensorRT builds and runs only on a CUDA GPU and this machine has none "
                            "(export onnx or openvino here, or engine on the target GPU)")
            continue
        # TensorRT engines are built from an ONNX export, so they need the onnx packages too; its wheel's name
        # depends on the CUDA version (tensorrt-cu12...), its module does not
        needs = INT8_REQUIREMENTS.get(fmt, []) if cfg.int8 else []
        runtime = installed("onnx" if fmt == "engine" else fmt, cuda) and (fmt != "engine" or find_spec("tensorrt"))
        if not runtime or needs and not check_requirements(needs, install=False):
            problems.append(f"format {fmt}{' int8' if cfg.int8 else ''}: needs packages that are not installed: "
                            f"{INSTALL_HINT}" + (" and pip install tensorrt" if fmt == "engine" else ""))
    return problems
