"""The comparison report: per task and dataset a table of points (a column per swept key), deltas against
`freeze: none`, plots, and recommendations (see :mod:`pipeline.compare.recommend`), written as report.csv, report.md
and a self-contained report.html (plots embedded as base64 PNG).
"""

from __future__ import annotations

import base64
import html
import os
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
    shown_value,
    with_probe,
)
from pipeline.run_folder import METRICS, PROBE_JSON, REPORT_CSV, REPORT_HTML, REPORT_MD

# Swept keys (other than freeze) go after "freeze"; map_lost_pts keeps its name and sign (lost = positive) for
# readers of earlier reports: the tables show its negation as a signed delta instead.
CSV_COLUMNS = ["task", "dataset", "model", "weights", "freeze", "frozen_layers", "params_trainable", "params_total",
               "n", *FIGURES, *(f"{m}_std" for m in FIGURES), "memory_kind", "map_lost_pts", "time_saved_pct",
               "memory_saved_pct", "run_dirs"]


# the probe's columns (pipeline.compare.probe): name, points column, digits
PROBE_SHOWN = [("probe batch", "probe_batch", 0), ("images/s @ default batch (probe)", "probe_default_images_per_s", 1),
               ("images/s @ probe batch", "probe_images_per_s", 1)]
TITLE = "Run comparison"
DEPLOYED = ("**Deployed** (python -m pipeline.export): latency at batch 1 (median and p90 over the timed calls, "
            "pre- and post-processing included), images/s at the export's larger batch, accuracy after export on "
            "the val split and its change against the PyTorch weights at the same imgsz")
SKIPPED = f"Skipped (unfinished, no {METRICS}, or unreadable)"


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
        recs += teacher_lines(deployed)
        plots = all_plots(points, per_class, score, label, list(axes), deployed) if with_plots else {}
        comparisons.append(Comparison(task, dataset, points, per_class, recs, axes, plots, deployed))
    return Report(comparisons, collected, environments(runs), folders, tolerance)


def with_exports(points: pd.DataFrame) -> pd.DataFrame:
    """Each point's exports (its first run's export/, see pipeline.export) and its teacher's run folder, if any."""
    return points.assign(exports=points["run_dirs"].map(lambda dirs: read_exports(Path(dirs[0]))),
                         teacher_dir=points["values"].map(lambda v: teacher_run(v.get("distill.teacher"))))


def _cell(mean: float, std: float, digits: int) -> str:
    if pd.isna(mean):
        return ""
    return f"{mean:.{digits}f}" + ("" if pd.isna(std) else f" ± {std:.{digits}f}")


def _links(run_dirs: list[Path], out: Path, fmt: str, links: bool) -> str:
    """Links from the report in `out` to the run folders (`fmt` md, html or csv), or the folder names alone."""
    rel = [(Path(p).name, Path(os.path.relpath(p, out)).as_posix()) for p in run_dirs]
    if fmt == "html":
        rel = [(html.escape(name), html.escape(target)) for name, target in rel]
    if not links:
        return " ".join(name for name, _ in rel)
    if fmt == "md":
        return " ".join(f"[{name}]({target})" for name, target in rel)
    if fmt == "csv":
        return ";".join(target for _, target in rel)
    return " ".join(f'<a href="{target}/">{name}</a>' for name, target in rel)


def _escaped(table: pd.DataFrame, fmt: str) -> pd.DataFrame:
    """Cells escaped for HTML (written with escape=False so the link cells stay links)."""
    return table.astype(str).map(html.escape) if fmt == "html" else table


def _deltas(points: pd.DataFrame, label: str) -> dict[str, pd.Series]:
    """The delta columns against `freeze: none`, signed so that positive is better (more accuracy, less cost)."""
    columns = {f"Δ {label} vs none (pts)": -points["map_lost_pts"], "time saved %": points["time_saved_pct"],
               "memory saved %": points["memory_saved_pct"]}
    return {name: col.map(_signed) for name, col in columns.items()}


def _signed(value: float) -> str:
    """One decimal with its sign; zero (also a rounded -0.04) without one."""
    if pd.isna(value):
        return ""
    return "0.0" if round(value, 1) == 0 else f"{value:+.1f}"


