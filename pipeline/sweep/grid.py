"""A sweep's grid: the points of a recipe's ``sweep:`` section (:class:`pipeline.recipe.sweep.SweepConfig`),
and the checks that every point makes a valid recipe:

>>> config = SweepConfig.model_validate({"freeze": ["none", "backbone"], "repeats": 2})
>>> [p.id for p in expand(config)]
['0-freeze-none-s0', '1-freeze-backbone-s0', '0-freeze-none-s1', '1-freeze-backbone-s1']
"""

from __future__ import annotations

import copy
import itertools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from pipeline.errors import UserError
from pipeline.recipe.overrides import apply_overrides
from pipeline.recipe.schema import format_validation_error, parse_recipe, validate_recipe
from pipeline.recipe.sweep import SweepConfig


@dataclass(frozen=True)
class Point:
    """One run of the sweep: a combination of grid values (number `combo`) and a seed."""

    combo: int
    values: tuple[tuple[str, Any], ...]
    seed: int

    @property
    def id(self) -> str:
        slug = "_".join(f"{k.split('.')[-1]}-{_slug(v)}" for k, v in self.values)
        return f"{self.combo}-{slug}-s{self.seed}"

    def overrides(self) -> list[str]:
        """`--set`-style overrides of this point (values as JSON, which YAML reads back unchanged)."""
        return [f"{k}={json.dumps(v)}" for k, v in self.values] + [f"train.seed={self.seed}"]


def _slug(value: Any) -> str:
    text = "-".join(map(str, value)) if isinstance(value, list) else str(value)
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(text).name if "/" in text else text)


def expand(config: SweepConfig) -> list[Point]:
    """Every grid combination times every seed; all combinations of seed 0 first, so a partial sweep compares."""
    keys = list(config.grid)
    combos = list(itertools.product(*(config.grid[k] for k in keys)))
    return [Point(i, tuple(zip(keys, combo)), seed) for seed in range(config.repeats) for i, combo in enumerate(combos)]


def point_raw(base: dict[str, Any], point: Point) -> dict[str, Any]:
    """The raw recipe of a point: the base without `sweep`, with the point's values and seed applied."""
    raw = copy.deepcopy({k: v for k, v in base.items() if k != "sweep"})
    return apply_overrides(raw, point.overrides())


def sweep_config_problems(section: Any) -> tuple[SweepConfig | None, list[str]]:
    """The `sweep:` section's shape: the config (with a bad `repeats` taken as 1, so the grid is still checked)
    and its problems.
    """
    try:
        return SweepConfig.model_validate(section), []
    except ValidationError as err:
        lines = [f"sweep.{line.removeprefix('grid.')}" for line in format_validation_error(err)]
        problems = [*lines, "write sweep: {KEY: [VALUE, ...], repeats: N}"]
    try:
        return SweepConfig.model_validate({**section, "repeats": 1}), problems
    except (ValidationError, TypeError):
        return None, problems


def parse_sweep(base: dict[str, Any]) -> tuple[SweepConfig | None, list[str]]:
    """Validate the `sweep:` section of a raw recipe: its shape, and that every grid value makes a valid recipe."""
    config, problems = sweep_config_problems(base["sweep"])
    if config is None:
        return None, problems
    _, base_problems = validate_recipe({k: v for k, v in base.items() if k != "sweep"})  # reported once, not per value
    for key, values in config.grid.items():
        if key.split(".")[0] in {"sweep", "stages"} or key == "train.seed":
            problems.append(f"sweep.{key}: cannot be swept (seeds come from `repeats`; stages are not a grid axis)")
            continue
        for value in values:
            try:
                parse_recipe(point_raw(base, Point(0, ((key, value),), 0)))
            except UserError as exc:
                problems += [f"sweep.{key}={json.dumps(value)}: {p}" for p in exc.problems or [str(exc)]
                             if p not in base_problems]
    return config, problems
