"""The comparison report: per task and dataset a table of points (a column per swept key), deltas against
`freeze: none`, plots, and recommendations (see :mod:`pipeline.compare.recommend`), written as report.csv, report.md
and a self-contained report.html (plots embedded as base64 PNG).
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pandas as pd

from pipeline.compare.deployed import (
    csv_columns,
    deployed_rows,
    deployed_table,
    read_exports,
    teacher_lines,
    teacher_run,
)
from pipeline.compare.plots import all_plots, point_labels
from pipeline.compare.recommend import recommendations, score_floor
from pipeline.compare.results import (
    FIGURES,
    PROBE_FIGURES,
    Collected,
    axis_columns,
    collect,
    environments,
    find_axes,
    per_class_table,
    points_table,
    score_of,
    with_probe,
)
from pipeline.compare.tables import display_table, escaped, folder_links
from pipeline.run_folder import METRICS, PROBE_JSON, REPORT_CSV, REPORT_HTML, REPORT_MD, is_sweep_dir

# Swept keys (other than freeze) go after "freeze"; map_lost_pts keeps its name and sign (lost = positive) for
# readers of earlier reports: the tables show its negation as a signed delta instead.
CSV_COLUMNS = ["task", "dataset", "model", "weights", "freeze", "frozen_layers", "params_trainable", "params_total",
               "n", *FIGURES, *(f"{m}_std" for m in FIGURES), "memory_kind", "map_lost_pts", "time_saved_pct",
               "memory_saved_pct", "run_dirs"]


TITLE = "Run comparison"
DEPLOYED = ("**Deployed** (python -m pipeline.export): latency at batch 1 (median and p90 over the timed calls, "
            "pre- and post-processing included), images/s at the export's larger batch, accuracy after export on "
            "the val split and its change against the PyTorch weights at the same imgsz")
SKIPPED = f"Skipped (unfinished, no {METRICS}, or unreadable)"
STOPPED = "Stopped by the search (sweep.search: left out of the recommendation)"


@dataclass
class Comparison:
    """One table of the report: the points of one task on one dataset, with plots and recommendations."""

    task: str
    dataset: str
    points: pd.DataFrame
    per_class: pd.DataFrame
    recommendations: list[str]
    axes: dict[str, list[str]] = field(default_factory=dict)  # swept key -> its values, reference first
    plots: dict[str, bytes] = field(default_factory=dict)
    deployed: pd.DataFrame = field(default_factory=pd.DataFrame)  # per point and exported format (pipeline.export)


@dataclass
class Report:
    """Every comparison, plus the failed and skipped folders and the environments of the runs."""

    comparisons: list[Comparison]
    collected: Collected
    environments: pd.DataFrame
    sources: list[Path]
    tolerance: float

    def recommendations(self) -> list[str]:
        """One line per recommendation of every comparison, as plain text (Markdown bold and code marks removed)."""
        return [f"{c.task} on {c.dataset}: " + r.replace("**", "").replace("`", "")
                for c in self.comparisons for r in c.recommendations]

    def summary(self, paths: list[Path]) -> str:
        """What a CLI prints once the report is written: skips, failures, recommendations, where the files are."""
        lines = [f"skipped (no {METRICS}): {p}" for p in self.collected.skipped]
        lines += [f"warning: skipped unreadable run: {u}" for u in self.collected.unreadable]
        lines += [f"failed: {f['run_dir']}: {f['error']}" for f in self.collected.failed]
        return "\n".join(lines + self.recommendations() + ["report: " + ", ".join(map(str, paths))])


def build_report(folders: list[Path], tolerance: float = 1.0, skip_incomplete: bool = False,
                 with_plots: bool = True) -> Report:
    """Read the folders and build every comparison: one per (task, dataset), never a mixed table."""
    collected = collect(folders, skip_incomplete)
    runs = pd.DataFrame(collected.runs)
    comparisons = []
    for (task, dataset), group in runs.groupby(["task", "dataset"], sort=True):
        score, label = score_of(task)
        axes = find_axes(group, collected.grid)
        points = with_exports(with_probe(points_table(group, score, axes), collected.probes))
        per_class = per_class_table(group)
        deployed = deployed_rows(points, score, point_labels(points, list(axes)))
        recs = recommendations(points, axes, tolerance, score, label, score_floor(score, len(per_class.columns)))
        recs += teacher_lines(deployed) + search_lines(collected, folders)
        plots = all_plots(points, per_class, score, label, list(axes), deployed) if with_plots else {}
        comparisons.append(Comparison(task, dataset, points, per_class, recs, axes, plots, deployed))
    return Report(comparisons, collected, environments(runs), folders, tolerance)


def with_exports(points: pd.DataFrame) -> pd.DataFrame:
    """Each point's exports (its first run's export/, see pipeline.export) and its teacher's run folder, if any."""
    return points.assign(exports=points["run_dirs"].map(lambda dirs: read_exports(Path(dirs[0]))),
                         teacher_dir=points["values"].map(lambda v: teacher_run(v.get("distill.teacher"))))