def display_table(c: Comparison, out: Path, fmt: str, links: bool) -> pd.DataFrame:
    """The human table of one comparison: swept values, formatted mean ± std, deltas, links to the run folders."""
    points = c.points
    kinds = points["memory_kind"].map({"cuda": "GPU", "rss": "RSS"}).fillna("?")
    memory = f"peak memory MB ({kinds.iloc[0]})" if kinds.nunique() == 1 else "peak memory MB"
    table = pd.DataFrame({
        "model": points["model"] + points["weights"].map(lambda w: f" ← {w}" if w else ""),
        "freeze": points["freeze"],
        **{k: points[k].map(lambda v, k=k: shown_value(k, v)) for k in axis_columns(c.axes)},
        "frozen layers": points["frozen_layers"],
        "trainable params": points["params_trainable"].map("{:,}".format), "runs": points["n"]})
    for name, col, digits in [("mAP50", "map50", 4), ("mAP50-95", "map50_95", 4), ("mask mAP50-95", "mask_map50_95", 4),
                              ("top-1", "top1", 4), ("top-5", "top5", 4),
                              ("precision", "precision", 3), ("recall", "recall", 3), ("epochs", "epochs", 0),
                              ("batches", "batches", 0), ("images seen", "images_seen", 0),
                              ("s/epoch", "time_per_epoch_s", 1), ("images/s", "images_per_s", 1),
                              (memory, "peak_memory_mb", 0), ("inference ms/img", "inference_ms_per_image", 1)]:
        if points[col].notna().any():
            table[name] = [_cell(m, s, digits) for m, s in zip(points[col], points[f"{col}_std"])]
    if kinds.nunique() > 1:
        table[memory] += " " + kinds
    if "probe_batch" in points:  # --probe-batch: beside the full runs' images/s, the probe's at both batches
        at = table.columns.get_loc("images/s") + 1 if "images/s" in table else len(table.columns)
        for i, (name, col, digits) in enumerate(PROBE_SHOWN):
            table.insert(at + i, name, points[col].map(lambda v, d=digits: "" if pd.isna(v) else f"{v:.{d}f}"))
    if points["freeze"].nunique() > 1:  # without a freeze axis every point is its own `freeze: none` reference
        table = table.assign(**_deltas(points, score_of(c.task)[1]))
    table = _escaped(table, fmt)
    table["run folders"] = [_links(dirs, out, fmt, links) for dirs in points["run_dirs"]]
    return table


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
    failed = _escaped(failed, fmt)
    failed["run folder"] = [_links([f["run_dir"]], out, fmt, links) for f in report.collected.failed]
    return failed


def _skipped(report: Report) -> list[str]:
    """The folders left out: unfinished ones, and (with --skip-incomplete) those with an unreadable file."""
    return [str(p) for p in report.collected.skipped] + [f"unreadable: {u}" for u in report.collected.unreadable]


def write_csv(report: Report, out: Path, links: bool) -> Path:
    """report.csv: one row per point and comparison, raw numbers, means and stds over repeats."""
    frames = [c.points.assign(run_dirs=c.points["run_dirs"].map(lambda ds: _links(ds, out, "csv", links)))
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
        lines += ["", f"## {c.task} on {c.dataset}", "", _md(display_table(c, out, "md", links)),
                  "", "**Recommendation** (a measured result of these runs):", ""]
        lines += [f"- {r}" for r in c.recommendations] + [""]
        if not c.deployed.empty:
            lines += [DEPLOYED, "", _md(deployed_table(c.deployed, score_of(c.task)[1])), ""]
        lines += [f"![{name}]({images[f'{c.task}/{c.dataset}/{name}']})" for name in c.plots]
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
                 display_table(c, out, "html", links).to_html(index=False, escape=False),
                 "<div class='rec'><b>Recommendation</b> (a measured result of these runs):<ul>"]
        body += [f"<li>{_markup(r)}</li>" for r in c.recommendations] + ["</ul></div>"]
        if not c.deployed.empty:
            body += [f"<p>{_markup(DEPLOYED)}</p>",
                     deployed_table(c.deployed, score_of(c.task)[1]).to_html(index=False)]
        body.append("<div>")
        body += [f'<img alt="{name}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'
                 for name, png in c.plots.items()] + ["</div>"]
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
