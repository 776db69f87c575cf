"""The ``sweep:`` section of a recipe: a grid of dotted recipe keys, ``repeats`` seeds (0..repeats-1) per point."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class SweepConfig(BaseModel):
    """The `sweep:` section: dotted recipe key -> list of values (the grid), and `repeats` seeds per point."""

    model_config = ConfigDict(extra="forbid")
    grid: dict[str, Annotated[list[Any], Field(min_length=1)]] = Field(min_length=1)
    repeats: int = Field(1, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _split_grid(cls, raw: Any) -> Any:
        # In YAML the grid keys sit beside `repeats` (sweep: {freeze: [...], repeats: 3}).
        if not isinstance(raw, dict) or "grid" in raw:
            return raw
        rest = {k: v for k, v in raw.items() if k != "repeats"}
        return {"grid": rest, "repeats": raw.get("repeats", 1)}
