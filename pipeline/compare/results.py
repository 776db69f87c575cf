"""Results of finished runs as tables: one row per run (read by :mod:`pipeline.compare.collect`), then one per point
over repeats, with the labels the tables write.

A row carries what the report compares (accuracy, cost, parameters) and what it groups by: ``config`` (the run's
recipe without its name and seed: runs that differ only by seed are repeats of one point) and ``family`` (also
without the freeze: the points a freeze depth is compared within, against the family's ``freeze: none`` point).
The swept keys (axes) of a comparison are the recipe keys whose values differ between its runs, in the order of the
sweep's grid (sweep.json) where there is one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.recipe.stages import stage_freeze
from pipeline.recipe.sweep import SweepConfig, score_of  # noqa: F401 (score_of: the report imports it from here)
from pipeline.run_folder import POINTS

FIGURES = ["map50", "map50_95", "mask_map50_95", "top1", "top5", "precision", "recall", "epochs", "batches",
           "images_seen", "time_per_epoch_s", "train_time_s", "images_per_s", "peak_memory_mb",
           "inference_ms_per_image"]
ENV_KEYS = ["roadtune", "ultralytics", "torch", "python", "device", "device_kind", "cpu_count", "git_commit"]
SHOWN_AXES = {"freeze", "model", "weights"}  # swept keys the tables already show in columns of their own
# recipe keys that never make points differ (seeds make repeats; per_image only keeps more records)
NOT_AXES = {"name", "sweep", "train.seed", "per_image"}
# probe.json's figures of a point (pipeline.sweep.probe) -> the points table's column
PROBE_FIGURES = {"probe_batch": "probe_batch", "default_images_per_s": "probe_default_images_per_s",
                 "probe_images_per_s": "probe_images_per_s"}


def freeze_label(recipe: dict[str, Any]) -> str:
    """The freeze spec as written in the recipe; per stage (`head:backbone > full:none`) for schedules."""
    if not recipe.get("stages"):
        return str(recipe.get("freeze", "none"))
    recipe_freeze = recipe.get("freeze", "none")
    return " > ".join(f"{s['name']}:{stage_freeze(recipe_freeze, s.get('freeze'))}" for s in recipe["stages"])


def dataset_label(data: str) -> str:
    path = Path(data)
    return f"{path.parent.name}/{path.name}"


def group_key(recipe: dict[str, Any], drop_freeze: bool) -> str:
    """JSON of the recipe without name and seed (and without freeze specs): equal keys group together."""
    key = {k: v for k, v in recipe.items() if k not in ("name", "sweep")}
    key["train"] = {k: v for k, v in recipe.get("train", {}).items() if k != "seed"}
    if drop_freeze:
        key.pop("freeze", None)
        key["stages"] = [{k: v for k, v in s.items() if k != "freeze"} for s in recipe.get("stages") or []]
    return json.dumps(key, sort_keys=True, default=str)


def value_text(value: Any) -> str:
    """A recipe value as the report writes it: scalars as written, lists and mappings as compact JSON."""
    return json.dumps(value, sort_keys=True) if isinstance(value, (list, dict)) else str(value)


def _short_path(path: str) -> str:
    """A file by its name, a folder by its parent and name (`cctv_traffic_mini/images`)."""
    p = Path(path)
    return p.name if p.suffix else f"{p.parent.name}/{p.name}"


def shown_value(key: str, value: str) -> str:
    """A swept value as tables and plots show it: file names without their folders, also inside a list of paths
    (`distill.unlabeled`); report.csv keeps the full value."""
    if key in {"model", "weights", "data"}:
        return Path(value).name
    if value.startswith("[\"/"):
        try:
            paths = json.loads(value)
        except ValueError:
            return value
        return "[" + ", ".join(_short_path(p) for p in paths) + "]"
    return value


def recipe_values(recipe: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """The recipe as dotted key -> value text, the freeze spec (stages' freezes included) as key `freeze`."""
    values = {} if prefix else {"freeze": freeze_label(recipe)}
    for key, value in recipe.items():
        dotted = prefix + key
        if dotted in NOT_AXES or dotted == "freeze":
            continue
        if dotted == "stages" and value:
            value = [{k: v for k, v in s.items() if k != "freeze"} for s in value]
        if isinstance(value, dict):
            values.update(recipe_values(value, dotted + "."))
        else:
            values[dotted] = value_text(value)
    return values


def find_axes(runs: pd.DataFrame, grid: dict[str, list[str]]) -> dict[str, list[str]]:
    """The swept keys of one comparison (keys whose values differ between its runs) -> their values in order.

    Grid keys come first and keep the grid's order of values (its first value is the reference); other differing
    keys (run folders compared by hand) follow in sorted order, values in order of appearance.
    """
    values = pd.DataFrame(list(runs["values"]), index=runs.index).fillna("—")  # "—": key absent in that recipe
    axes = {}
    for key in [*grid, *sorted(set(values.columns) - set(grid))]:
        present = list(dict.fromkeys(values[key])) if key in values else []
        if len(present) > 1:
            order = [v for v in grid.get(key, []) if v in present]
            axes[key] = order + [v for v in present if v not in order]
    return axes


def points_table(runs: pd.DataFrame, score: str = "map50_95", axes: dict[str, list[str]] | None = None) -> pd.DataFrame:
    """One row per point (config): mean and `<metric>_std` over its repeats, `n` repeats, its run folders.

    Each swept key of `axes` not shown otherwise (see SHOWN_AXES) becomes a column holding the point's value;
    points are ordered by model, by the swept values in their axis order, then by freeze depth.
    """
    axes = axes or {}
    runs = runs.assign(**{k: runs["values"].map(lambda v, k=k: v.get(k, "—")) for k in axis_columns(axes)})
    grouped = runs.groupby("config", sort=False)
    first = grouped[["task", "dataset", "model", "weights", "freeze", "family", "frozen_layers", "params_trainable",
                     "params_total", "memory_kind", "values", *axis_columns(axes)]].first()
    numeric = runs[FIGURES].apply(pd.to_numeric, errors="coerce").assign(config=runs["config"])
    means = numeric.groupby("config", sort=False)[FIGURES].mean()
    stds = numeric.groupby("config", sort=False)[FIGURES].std().add_suffix("_std")  # NaN for a single repeat
    extra = grouped.agg(n=("run", "size"), run_dirs=("run_dir", list), seeds=("seed", list), scores=(score, list))
    points = pd.concat([first, means, stds, extra], axis=1).reset_index()
    ranks = {f"rank {k}": points["values"].map(lambda v, k=k, order=order: order.index(v.get(k, "—")))
             for k, order in axes.items() if k != "freeze"}
    order = ["model", "weights", *ranks, "family", "frozen_layers", "params_trainable"]
    points = points.assign(**ranks).sort_values(order, ascending=[True] * (len(order) - 1) + [False], kind="stable")
    return with_deltas(points.drop(columns=list(ranks)).reset_index(drop=True), score)


def with_probe(points: pd.DataFrame, probes: list[dict[str, Any]]) -> pd.DataFrame:
    """The probe's figures of each point it measured (found by the point's run folder); unchanged without probes."""
    if not probes:
        return points
    by_dir = {probe["sweep_dir"] / POINTS / entry["point"]: entry for probe in probes for entry in probe["points"]}
    found = [next((by_dir[Path(d)] for d in dirs if Path(d) in by_dir), {}) for dirs in points["run_dirs"]]
    return points.assign(**{column: pd.to_numeric(pd.Series([f.get(key) for f in found], index=points.index))
                            for key, column in PROBE_FIGURES.items()})


def axis_columns(axes: dict[str, list[str]]) -> list[str]:
    """The swept keys that get a column of their own in the tables."""
    return [k for k in axes if k not in SHOWN_AXES]


def with_deltas(points: pd.DataFrame, score: str = "map50_95") -> pd.DataFrame:
    """Deltas against the family's `freeze: none` point: `score` points lost, time and memory saved in %."""
    base = points[points["frozen_layers"] == 0].drop_duplicates("family").set_index("family")
    ref = points["family"].map
    points["map_lost_pts"] = (ref(base[score]) - points[score]) * 100
    points["time_saved_pct"] = (1 - points["time_per_epoch_s"] / ref(base["time_per_epoch_s"])) * 100
    points["memory_saved_pct"] = (1 - points["peak_memory_mb"] / ref(base["peak_memory_mb"])) * 100
    return points.round({"map_lost_pts": 3, "time_saved_pct": 2, "memory_saved_pct": 2})


def per_class_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean per-class mAP50-95 of each point (rows: configs, columns: class names); NaN where a class had no AP."""
    per_class = pd.DataFrame([{"config": c, **pc} for c, pc in zip(runs["config"], runs["per_class"])])
    return per_class.groupby("config", sort=False).mean(numeric_only=True)


def environments(runs: pd.DataFrame) -> pd.DataFrame:
    """The distinct versions and devices the runs were made with, and how many runs each."""
    # pandas 3's str dtype keeps None as NaN, and value_counts drops NaN rows: name the missing values instead.
    env = runs[ENV_KEYS].map(lambda v: "unknown" if v is None or pd.isna(v) else str(v))
    return env.value_counts(dropna=False).rename("runs").reset_index()
