"""The comparison report: per task and dataset a table of points (a column per swept key), deltas against
`freeze: none`, plots, and recommendations (see :mod:`pipeline.compare.recommend`), written as report.csv, report.md
and a self-contained report.html (plots embedded as base64 PNG), all three from one view
(:mod:`pipeline.compare.view`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline.compare.collect import Collected, collect
from pipeline.compare.comparison import Comparison, Report
from pipeline.compare.deployed import deployed_rows, read_exports, teacher_lines, teacher_run
from pipeline.compare.intervals import with_intervals
from pipeline.compare.plots import all_plots, point_labels
from pipeline.compare.recommend import recommendations, score_floor
from pipeline.compare.render import markdown, page
from pipeline.compare.results import (
    environments,
    find_axes,
    per_class_table,
    points_table,
    score_of,
    with_probe,
)
from pipeline.compare.view import build_view
from pipeline.evaluation.intervals import Settings
from pipeline.run_folder import REPORT_CSV, REPORT_HTML, REPORT_MD, is_sweep_dir, write_atomic


def build_report(folders: list[Path], tolerance: float = 1.0, skip_incomplete: bool = False,
                 with_plots: bool = True, intervals: Settings | None = None) -> Report:
    """Read the folders and build every comparison: one per (task, dataset), never a mixed table; intervals from
    the runs' per-image records with `intervals` (default: Settings())."""
    intervals = intervals or Settings()
    collected = collect(folders, skip_incomplete)
    runs = pd.DataFrame(collected.runs)
    comparisons = []
    for (task, dataset), group in runs.groupby(["task", "dataset"], sort=True):
        score, label = score_of(task)
        axes = find_axes(group, collected.grid)
        points, found = with_intervals(points_table(group, score, axes), group, score, intervals)
        points = with_exports(with_probe(points, collected.probes))
        per_class = per_class_table(group)
        deployed = deployed_rows(points, score, point_labels(points, list(axes)))
        recs = recommendations(points, axes, tolerance, score, label, score_floor(score, len(per_class.columns)),
                               intervals.level)
        recs += [f"Intervals: {found.note}."] if found.note and found.images else []
        recs += teacher_lines(deployed) + search_lines(collected, folders)
        plots = (all_plots(points, per_class, score, label, list(axes), deployed, collected.stopped) if with_plots
                 else {})
        comparisons.append(Comparison(task, dataset, points, per_class, recs, axes, plots, deployed, found))
    return Report(comparisons, collected, environments(runs), folders, tolerance, intervals)


def search_lines(collected: Collected, sources: list[Path]) -> list[str]:
    """What the recommendation stands on when a search stopped points: the finished ones only, and what it cost."""
    from pipeline.compare.epochs import search_spent

    if not collected.stopped:
        return []
    spent = [found for s in sources if is_sweep_dir(s) and (found := search_spent(s))]
    where = "; ".join(f"`{s['run']}` (freeze `{s['freeze']}`) at epoch {s['epoch']}, {s['metric']} {s['value']:.4f}"
                      for s in collected.stopped)
    return [f"**Search**: recommended from the points that ran to the end; the search stopped {len(collected.stopped)} "
            f"early: {where}." + "".join(f" It {found.epochs_line()}." for found in spent)]


def with_exports(points: pd.DataFrame) -> pd.DataFrame:
    """Each point's exports (its first run's export/, see pipeline.export) and its teacher's run folder, if any."""
    return points.assign(exports=points["run_dirs"].map(lambda dirs: read_exports(Path(dirs[0]))),
                         teacher_dir=points["values"].map(lambda v: teacher_run(v.get("distill.teacher"))))


def write_report(report: Report, out: Path, links: bool = True) -> list[Path]:
    """Write report.csv, report.md, report.html and the plots as PNG files into `out`; return the report paths."""
    out.mkdir(parents=True, exist_ok=True)
    view = build_view(report, out, links)
    for figure in (f for section in view.sections for f in section.figures):
        (out / figure.file).write_bytes(figure.png)
    write_atomic(out / REPORT_CSV, view.csv.to_csv(index=False))
    write_atomic(out / REPORT_MD, markdown(view))
    write_atomic(out / REPORT_HTML, page(view))
    return [out / REPORT_CSV, out / REPORT_MD, out / REPORT_HTML]
