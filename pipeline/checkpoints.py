"""The one place a user's checkpoint is read: tensors and Ultralytics' own model classes only, never code.

A ``.pt`` file is a pickle, and unpickling can call any function (``os.system``...). Every file a user names
(``model``, ``weights``, ``distill.teacher``, video weights, ``--advise``) is read here with
``torch.load(weights_only=True)`` against Ultralytics' allow-list of its own and torch's model classes; anything
else is a :class:`UserError` naming the file and the refused global. :func:`pipeline.bootstrap.bootstrap` also turns
on Ultralytics' own safe loading, so the files its trainer and ``YOLO(path)`` read later are held to the same rule.
``ROADTUNE_TRUST_PICKLES=1`` unpickles fully, for a checkpoint you made yourself that holds other classes.
"""

from __future__ import annotations

import os
import pickle
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.errors import UserError

if TYPE_CHECKING:  # torch and Ultralytics are imported on first load: pipeline.video's import stays light
    from torch import nn

TRUST_ENV = "ROADTUNE_TRUST_PICKLES"


def trust_pickles() -> bool:
    """True when the user opted in to unpickling checkpoints fully (``ROADTUNE_TRUST_PICKLES=1``)."""
    return os.environ.get(TRUST_ENV, "").strip().lower() in {"1", "true", "yes"}


def read_checkpoint(path: str | Path) -> Any:
    """The content of a checkpoint or state-dict file, unpickled without running code; else a UserError."""
    # Ultralytics 8.4.190 nn/tasks.py torch_safe_load(safe_only=True): torch.load(weights_only=True) with the
    # allow-list of Ultralytics/torch model classes that checkpoint references (_SafeLoad), legacy module paths mapped.
    import torch

    from pipeline.ultralytics_api import torch_safe_load

    if not trust_pickles() and not hasattr(torch.serialization, "get_unsafe_globals_in_checkpoint"):
        # Ultralytics 8.4.190 falls back to a full unpickle on torch < 2.6 (no allow-list scan): refuse instead
        raise UserError(f"cannot load {path} safely: torch {torch.__version__} has no weights_only allow-list",
                        ["install torch>=2.6", f"or, only for files you trust: set {TRUST_ENV}=1"])
    try:
        return torch_safe_load(str(path), safe_only=not trust_pickles())[0]
    except Exception as exc:  # torch/pickle raise many types; the user needs the file and the reason
        raise _load_error(path, exc) from None


def load_model(path: str | Path, device: Any = "cpu") -> nn.Module:
    """The FP32 model of an Ultralytics checkpoint, read by :func:`read_checkpoint` first, on `device`."""
    checkpoint = read_checkpoint(path)
    if not isinstance(checkpoint, dict) or checkpoint.get("ema") is None and checkpoint.get("model") is None:
        raise UserError(f"{path} holds no model (no `model` or `ema` entry: a state dict?): give it as `weights:` "
                        "beside a model architecture (e.g. model: yolov8n.yaml), or give an Ultralytics checkpoint")
    # Ultralytics 8.4.190 load_checkpoint: the model (EMA first) with its args, task and stride set. It unpickles the
    # file again, which has just passed the weights_only check (and is safe itself once bootstrap ran).
    from pipeline.ultralytics_api import load_checkpoint

    try:
        return load_checkpoint(str(path), device=device)[0]
    except Exception as exc:  # torch/Ultralytics raise many types; the user needs the file and the reason
        raise _load_error(path, exc) from None


def _load_error(path: str | Path, exc: BaseException) -> UserError:
    """A refused global or call, or else what made the file unreadable (e.g. not a checkpoint at all)."""
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, pickle.UnpicklingError):
        cause = cause.__cause__ or cause.__context__
    text = str(cause or "")
    refused = re.search(r"GLOBAL ([\w.]+)", text)  # torch's unpickler met a global outside the allow-list
    unpickler = re.search(r"WeightsUnpickler error:\s*(.+)", text)
    if refused:
        reason = f"it needs {refused.group(1)}, which is not a tensor or an Ultralytics/torch model class"
    elif unpickler and " blocked " in unpickler.group(1):  # an allow-listed callable refused, e.g. Ultralytics' getattr
        reason = unpickler.group(1).strip()
    else:
        detail = unpickler.group(1) if unpickler else (str(exc).strip().splitlines() or [""])[0]
        return UserError(f"cannot load checkpoint {path} ({type(cause or exc).__name__}: {detail.strip()})")
    return UserError(
        f"refused to load {path}: {reason} (a .pt is a pickle: loading it can run any code)",
        [f"only if you made this file yourself and trust it: set {TRUST_ENV}=1 to unpickle it fully"],
    )