def _header(report: Report, links: bool) -> list[tuple[str, str]]:
    """What the report says about where it comes from, as (label, text) pairs."""
    sources = ", ".join(str(s) for s in report.sources)
    made = datetime.now().strftime("%Y-%m-%d %H:%M")
    header = [("Made from", f"{sources} on {made}; versions and devices at the end"),
              ("Recommendation rule", "per swept key, its value with the best mAP50-95 (top-1 accuracy for "
                                      "classify); for `freeze`, the deepest freeze within "
                                      f"{report.tolerance:g} point(s) of the best; nothing when the best score is "
                                      "below the floor or the differences lie within the noise of the repeats"),
              ("Deltas", "against the `freeze: none` point with the same other settings; positive is better")]
    for probe in report.collected.probes:
        sweep = f"{probe['sweep_dir'].parent.name}/{probe['sweep_dir'].name}"
        header.append(("Probe batch", f"{sweep}: per freeze depth, the largest batch whose peak GPU memory fits "
                       f"in the {probe['budget_mb']:,.0f} MB `freeze: none` used at batch "
                       f"{probe['default_batch']} ({probe['device']}); images/s over {probe.get('timed_batches')} "
                       f"batches after {probe.get('warmup_batches')} warm-up ones ({PROBE_JSON}), not whole epochs"
                       + (f"; searched up to batch {probe['max_batch']} (8x the default or the train images, "
                          "whichever is less): a depth at that batch may fit more" if probe.get("max_batch") else "")))
    if not links:
        header.append(("Run folders", "named, not linked: they stay on the machine that made this report"))
    return header


def _failed(report: Report, out: Path, fmt: str, links: bool) -> pd.DataFrame:
    """The failed points with their errors and folders."""
    failed = pd.DataFrame([{"point": f["run"], "error": f["error"]} for f in report.collected.failed])
    failed = escaped(failed, fmt)
    failed["run folder"] = [folder_links([f["run_dir"]], out, fmt, links) for f in report.collected.failed]
    return failed


def _stopped(report: Report, out: Path, fmt: str, links: bool) -> pd.DataFrame:
    """The points a search stopped early: where, and their rung metric there."""
    stopped = pd.DataFrame([{"point": s["run"], "freeze": s["freeze"],
                             "stopped": f"stopped at epoch {s['epoch']} of {s['max_epochs']} (rung {s['rung']})",
                             "rung metric": f"{s['metric']} {s['value']:.4f}"} for s in report.collected.stopped])
    stopped = escaped(stopped, fmt)
    stopped["run folder"] = [folder_links([s["run_dir"]], out, fmt, links) for s in report.collected.stopped]
    return stopped


def search_lines(collected: Collected, sources: list[Path]) -> list[str]:
    """What the recommendation stands on when a search stopped points: the finished ones only, and the cost."""
    from pipeline.sweep.run import search_spent

    if not collected.stopped:
        return []
    spent = [found for s in sources if is_sweep_dir(s) and (found := search_spent(s))]
    where = "; ".join(f"`{s['run']}` (freeze `{s['freeze']}`) at epoch {s['epoch']}, {s['metric']} {s['value']:.4f}"
                      for s in collected.stopped)
    return [f"**Search**: recommended from the points that ran to the end; the search stopped {len(collected.stopped)} "
            f"early: {where}." + "".join(f" It trained {found.line().split(';')[0]}." for found in spent)]


def _skipped(report: Report) -> list[str]:
    """The folders left out: unfinished ones, and (with --skip-incomplete) those with an unreadable file."""
    return [str(p) for p in report.collected.skipped] + [f"unreadable: {u}" for u in report.collected.unreadable]


def write_csv(report: Report, out: Path, links: bool) -> Path:
    """report.csv: one row per point and comparison, raw numbers, means and stds over repeats."""
    frames = [c.points.assign(run_dirs=c.points["run_dirs"].map(lambda ds: folder_links(ds, out, "csv", links)))
              for c in report.comparisons]
    swept = list(dict.fromkeys(k for c in report.comparisons for k in axis_columns(c.axes)))
    table = pd.concat(frames)
    probed = [c for c in PROBE_FIGURES.values() if c in table]
    exported = pd.concat([csv_columns(c.points, score_of(c.task)[0]) for c in report.comparisons])
    table = pd.concat([table[[*CSV_COLUMNS[:5], *swept, *CSV_COLUMNS[5:], *probed]], exported], axis=1)
    table.to_csv(out / REPORT_CSV, index=False)
    return out / REPORT_CSV


