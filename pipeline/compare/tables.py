"""The report's human tables: figures formatted (mean ± std, signed deltas) as plain text.
:mod:`pipeline.compare.view` adds the links to the run folders; :mod:`pipeline.compare.render` writes the tables.

>>> cell(0.12345, 0.01, 3), cell(0.12345, float("nan"), 3), number(float("nan"), 1)
('0.123 ± 0.010', '0.123', '')
"""

from __future__ import annotations

import pandas as pd

from pipeline.compare.intervals import NO_INTERVAL
from pipeline.compare.results import axis_columns, score_of, shown_value

# the probe's columns (pipeline.sweep.probe): name, points column, digits
PROBE_SHOWN = [("probe batch", "probe_batch", 0), ("images/s @ default batch (probe)", "probe_default_images_per_s", 1),
               ("images/s @ probe batch", "probe_images_per_s", 1)]


def number(value: float, digits: int) -> str:
    """A figure with `digits` decimals; empty where there is none."""
    return "" if pd.isna(value) else f"{value:.{digits}f}"


def cell(mean: float, std: float, digits: int) -> str:
    """Mean ± std over repeats (the mean alone for one run)."""
    return number(mean, digits) + ("" if pd.isna(mean) or pd.isna(std) else f" ± {std:.{digits}f}")


def bounds(low: float, high: float, digits: int, signed: bool = False) -> str:
    """An interval as `[low, high]`, or "no interval" where it has none."""
    if pd.isna(low) or pd.isna(high):
        return NO_INTERVAL
    form = f"{{:+.{digits}f}}" if signed else f"{{:.{digits}f}}"
    return f"[{form.format(low)}, {form.format(high)}]"


def _deltas(points: pd.DataFrame, label: str) -> dict[str, pd.Series]:
    """The delta columns against `freeze: none`, signed so that positive is better (more accuracy, less cost),
    the accuracy delta with its paired interval."""
    columns = {f"Δ {label} vs none (pts)": -points["map_lost_pts"], "time saved %": points["time_saved_pct"],
               "memory saved %": points["memory_saved_pct"]}
    shown = {name: col.map(_signed) for name, col in columns.items()}
    if "delta_lo_pts" in points:
        paired = [bounds(lo, hi, 1, signed=True) for lo, hi in zip(points["delta_lo_pts"], points["delta_hi_pts"])]
        shown = {f"Δ {label} vs none (pts)": shown.pop(f"Δ {label} vs none (pts)"),
                 f"Δ {label} vs none, 95 % paired": pd.Series(paired, index=points.index), **shown}
    return shown


def _signed(value: float) -> str:
    """One decimal with its sign; zero (also a rounded -0.04) without one."""
    if pd.isna(value):
        return ""
    return "0.0" if round(value, 1) == 0 else f"{value:+.1f}"


def display_table(points: pd.DataFrame, axes: dict[str, list[str]], task: str) -> pd.DataFrame:
    """The human table of one comparison's points: swept values (`axes`), formatted mean ± std, deltas against
    `freeze: none`."""
    kinds = points["memory_kind"].map({"cuda": "GPU", "rss": "RSS"}).fillna("?")
    memory = f"peak memory MB ({kinds.iloc[0]})" if kinds.nunique() == 1 else "peak memory MB"
    table = pd.DataFrame({
        "model": points["model"] + points["weights"].map(lambda w: f" ← {w}" if w else ""),
        "freeze": points["freeze"],
        **{k: points[k].map(lambda v, k=k: shown_value(k, v)) for k in axis_columns(axes)},
        "frozen layers": points["frozen_layers"],
        "trainable params": points["params_trainable"].map("{:,}".format), "runs": points["n"]})
    for name, col, digits in [("mAP50", "map50", 4), ("mAP50-95", "map50_95", 4), ("mask mAP50-95", "mask_map50_95", 4),
                              ("top-1", "top1", 4), ("top-5", "top5", 4),
                              ("precision", "precision", 3), ("recall", "recall", 3), ("epochs", "epochs", 0),
                              ("batches", "batches", 0), ("images seen", "images_seen", 0),
                              ("s/epoch", "time_per_epoch_s", 1), ("images/s", "images_per_s", 1),
                              (memory, "peak_memory_mb", 0), ("inference ms/img", "inference_ms_per_image", 1)]:
        if points[col].notna().any():
            table[name] = [cell(m, s, digits) for m, s in zip(points[col], points[f"{col}_std"])]
    score, label = score_of(task)
    if "score_lo" in points:  # the score's interval right after the score's column
        at = table.columns.get_loc(label) + 1 if label in table else len(table.columns)
        table.insert(at, f"{label} 95 % interval", [bounds(lo, hi, 4) for lo, hi in
                                                    zip(points["score_lo"], points["score_hi"])])
    if kinds.nunique() > 1:
        table[memory] += " " + kinds
    if "probe_batch" in points:  # --probe-batch: beside the full runs' images/s, the probe's at both batches
        at = table.columns.get_loc("images/s") + 1 if "images/s" in table else len(table.columns)
        for i, (name, col, digits) in enumerate(PROBE_SHOWN):
            table.insert(at + i, name, points[col].map(lambda v, d=digits: number(v, d)))
    if points["freeze"].nunique() > 1:  # without a freeze axis every point is its own `freeze: none` reference
        return table.assign(**_deltas(points, label))
    return table
