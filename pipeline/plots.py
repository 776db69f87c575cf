"""The report's figures (matplotlib, Agg backend: no display needed), each returned as PNG bytes.

Every plot takes the points table of one comparison (see :func:`pipeline.results.points_table`): freeze depth is the
frozen layer count, one line per family (model, weights and other settings), error bars are the std over repeats.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # headless: the report is written on servers and in CI

import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def _png(fig: plt.Figure) -> bytes:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


def _family_label(group: pd.DataFrame) -> str:
    row = group.iloc[0]
    return f"{row['model']}" + (f" + {row['weights']}" if row["weights"] else "")


def by_depth(points: pd.DataFrame, metric: str, ylabel: str, title: str) -> bytes:
    """`metric` (mean, std error bars) against frozen layer count, one line per family, ticks named by spec."""
    fig, ax = plt.subplots(figsize=(6.4, 4))
    for _, group in points.groupby("family", sort=False):
        ax.errorbar(group["frozen_layers"], group[metric], yerr=group[f"{metric}_std"].fillna(0), marker="o",
                    capsize=4, label=_family_label(group))
        for x, y, spec in zip(group["frozen_layers"], group[metric], group["freeze"]):
            ax.annotate(spec, (x, y), textcoords="offset points", xytext=(0, 7), ha="center", fontsize=8)
    ax.margins(y=0.15)  # room for the spec labels above the points
    ax.set(xlabel="frozen layers (freeze depth)", ylabel=ylabel, title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _png(fig)


def pareto_front(cost: pd.Series, accuracy: pd.Series) -> pd.Series:
    """True for points no other point beats on both: lower or equal cost with higher accuracy (or equal, cheaper)."""
    c, a = cost.to_numpy(), accuracy.to_numpy()
    dominated = [bool(np.any(((c <= ci) & (a > ai)) | ((c < ci) & (a >= ai)))) for ci, ai in zip(c, a)]
    return pd.Series(~np.array(dominated, dtype=bool), index=cost.index)


def accuracy_vs_cost(points: pd.DataFrame, score: str = "map50_95", label: str = "mAP50-95") -> bytes:
    """`score` against training time per epoch; the Pareto front (best accuracy for its cost) is marked."""
    fig, ax = plt.subplots(figsize=(6.4, 4))
    front = pareto_front(points["time_per_epoch_s"], points[score])
    ax.scatter(points["time_per_epoch_s"], points[score], c="tab:gray", label="freeze depth")
    best = points[front].sort_values("time_per_epoch_s")
    ax.plot(best["time_per_epoch_s"], best[score], "o-", color="tab:red", label="Pareto front")
    for x, y, spec, model in zip(points["time_per_epoch_s"], points[score], points["freeze"], points["model"]):
        label = spec if points["family"].nunique() == 1 else f"{model} {spec}"
        ax.annotate(label, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set(xlabel="training time per epoch (s)", ylabel=label, title="Accuracy vs training cost")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _png(fig)


def per_class_heatmap(points: pd.DataFrame, per_class: pd.DataFrame, label: str = "mAP50-95") -> bytes:
    """Per-class `label` by freeze depth (rows) and class (columns); blank where a class had no value."""
    table = per_class.reindex(points["config"])
    labels = [f"{m} {f}" if points["family"].nunique() > 1 else f for m, f in zip(points["model"], points["freeze"])]
    fig, ax = plt.subplots(figsize=(1.2 * max(len(table.columns), 3) + 2, 0.5 * len(table) + 1.6))
    image = ax.imshow(table.to_numpy(dtype=float), cmap="viridis", aspect="auto", vmin=0)
    ax.set_xticks(range(len(table.columns)), table.columns, rotation=30, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    values = table.to_numpy(dtype=float)
    for (i, j), value in np.ndenumerate(values):
        if not np.isnan(value):  # dark text on the bright end of viridis, light text elsewhere
            color = "k" if value > 0.6 * np.nanmax(values) else "w"
            ax.text(j, i, f"{value:.3f}", ha="center", va="center", color=color, fontsize=8)
    ax.set(xlabel="class", ylabel="freeze", title=f"Per-class {label} by freeze depth")
    fig.colorbar(image, ax=ax)
    return _png(fig)


def all_plots(points: pd.DataFrame, per_class: pd.DataFrame, score: str = "map50_95",
              label: str = "mAP50-95") -> dict[str, bytes]:
    """Every figure of one comparison, by file stem."""
    memory_kind = "GPU" if (points["memory_kind"] == "cuda").all() else "RSS"
    return {
        "map-vs-depth": by_depth(points, score, label, f"{label} vs freeze depth"),
        "time-vs-depth": by_depth(points, "time_per_epoch_s", "seconds per epoch", "Training time per epoch"),
        "memory-vs-depth": by_depth(points, "peak_memory_mb", f"peak memory (MB, {memory_kind})",
                                    f"Peak {memory_kind} memory vs freeze depth"),
        "accuracy-vs-cost": accuracy_vs_cost(points, score, label),
        "per-class-ap": per_class_heatmap(points, per_class, label),
    }
