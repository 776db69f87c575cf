"""The ``sweep:`` section of a recipe: a grid of dotted recipe keys, ``repeats`` seeds (0..repeats-1) per point, and
optionally a ``search:`` that stops the points falling behind early (successive halving, ASHA, on Ray Tune):

>>> config = SweepConfig.model_validate({"freeze": ["none", "backbone"], "repeats": 3,
...                                      "search": {"method": "asha"}})
>>> config.grid, config.search.grace_epochs, config.search.reduction
({'freeze': ['none', 'backbone']}, 4, 3.0)
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# What a comparison ranks points by; detect: mAP50-95. Segment ranks by its masks (what it is trained for): a depth
# can gain box mAP and lose mask mAP (measured in docs/example-report-seg).
SCORES = {"classify": ("top1", "top-1 accuracy"), "segment": ("mask_map50_95", "mask mAP50-95")}


def score_of(task: str) -> tuple[str, str]:
    """The metrics.json key and label a comparison of `task` runs ranks by: top-1 for classify, mask mAP50-95 for
    segment, else mAP50-95."""
    return SCORES.get(task, ("map50_95", "mAP50-95"))


# What a search compares points by: a per-epoch validation figure of the stage's results.csv (see
# pipeline.ultralytics_api.EPOCH_METRICS; default: the task's score, mAP50-95 or top-1 for classify), or val_loss,
# the sum of the validation losses (lower is better), which still tells points apart while their mAP is all 0.
RungMetric = Literal["map50_95", "map50", "mask_map50_95", "mask_map50", "top1", "top5", "val_loss"]
LOWER_IS_BETTER = {"val_loss"}


class SearchConfig(BaseModel):
    """`sweep.search`: stop points early. ``asha``: successive halving (each point a trial that reports its
    validation metric after every epoch; at each rung, grace_epochs * reduction^k, the points below the top
    1/reduction so far are stopped). ``paired``: successive elimination at the same rungs, a depth (all its seeds)
    stopped only when a depth freezing no more layers leads it by more than the tolerance over its whole paired
    interval (pipeline.sweep.elimination)."""

    model_config = ConfigDict(extra="forbid")
    method: Literal["asha", "paired"] = Field(description="asha: asynchronous successive halving (Ray Tune's "
                                                          "ASHAScheduler); paired: elimination on paired intervals")
    grace_epochs: int = Field(4, ge=1, description="epochs every point trains before it can be stopped (first rung)")
    reduction: float = Field(3.0, gt=1, description="1/reduction of the points go on at each rung; rungs every "
                                                    "grace_epochs * reduction^k epochs")
    metric: RungMetric | None = Field(None, description="what points are compared by at a rung; default: the task's "
                                                        "score (mAP50-95, top-1 for classify)")
    seed: int = Field(0, ge=0, description="asha: order in which the points start (its decisions depend on it); "
                                           "paired: seed of the interval resamples")
    resamples: int = Field(1000, ge=100, description="paired: bootstrap resamples per rung decision")
    concurrent: int | None = Field(None, ge=1, description="points trained at once; default: one per GPU of the "
                                                           "Ray cluster, 1 without GPUs")


class SweepConfig(BaseModel):
    """The `sweep:` section: dotted recipe key -> list of values (the grid), `repeats` seeds per point, and an
    optional `search`."""

    model_config = ConfigDict(extra="forbid")
    grid: dict[str, Annotated[list[Any], Field(min_length=1)]] = Field(min_length=1)
    repeats: int = Field(1, ge=1)
    search: SearchConfig | None = None

    @model_validator(mode="before")
    @classmethod
    def _split_grid(cls, raw: Any) -> Any:
        # In YAML the grid keys sit beside `repeats` and `search` (sweep: {freeze: [...], repeats: 3}).
        if not isinstance(raw, dict) or "grid" in raw:
            return raw
        rest = {k: v for k, v in raw.items() if k not in ("repeats", "search")}
        return {"grid": rest, **{k: raw[k] for k in ("repeats", "search") if k in raw}}
