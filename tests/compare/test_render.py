"""The report's view written as Markdown and as HTML (from the Jinja2 template): the same cells in both, links or
names, Markdown marks as HTML, text escaped, a row's state kept, plots embedded; a view made by hand."""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser

import pandas as pd

from pipeline.compare.render import markdown, marks, page
from pipeline.compare.view import Figure, Link, ReportView, Row, Section, Table

VOID = {"meta", "img", "br"}


def view(deployed: Table | None = None) -> ReportView:
    points = Table(["freeze", "mAP50-95", "run folders"], [
        Row(["none", "0.3000 ± 0.0100", (Link("r0", "../r0"), Link("r1", "../r1"))]),
        Row(["a<b & 'c'", "", (Link("r2"),)], "stopped")])
    section = Section("detect on kitti/data.yaml", points, ["**yolov8n.pt**: freeze `backbone` (<10 layers>)"],
                      deployed, [Figure("map-vs-depth", "1-map-vs-depth.png", b"\x89PNG")])
    return ReportView(header=[("Made from", "runs/x; `freeze: none` point")], sections=[section],
                      environments=Table(["torch", "runs"], [Row(["2.14.1", "3"])]), csv=pd.DataFrame(),
                      failed=Table(["point", "error"], [Row(["p9", "killed"], "failed")]), skipped=["runs/y"])


class Page(HTMLParser):
    """An HTML page's tables (rows of cell text), links, row classes and images; checks that tags are closed."""

    def __init__(self, text: str):
        super().__init__()
        self.open, self.tables, self.links, self.classes, self.images = [], [], [], [], []
        self.feed(text)
        self.close()
        assert self.open == [], f"unclosed: {self.open}"

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag not in VOID:
            self.open.append(tag)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
            self.classes.append(attrs.get("class", ""))
        elif tag in ("td", "th"):
            self.tables[-1][-1].append("")
        elif tag == "a":
            self.links.append(attrs["href"])
        elif tag == "img":
            self.images.append((attrs["alt"], attrs["src"]))

    def handle_endtag(self, tag):
        assert self.open.pop() == tag, tag

    def handle_data(self, data):
        if {"td", "th"} & set(self.open):
            self.tables[-1][-1][-1] += data


def md_tables(text: str) -> list[list[list[str]]]:
    """The Markdown's tables as rows of cell text, links by their names, the header's rule left out."""
    tables, rows = [], []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            if not line.startswith("|:"):
                rows.append([re.sub(r"\[([^]]*)\]\([^)]*\)", r"\1", c.strip()) for c in line.split("|")[1:-1]])
        elif rows:
            tables, rows = [*tables, rows], []
    return tables


def test_markdown_and_html_show_the_same_tables():
    for shown in (view(), view(Table(["format"], [Row(["onnx"])]))):
        html_tables = Page(page(shown)).tables
        assert md_tables(markdown(shown)) == html_tables
        assert len(html_tables) == 3 + (shown.sections[0].deployed is not None)
    assert Page(page(view())).tables[0] == [["freeze", "mAP50-95", "run folders"],
                                            ["none", "0.3000 ± 0.0100", "r0 r1"], ["a<b & 'c'", "", "r2"]]


def test_markdown_layout():
    text = markdown(view())
    assert text.startswith("# Run comparison\n\n- **Made from:** runs/x; `freeze: none` point\n\n## detect on kitti")
    assert "| [r0](../r0) [r1](../r1) |" in text and "| r2 " in text  # a folder without a target is named
    assert ("**Recommendation** (a measured result of these runs):\n\n"
            "- **yolov8n.pt**: freeze `backbone` (<10 layers>)\n\n![map-vs-depth](1-map-vs-depth.png)\n") in text
    assert "Deployed" not in text and "\n## Failed points\n" in text
    assert "\n## Skipped (unfinished, no metrics.json, or unreadable)\n\n- runs/y\n" in text
    assert text.endswith("| 2.14.1  | 3      |\n")


def test_html_escapes_text_links_folders_and_embeds_the_plots():
    text = page(view())
    parsed = Page(text)
    assert parsed.links == ["../r0/", "../r1/"]
    assert parsed.images == [("map-vs-depth", "data:image/png;base64," + base64.b64encode(b"\x89PNG").decode())]
    assert "<td>a&lt;b &amp; &#39;c&#39;</td>" in text
    assert "<li><b>yolov8n.pt</b>: freeze <code>backbone</code> (&lt;10 layers&gt;)</li>" in text
    assert parsed.classes.count("stopped") == 1 and parsed.classes.count("failed") == 1
    assert "<li>runs/y</li>" in text and "Deployed" not in text
    assert "<p><b>Deployed</b>" in page(view(Table(["format"], [Row(["onnx"])])))


def test_marks_escape_first_then_mark_up():
    assert str(marks("**a<b**: `x & y` and *one*")) == "<b>a&lt;b</b>: <code>x &amp; y</code> and *one*"