def _md(table: pd.DataFrame) -> str:
    return table.to_markdown(index=False, disable_numparse=True)  # keep the formatted figures as written


def write_markdown(report: Report, out: Path, images: dict[str, str], links: bool) -> Path:
    """report.md: header, one section per comparison (table, recommendation, plots), failures, environments."""
    lines = [f"# {TITLE}", ""] + [f"- **{k}:** {v}" for k, v in _header(report, links)]
    for c in report.comparisons:
        lines += ["", f"## {c.task} on {c.dataset}", "", _md(display_table(c.points, c.axes, c.task, out, "md", links)),
                  "", "**Recommendation** (a measured result of these runs):", ""]
        lines += [f"- {r}" for r in c.recommendations] + [""]
        if not c.deployed.empty:
            lines += [DEPLOYED, "", _md(deployed_table(c.deployed, score_of(c.task)[1])), ""]
        lines += [f"![{name}]({images[f'{c.task}/{c.dataset}/{name}']})" for name in c.plots]
    if report.collected.stopped:
        lines += ["", f"## {STOPPED}", "", _md(_stopped(report, out, "md", links))]
    if report.collected.failed:
        lines += ["", "## Failed points", "", _md(_failed(report, out, "md", links))]
    if _skipped(report):
        lines += ["", f"## {SKIPPED}", ""] + [f"- {s}" for s in _skipped(report)]
    lines += ["", "## Versions and devices", "", _md(report.environments), ""]
    path = out / REPORT_MD
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


HTML_STYLE = ("body{font-family:sans-serif;margin:2em;max-width:1400px}table{border-collapse:collapse;font-size:13px}"
              "td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}th{background:#eee}"
              "img{max-width:48%;margin:4px}.rec{background:#eef6ee;padding:8px;border-left:4px solid #4a4}")


def _markup(text: str) -> str:
    """The recommendation's Markdown marks (**bold**, `code`) as HTML."""
    parts = html.escape(text).split("**")
    text = "".join(f"<b>{p}</b>" if i % 2 else p for i, p in enumerate(parts))
    parts = text.split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def write_html(report: Report, out: Path, links: bool) -> Path:
    """report.html: the same content as the Markdown, self-contained (plots embedded), opens offline."""
    body = [f"<h1>{TITLE}</h1><ul>"]
    body += [f"<li><b>{k}:</b> {_markup(v)}</li>" for k, v in _header(report, links)]
    body.append("</ul>")
    for c in report.comparisons:
        body += [f"<h2>{html.escape(c.task)} on {html.escape(c.dataset)}</h2>",
                 display_table(c.points, c.axes, c.task, out, "html", links).to_html(index=False, escape=False),
                 "<div class='rec'><b>Recommendation</b> (a measured result of these runs):<ul>"]
        body += [f"<li>{_markup(r)}</li>" for r in c.recommendations] + ["</ul></div>"]
        if not c.deployed.empty:
            body += [f"<p>{_markup(DEPLOYED)}</p>",
                     deployed_table(c.deployed, score_of(c.task)[1]).to_html(index=False)]
        body.append("<div>")
        body += [f'<img alt="{name}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'
                 for name, png in c.plots.items()] + ["</div>"]
    if report.collected.stopped:
        body += [f"<h2>{STOPPED}</h2>", _stopped(report, out, "html", links).to_html(index=False, escape=False)]
    if report.collected.failed:
        body += ["<h2>Failed points</h2>", _failed(report, out, "html", links).to_html(index=False, escape=False)]
    if _skipped(report):
        body += [f"<h2>{SKIPPED}</h2><ul>"] + [f"<li>{html.escape(s)}</li>" for s in _skipped(report)] + ["</ul>"]
    body += ["<h2>Versions and devices</h2>", report.environments.to_html(index=False)]
    page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{TITLE}</title>"
            f"<style>{HTML_STYLE}</style></head><body>{''.join(body)}</body></html>")
    path = out / REPORT_HTML
    path.write_text(page, encoding="utf-8")
    return path


def write_report(report: Report, out: Path, links: bool = True) -> list[Path]:
    """Write report.csv, report.md, report.html and the plots as PNG files into `out`; return the report paths."""
    out.mkdir(parents=True, exist_ok=True)
    images = {}
    for i, c in enumerate(report.comparisons):
        prefix = f"{i + 1}-" if len(report.comparisons) > 1 else ""
        for name, png in c.plots.items():
            (out / f"{prefix}{name}.png").write_bytes(png)
            images[f"{c.task}/{c.dataset}/{name}"] = f"{prefix}{name}.png"
    return [write_csv(report, out, links), write_markdown(report, out, images, links),
            write_html(report, out, links)]
