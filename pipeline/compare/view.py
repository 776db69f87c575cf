"""The report as its files show it, built once from a :class:`~pipeline.compare.comparison.Report`: the header
facts, per comparison its points table, recommendations, deployed table and figures, the failed and skipped folders,
the versions table, and report.csv's rows. :mod:`pipeline.compare.render` writes it as Markdown and as HTML.

Cells are plain text (the header and the recommendations carry Markdown's **bold** and `code` marks) or run folders
as :class:`Link` objects; each renderer escapes and links in its own format. A row's ``state`` marks a point that did
not end as planned (``failed``, or ``stopped`` early by a search), so a renderer can set it apart (the HTML page
gives the row that class).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.compare.comparison import Comparison, Report
from pipeline.compare.deployed import csv_columns, deployed_table
from pipeline.compare.results import FIGURES, PROBE_FIGURES, axis_columns, score_of
from pipeline.compare.tables import display_table
from pipeline.run_folder import METRICS, PROBE_JSON

# Swept keys (other than freeze) go after "freeze"; map_lost_pts keeps its name and sign (lost = positive) for
# readers of earlier reports: the tables show its negation as a signed delta instead.
CSV_COLUMNS = ["task", "dataset", "model", "weights", "freeze", "frozen_layers", "params_trainable", "params_total",
               "n", *FIGURES, *(f"{m}_std" for m in FIGURES), "score_lo", "score_hi", "memory_kind", "map_lost_pts",
               "delta_lo_pts", "delta_hi_pts", "time_saved_pct", "memory_saved_pct", "run_dirs"]
# the report's fixed text, written alike by every renderer (Markdown marks included)
HEADINGS = {
    "title": "Run comparison",
    "recommendation": "**Recommendation** (a measured result of these runs):",
    "deployed": "**Deployed** (python -m pipeline.export): latency at batch 1 (median and p90 over the timed calls, "
                "pre- and post-processing included), images/s at the export's larger batch, accuracy after export on "
                "the val split and its change against the PyTorch weights at the same imgsz",
    "failed": "Failed points",
    "stopped": "Stopped by the search (sweep.search: left out of the recommendation)",
    "skipped": f"Skipped (unfinished, no {METRICS}, or unreadable)",
    "versions": "Versions and devices",
}


@dataclass(frozen=True)
class Link:
    """A run folder named in a table: its name and its path relative to the report (None: named, not linked)."""

    name: str
    target: str | None = None


Cell = str | tuple[Link, ...]


@dataclass
class Row:
    """One row of a table; `state` is empty for a finished point, else what became of it (`failed`)."""

    cells: list[Cell]
    state: str = ""


@dataclass
class Table:
    columns: list[str]
    rows: list[Row]


@dataclass
class Figure:
    """A plot: its name, its PNG file in the report folder, its bytes."""

    name: str
    file: str
    png: bytes


@dataclass
class Section:
    """One comparison (a task on a dataset): its points, what it recommends, its deployed figures, its plots."""

    title: str
    points: Table
    recommendations: list[str]
    deployed: Table | None = None
    figures: list[Figure] = field(default_factory=list)


@dataclass
class ReportView:
    """What report.md, report.html and report.csv show, in the order they show it."""

    header: list[tuple[str, str]]
    sections: list[Section]
    environments: Table
    csv: pd.DataFrame
    failed: Table | None = None
    stopped: Table | None = None
    skipped: list[str] = field(default_factory=list)


def table_of(frame: pd.DataFrame, states: Sequence[str] = ()) -> Table:
    """A DataFrame's cells as text (link cells kept as they are), with each row's state (none by default)."""
    states = list(states) or [""] * len(frame)
    rows = [Row([c if isinstance(c, tuple) else str(c) for c in cells], state)
            for cells, state in zip(frame.itertuples(index=False), states)]
    return Table([str(c) for c in frame.columns], rows)


def run_links(run_dirs: Sequence[Path | str], out: Path, links: bool) -> tuple[Link, ...]:
    """The run folders as links relative to the report folder `out`, or by name alone."""
    return tuple(Link(Path(p).name, Path(os.path.relpath(p, out)).as_posix() if links else None) for p in run_dirs)


def build_view(report: Report, out: Path, links: bool = True) -> ReportView:
    """Everything the report's files show, for a report written into `out` (links relative to it)."""
    return ReportView(
        header=header(report, links),
        sections=[_section(c, i, len(report.comparisons), out, links) for i, c in enumerate(report.comparisons)],
        environments=table_of(report.environments),
        csv=_csv(report, out, links),
        failed=_failed(report.collected.failed, out, links),
        stopped=_stopped(report.collected.stopped, out, links),
        skipped=[str(p) for p in report.collected.skipped] + [f"unreadable: {u}" for u in report.collected.unreadable])


