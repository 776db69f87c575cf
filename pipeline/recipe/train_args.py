"""The `train:` sections of a recipe (and of its stages and the distillation teacher) against Ultralytics' own
argument rules, before any work: names from cfg/default.yaml, the types and ranges ``check_cfg`` enforces when a
trainer starts (``nbs >= 1``, fractions in [0, 1], ...), and the ranges roadtune adds for values Ultralytics
accepts but would misread or silently adjust. Each problem is one ``dotted.key: message`` line.
"""

from __future__ import annotations

import difflib
import math
from typing import Any

from pipeline.errors import brief, capped
from pipeline.ultralytics_api import OPTIMIZERS  # build_optimizer's names: checked before the run folder exists

MAX_EPOCHS = 100_000  # far beyond any real schedule; a larger count (e.g. `1e23`) is a typo that trains forever

# Train arguments roadtune sets itself from the recipe; a recipe that sets them under `train:` is told where to go.
MANAGED_TRAIN_ARGS = {
    "model": "the top-level `model` key",
    "data": "the top-level `data` key",
    "freeze": "the top-level `freeze` key (or `stages.N.freeze`)",
    "task": "the top-level `task` key",
    "mode": "nothing: roadtune always trains",
    "resume": "`python -m pipeline.run --resume RUN_DIR`",
    "project": "`--runs-dir` (run folders are runs/<name>/<timestamp>)",
    "name": "the top-level `name` key",
    "exist_ok": "nothing: a run folder is never overwritten",
    "save_dir": "`--runs-dir`",
    "cfg": "the recipe itself (a cfg file would bypass these checks and can carry another run's save_dir)",
    "augmentations": "the `augment` section",
    "distill_model": "the `distill` section (method: native)",
    "pretrained": "the top-level `weights` key",
}

LOSS_GAINS = ("box", "cls", "dfl", "pose", "kobj", "rle", "angle", "dlog", "dgrad", "dis")
# Numbers check_cfg (8.4.190) leaves unbounded, as (lowest, highest) valid value: counts and durations cannot be
# negative (save_period -1 is "off"), and Ultralytics' augmentation docs give degrees and shear as -180..180.
RANGES: dict[str, tuple[float, float]] = {
    **dict.fromkeys(LOSS_GAINS, (0, math.inf)),
    "warmup_epochs": (0, math.inf), "time": (0, math.inf), "workspace": (0, math.inf),
    "workers": (0, math.inf), "close_mosaic": (0, math.inf), "line_width": (0, math.inf),
    "save_period": (-1, math.inf), "opset": (1, math.inf),
    "degrees": (-180, 180), "shear": (-180, 180),
}


def check_train_args(args: dict[str, Any], where: str) -> list[str]:
    """Every problem of one train section (`where`: its dotted place, e.g. `stages.0.train`)."""
    from pipeline.ultralytics_api import DEFAULT_CFG_DICT

    problems = []
    for key, value in args.items():
        dotted = f"{where}.{key}"
        if key in MANAGED_TRAIN_ARGS:
            problems.append(f"{dotted}: set by roadtune (use {MANAGED_TRAIN_ARGS[key]})")
        elif key not in DEFAULT_CFG_DICT:
            close = difflib.get_close_matches(key, DEFAULT_CFG_DICT, n=1)
            hint = f"did you mean `{close[0]}`?" if close else "see Ultralytics' cfg/default.yaml for valid names"
            problems.append(f"{dotted}: not an Ultralytics train argument ({hint})")
        elif value is None:
            if DEFAULT_CFG_DICT[key] is not None:
                problems.append(f"{dotted}: null is not a value here (remove the key for Ultralytics' default, "
                                f"{DEFAULT_CFG_DICT[key]!r})")
        else:
            problem = _type_problem(key, value) or _range_problem(key, value) or _ultralytics_problem(key, value)
            problems += [f"{dotted}: {problem}"] if problem else []
    return problems


def _type_problem(key: str, value: Any) -> str | None:
    """Stricter than check_cfg, which turns `true` into 1 and `1e2` into 100 where a number is meant."""
    from pipeline.ultralytics_api import CFG_BOOL_KEYS, CFG_FLOAT_KEYS, CFG_FRACTION_KEYS, CFG_INT_KEYS

    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if key in CFG_BOOL_KEYS and not isinstance(value, bool):
        return f"expected true or false, got {brief(value)}"
    if key in CFG_INT_KEYS and not (number and isinstance(value, int)):
        return f"expected an integer, got {brief(value)}"
    if key in CFG_FLOAT_KEYS | CFG_FRACTION_KEYS and not number and not (key == "fraction" and isinstance(value, list)):
        return f"expected a number, got {brief(value)}"
    if isinstance(value, float) and not math.isfinite(value):
        return f"expected a finite number, got {value}"
    return None


def _ultralytics_problem(key: str, value: Any) -> str | None:
    """Ultralytics' own check_cfg on this one key: what a trainer would refuse once started."""
    from pipeline.ultralytics_api import check_cfg

    try:
        check_cfg({key: value}, hard=True)
    except (TypeError, ValueError) as exc:
        return capped(f"{exc} (Ultralytics' rule)")
    return None


def _range_problem(key: str, value: Any) -> str | None:
    """Values Ultralytics would silently adjust or misread (8.4.190: imgsz 0, batch 0, an unknown optimizer)."""
    if key in RANGES and not RANGES[key][0] <= value <= RANGES[key][1]:
        low, high = RANGES[key]
        return f"must be >= {low}, got {value}" if high == math.inf else f"must be from {low} to {high}, got {value}"
    if key == "epochs" and not 0 < value <= MAX_EPOCHS:
        return f"must be between 1 and {MAX_EPOCHS:,}, got {value}"
    if key == "imgsz":
        sizes = value if isinstance(value, list) else [value]
        if not sizes or not all(isinstance(v, int) and not isinstance(v, bool) and 32 <= v <= 8192 for v in sizes):
            return f"an image size is an integer from 32 to 8192 pixels (or [h, w]), got {brief(value)}"
    if key == "batch" and not (value == -1 or 0 < value < 1 or (value >= 1 and float(value).is_integer())):
        return f"a batch size is an integer >= 1, -1 (AutoBatch) or a GPU-memory fraction in (0, 1), got {value!r}"
    if key == "optimizer" and str(value).lower() not in {o.lower() for o in OPTIMIZERS}:
        close = difflib.get_close_matches(str(value), OPTIMIZERS, n=1)
        hint = f"did you mean `{close[0]}`?" if close else f"one of: {', '.join(OPTIMIZERS)}"
        return f"not an Ultralytics optimizer: {brief(value)} ({hint})"
    return None
