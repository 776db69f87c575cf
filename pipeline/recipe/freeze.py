"""Freeze specs: which layers of an Ultralytics model stay fixed, resolved from the model's own architecture.

Freezing itself is done by Ultralytics' ``freeze=`` train argument (it re-enables gradients that were switched off
by hand); this module turns a spec into the list of layer indices to pass, and describes the plan.

>>> from pipeline.recipe.models import build_model
>>> model = build_model("yolov8n.yaml", nc=3)
>>> resolve_freeze("backbone", model)
[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
>>> len(resolve_freeze("all-but-head", model)), len(model.model)
(22, 23)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import nn

from pipeline.errors import UserError

# Ultralytics' trainer freeze-name rule (pipeline.ultralytics_api): the plan below uses it so its counts match.
from pipeline.ultralytics_api import ALWAYS_FROZEN


def backbone_length(model: nn.Module) -> int:
    """Number of layers in the `backbone:` section of the model's YAML (10 for YOLOv8/v5u, 11 for YOLO11)."""
    return len(model.yaml["backbone"])


def resolve_freeze(spec: int | list[int] | str | None, model: nn.Module) -> list[int]:
    """Layer indices frozen by `spec`: an int N (layers 0..N-1), a list of indices, or none/backbone/all-but-head."""
    n_layers = len(model.model)
    if spec is None or spec == "none":
        return []
    if spec == "backbone":
        return list(range(backbone_length(model)))
    if spec == "all-but-head":
        return list(range(n_layers - 1))
    if isinstance(spec, bool) or not isinstance(spec, (int, list)):
        raise UserError(f"unknown freeze spec {spec!r} (use an int, a list, or none, backbone, all-but-head)")
    indices = list(range(spec)) if isinstance(spec, int) else sorted(set(spec))
    beyond = [i for i in ([spec - 1] if isinstance(spec, int) and spec else indices) if i >= n_layers]
    if beyond:
        raise UserError(
            f"{spec} goes beyond the model's {n_layers} layers (0..{n_layers - 1})",
            [f"use at most {n_layers - 1} (all but the head), or `all-but-head`"],
        )
    return indices


def is_frozen(param_name: str, frozen: list[int]) -> bool:
    """Whether Ultralytics freezes the parameter `param_name` (relative to the model, e.g. model.3.conv.weight)."""
    return any(f"model.{i}." in param_name for i in frozen) or any(x in param_name for x in ALWAYS_FROZEN)


def layer_role(index: int, model: nn.Module) -> str:
    """backbone, neck or head: the YAML's backbone section, the final layer, and everything in between."""
    if index < backbone_length(model):
        return "backbone"
    return "head" if index == len(model.model) - 1 else "neck"


@dataclass
class FreezePlan:
    """Per-layer view of a freeze: what stays fixed and how many parameters still train.

    ``rows`` are plain dicts (one per layer), not a DataFrame: every run plans its freeze, and importing pandas
    for it cost a quarter of a second of every run's start-up; only :meth:`render` (``--dry-run``) uses pandas.
    """

    frozen_layers: list[int]
    rows: list[dict[str, Any]]

    @property
    def params_total(self) -> int:
        return sum(row["params"] for row in self.rows)

    @property
    def params_trainable(self) -> int:
        return sum(row["trainable_params"] for row in self.rows)

    @property
    def params_frozen(self) -> int:
        return self.params_total - self.params_trainable

    def render(self) -> str:
        """The plan as a text table with totals (what `--dry-run` prints)."""
        import pandas as pd

        table = pd.DataFrame(self.rows)
        shown = table.assign(state=table["frozen"].map({True: "frozen", False: "trainable"}))
        body = shown[["layer", "module", "role", "params", "trainable_params", "state"]].to_string(index=False)
        share = 100 * self.params_trainable / max(self.params_total, 1)
        return (
            f"{body}\n"
            f"trainable {self.params_trainable:,} / frozen {self.params_frozen:,} / total {self.params_total:,}"
            f" parameters ({share:.1f}% trainable); frozen layers: {len(self.frozen_layers)}"
        )


def freeze_plan(model: nn.Module, frozen: list[int]) -> FreezePlan:
    """Describe each layer (index, module type, role, parameters, trainable parameters, frozen)."""
    rows = []
    for index, layer in enumerate(model.model):
        names = [(f"model.{index}.{n}", p) for n, p in layer.named_parameters() if p.dtype.is_floating_point]
        rows.append(
            {
                "layer": index,
                "module": type(layer).__name__,
                "role": layer_role(index, model),
                "params": sum(p.numel() for _, p in names),
                "trainable_params": sum(p.numel() for n, p in names if not is_frozen(n, frozen)),
                "frozen": index in frozen,
            }
        )
    plan = FreezePlan(frozen_layers=frozen, rows=rows)
    if plan.params_trainable == 0:
        raise UserError("this spec freezes every parameter, nothing would train (leave the head trainable)")
    return plan