def header(report: Report, links: bool) -> list[tuple[str, str]]:
    """What the report says about where it comes from, as (label, text) pairs."""
    sources = ", ".join(str(s) for s in report.sources)
    made = datetime.now().strftime("%Y-%m-%d %H:%M")
    facts = [("Made from", f"{sources} on {made}; versions and devices at the end"),
             ("Recommendation rule", "for `freeze`, the deepest freeze that no other depth beats by more than "
                                     f"{report.tolerance:g} point(s) of the score (mAP50-95, top-1 accuracy for "
                                     "classify) by the paired intervals; for other swept keys, the best value when "
                                     "its paired interval against the reference excludes 0; nothing when the best "
                                     "score is below the floor or the intervals cannot tell the points apart. Runs "
                                     "without per-image records fall back to the repeats' noise"),
             ("Intervals", f"{report.intervals.level:.0%} percentile bootstrap, {report.intervals.resamples} "
                           f"resamples (seed {report.intervals.seed}): a point's seeds drawn with replacement, then "
                           "its val images; differences paired (the same draws for both points)"),
             ("Deltas", "against the `freeze: none` point with the same other settings; positive is better")]
    for probe in report.collected.probes:
        sweep = f"{probe['sweep_dir'].parent.name}/{probe['sweep_dir'].name}"
        facts.append(("Probe batch", f"{sweep}: per freeze depth, the largest batch whose peak GPU memory fits "
                      f"in the {probe['budget_mb']:,.0f} MB `freeze: none` used at batch "
                      f"{probe['default_batch']} ({probe['device']}); images/s over {probe.get('timed_batches')} "
                      f"batches after {probe.get('warmup_batches')} warm-up ones ({PROBE_JSON}), not whole epochs"
                      + (f"; searched up to batch {probe['max_batch']} (8x the default or the train images, "
                         "whichever is less): a depth at that batch may fit more" if probe.get("max_batch") else "")))
    if not links:
        facts.append(("Run folders", "named, not linked: they stay on the machine that made this report"))
    return facts


def _section(c: Comparison, index: int, count: int, out: Path, links: bool) -> Section:
    """One comparison's part of the report; its plots' files are numbered when the report has several parts."""
    points = display_table(c.points, c.axes, c.task)
    points["run folders"] = [run_links(dirs, out, links) for dirs in c.points["run_dirs"]]
    prefix = f"{index + 1}-" if count > 1 else ""
    return Section(title=f"{c.task} on {c.dataset}", points=table_of(points), recommendations=c.recommendations,
                   deployed=None if c.deployed.empty else table_of(deployed_table(c.deployed, score_of(c.task)[1])),
                   figures=[Figure(name, f"{prefix}{name}.png", png) for name, png in c.plots.items()])


def _failed(failed: list[dict[str, Any]], out: Path, links: bool) -> Table | None:
    """The failed sweep points with their errors and folders; None when every point finished."""
    if not failed:
        return None
    table = pd.DataFrame({"point": [f["run"] for f in failed], "error": [f["error"] for f in failed],
                          "run folder": [run_links([f["run_dir"]], out, links) for f in failed]})
    return table_of(table, ["failed"] * len(failed))


def _stopped(stopped: list[dict[str, Any]], out: Path, links: bool) -> Table | None:
    """The points a search stopped early: where, and their rung metric there; None when it stopped none."""
    if not stopped:
        return None
    table = pd.DataFrame({
        "point": [s["run"] for s in stopped], "freeze": [s["freeze"] for s in stopped],
        "stopped": [f"stopped at epoch {s['epoch']} of {s['max_epochs']} (rung {s['rung']})" for s in stopped],
        "rung metric": [f"{s['metric']} {s['value']:.4f}" for s in stopped],
        "run folder": [run_links([s["run_dir"]], out, links) for s in stopped]})
    return table_of(table, ["stopped"] * len(stopped))


def _csv(report: Report, out: Path, links: bool) -> pd.DataFrame:
    """report.csv: one row per point and comparison, raw numbers, means and stds over repeats."""
    def folders(run_dirs: list[Path]) -> str:
        found = run_links(run_dirs, out, links)
        return ";".join(link.target for link in found) if links else " ".join(link.name for link in found)

    frames = [c.points.assign(run_dirs=c.points["run_dirs"].map(folders)) for c in report.comparisons]
    swept = list(dict.fromkeys(k for c in report.comparisons for k in axis_columns(c.axes)))
    table = pd.concat(frames)
    probed = [c for c in PROBE_FIGURES.values() if c in table]
    exported = pd.concat([csv_columns(c.points, score_of(c.task)[0]) for c in report.comparisons])
    columns = [*CSV_COLUMNS[:5], *swept, *CSV_COLUMNS[5:], *probed]
    return pd.concat([table.reindex(columns=columns), exported], axis=1)  # no intervals: empty columns
