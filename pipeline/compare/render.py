"""The report's view (:mod:`pipeline.compare.view`) written out: Markdown for report.md, and for report.html a
self-contained page (plots embedded as base64 PNG) from the Jinja2 template templates/comparison.html.j2.
"""

from __future__ import annotations

import base64
import html

import pandas as pd
from jinja2 import Environment, PackageLoader
from markupsafe import Markup

from pipeline.compare.view import HEADINGS, Cell, ReportView, Table


def _md_cell(cell: Cell) -> str:
    if isinstance(cell, str):
        return cell
    return " ".join(link.name if link.target is None else f"[{link.name}]({link.target})" for link in cell)


def _md_table(table: Table) -> str:
    frame = pd.DataFrame([[_md_cell(c) for c in row.cells] for row in table.rows], columns=table.columns)
    return frame.to_markdown(index=False, disable_numparse=True)  # keep the formatted figures as written


def markdown(view: ReportView) -> str:
    """report.md: header, one section per comparison (table, recommendation, plots), failures, environments."""
    lines = [f"# {HEADINGS['title']}", ""] + [f"- **{label}:** {text}" for label, text in view.header]
    for section in view.sections:
        lines += ["", f"## {section.title}", "", _md_table(section.points), "", HEADINGS["recommendation"], ""]
        lines += [f"- {r}" for r in section.recommendations] + [""]
        if section.deployed is not None:
            lines += [HEADINGS["deployed"], "", _md_table(section.deployed), ""]
        lines += [f"![{figure.name}]({figure.file})" for figure in section.figures]
    for name in ("stopped", "failed"):
        if getattr(view, name) is not None:
            lines += ["", f"## {HEADINGS[name]}", "", _md_table(getattr(view, name))]
    if view.skipped:
        lines += ["", f"## {HEADINGS['skipped']}", ""] + [f"- {s}" for s in view.skipped]
    lines += ["", f"## {HEADINGS['versions']}", "", _md_table(view.environments), ""]
    return "\n".join(lines)


def marks(text: str) -> Markup:
    """Text with Markdown's **bold** and `code` marks as HTML, everything else escaped."""
    parts = html.escape(text).split("**")
    text = "".join(f"<b>{p}</b>" if i % 2 else p for i, p in enumerate(parts))
    parts = text.split("`")
    return Markup("".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts)))


_PAGES = Environment(loader=PackageLoader("pipeline.compare"), autoescape=True, trim_blocks=True, lstrip_blocks=True)
_PAGES.filters.update(marks=marks, base64=lambda png: base64.b64encode(png).decode())


def page(view: ReportView) -> str:
    """report.html: the same content as the Markdown, self-contained (plots embedded), opens offline."""
    return _PAGES.get_template("comparison.html.j2").render(view=view, headings=HEADINGS)
