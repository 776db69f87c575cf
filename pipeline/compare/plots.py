"""The report's figures (matplotlib, Agg backend: no display needed); :func:`all_plots` returns them as PNG bytes.

Every plot takes the points table of one comparison (see :func:`pipeline.compare.results.points_table`): freeze depth is
the frozen layer count, one line per family (model, weights and the other swept values), error bars are the std over
repeats, points are named by their swept values.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # headless: the report is written on servers and in CI

import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from pipeline.compare.results import shown_value  # noqa: E402


def _png(fig: plt.Figure) -> bytes:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


def _swept(values: dict[str, str], keys: list[str]) -> list[str]:
    return [f"{k.split('.')[-1]} {shown_value(k, values.get(k, '—'))}" for k in keys]


def point_labels(points: pd.DataFrame, axes: Sequence[str]) -> list[str]:
    """Each point named by its swept values; by its freeze spec alone when freeze is all that is swept."""
    if set(axes) <= {"freeze"}:
        return list(points["freeze"])
    return [", ".join(_swept(values, axes)) for values in points["values"]]


def _family_label(group: pd.DataFrame, axes: Sequence[str]) -> str:
    row = group.iloc[0]
    text = f"{row['model']}" + (f" + {row['weights']}" if row["weights"] else "")
    return ", ".join([text, *_swept(row["values"], [k for k in axes if k not in {"freeze", "model", "weights"}])])


def by_depth(points: pd.DataFrame, metric: str, ylabel: str, title: str, axes: Sequence[str] = (),
             stopped: pd.DataFrame | None = None, interval_of: str = "") -> plt.Figure:
    """`metric` (mean) against frozen layer count, one line per family, ticks named by spec; error bars: the score's
    95 % interval where the points have one (`score_lo`/`score_hi`, for the score's plot), else the std over
    repeats; the points a search `stopped` (frozen_layers, value, epoch) as grey crosses where they stopped."""
    fig, ax = plt.subplots(figsize=(6.4, 4))
    if stopped is not None and not stopped.empty:
        ax.scatter(stopped["frozen_layers"], stopped["value"], marker="x", color="tab:gray",
                   label="stopped by the search (score where it stopped)")
        for x, y, epoch in zip(stopped["frozen_layers"], stopped["value"], stopped["epoch"]):
            ax.annotate(f"e{epoch}", (x, y), textcoords="offset points", xytext=(5, -3), fontsize=7, color="tab:gray")
    interval = interval_of == metric and "score_lo" in points and points["score_lo"].notna().any()
    for _, group in points.groupby("family", sort=False):
        spread = ([(group[metric] - group["score_lo"]).clip(lower=0).fillna(0),
                   (group["score_hi"] - group[metric]).clip(lower=0).fillna(0)] if interval else
                  group[f"{metric}_std"].fillna(0))
        ax.errorbar(group["frozen_layers"], group[metric], yerr=spread, marker="o", capsize=4,
                    label=_family_label(group, axes))
        for x, y, spec in zip(group["frozen_layers"], group[metric], group["freeze"]):
            ax.annotate(spec, (x, y), textcoords="offset points", xytext=(0, 7), ha="center", fontsize=8)
    ax.margins(y=0.15)  # room for the spec labels above the points
    ax.set(xlabel="frozen layers (freeze depth)", ylabel=ylabel + (" (95 % interval)" if interval else ""),
           title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def pareto_front(cost: pd.Series, accuracy: pd.Series) -> pd.Series:
    """True for points no other point beats on both: lower or equal cost with higher accuracy (or equal, cheaper)."""
    c, a = cost.to_numpy(), accuracy.to_numpy()
    dominated = [bool(np.any(((c <= ci) & (a > ai)) | ((c < ci) & (a >= ai)))) for ci, ai in zip(c, a)]
    return pd.Series(~np.array(dominated, dtype=bool), index=cost.index)


def accuracy_vs_cost(points: pd.DataFrame, score: str = "map50_95", label: str = "mAP50-95",
                     axes: Sequence[str] = ()) -> plt.Figure:
    """`score` against training time per epoch; the Pareto front (best accuracy for its cost) is marked."""
    fig, ax = plt.subplots(figsize=(6.4, 4))
    front = pareto_front(points["time_per_epoch_s"], points[score])
    ax.scatter(points["time_per_epoch_s"], points[score], c="tab:gray", label="point")
    best = points[front].sort_values("time_per_epoch_s")
    ax.plot(best["time_per_epoch_s"], best[score], "o-", color="tab:red", label="Pareto front")
    for x, y, name in zip(points["time_per_epoch_s"], points[score], point_labels(points, axes)):
        ax.annotate(name, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set(xlabel="training time per epoch (s)", ylabel=label, title="Accuracy vs training cost")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def accuracy_vs_latency(rows: pd.DataFrame, label: str = "mAP50-95") -> plt.Figure:
    """Accuracy after export against deployed latency (batch 1, median), one marker per point and format; the
    Pareto front (the most accurate model for its latency) is marked."""
    fig, ax = plt.subplots(figsize=(6.4, 4))
    for fmt, group in rows.groupby("format", sort=True):
        ax.scatter(group["latency_ms"], group["score"], label=fmt)
    front = rows[pareto_front(rows["latency_ms"], rows["score"])].sort_values("latency_ms")
    ax.plot(front["latency_ms"], front["score"], "-", color="tab:red", label="Pareto front")
    for x, y, name in zip(rows["latency_ms"], rows["score"], rows["point"]):
        ax.annotate(name, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set(xlabel="deployed latency at batch 1 (ms, median)", ylabel=f"{label} after export",
           title="Accuracy vs deployed latency")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def per_class_heatmap(points: pd.DataFrame, per_class: pd.DataFrame, label: str = "mAP50-95",
                      axes: Sequence[str] = ()) -> plt.Figure:
    """Per-class `label` by point (rows, named by swept values) and class (columns); blank where no value."""
    table = per_class.reindex(points["config"])
    labels = point_labels(points, axes)
    fig, ax = plt.subplots(figsize=(1.2 * max(len(table.columns), 3) + 2, 0.5 * len(table) + 1.6))
    image = ax.imshow(table.to_numpy(dtype=float), cmap="viridis", aspect="auto", vmin=0)
    ax.set_xticks(range(len(table.columns)), table.columns, rotation=30, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    values = table.to_numpy(dtype=float)
    for (i, j), value in np.ndenumerate(values):
        if not np.isnan(value):  # dark text on the bright end of viridis, light text elsewhere
            color = "k" if value > 0.6 * np.nanmax(values) else "w"
            ax.text(j, i, f"{value:.3f}", ha="center", va="center", color=color, fontsize=8)
    ax.set(xlabel="class", ylabel="point", title=f"Per-class {label} by point")
    fig.colorbar(image, ax=ax)
    return fig


def all_plots(points: pd.DataFrame, per_class: pd.DataFrame, score: str = "map50_95", label: str = "mAP50-95",
              axes: Sequence[str] = (), deployed: pd.DataFrame | None = None,
              stopped: Sequence[dict] = ()) -> dict[str, bytes]:
    """Every figure of one comparison as PNG bytes, by file stem (accuracy vs deployed latency with exports); the
    points a search stopped, compared by `score`, as grey marks in the score's plot."""
    memory_kind = "GPU" if (points["memory_kind"] == "cuda").all() else "RSS"
    marks = pd.DataFrame([s for s in stopped if s["metric"] == score and s.get("frozen_layers") is not None],
                         columns=["frozen_layers", "value", "epoch"])
    figures = {
        "map-vs-depth": by_depth(points, score, label, f"{label} vs freeze depth", axes, marks, interval_of=score),
        "time-vs-depth": by_depth(points, "time_per_epoch_s", "seconds per epoch", "Training time per epoch", axes),
        "memory-vs-depth": by_depth(points, "peak_memory_mb", f"peak memory (MB, {memory_kind})",
                                    f"Peak {memory_kind} memory vs freeze depth", axes),
        "accuracy-vs-cost": accuracy_vs_cost(points, score, label, axes),
        "per-class-ap": per_class_heatmap(points, per_class, label, axes),
    }
    if deployed is not None and not deployed.empty:
        figures["accuracy-vs-latency"] = accuracy_vs_latency(deployed, label)
    return {name: _png(fig) for name, fig in figures.items()}
