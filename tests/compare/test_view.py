"""The report's view, built from run folders written by hand (no training): every table's text, links to the run
folders relative to the report (or names alone), failed points marked, plot files numbered per comparison, and
report.csv's rows."""

from __future__ import annotations

import pandas as pd
from test_report import metrics, recipe, write_run, write_sweep

from pipeline.compare.collect import Collected, collect
from pipeline.compare.comparison import Comparison, Report
from pipeline.compare.report import build_report
from pipeline.compare.results import per_class_table, points_table
from pipeline.compare.view import CSV_COLUMNS, Link, Row, build_view, table_of


def failing_sweep(tmp_path):
    """A freeze sweep with one point per depth, one failed point and one unfinished point."""
    sweep = write_sweep(tmp_path / "sweep", {"freeze": ["none", "backbone"]}, {
        "0-none": (recipe(), metrics(0.3)), "1-backbone": (recipe("backbone"), metrics(0.29, "backbone"))})
    (sweep / "points" / "2-failed").mkdir()
    (sweep / "points" / "2-failed" / "status.json").write_text('{"returncode": 1, "error": "out of <memory>"}')
    (sweep / "points" / "3-unfinished").mkdir()
    return sweep


def test_the_view_links_run_folders_relative_to_the_report_and_marks_failed_points(tmp_path):
    report = build_report([failing_sweep(tmp_path)], skip_incomplete=True, with_plots=False)
    view = build_view(report, tmp_path / "out")
    (section,) = view.sections
    assert section.title == "detect on datasets/synth-road.yaml"
    assert section.points.columns[:3] == ["model", "freeze", "frozen layers"]
    assert section.points.columns[-1] == "run folders"
    assert [row.cells[1] for row in section.points.rows] == ["none", "backbone"]
    assert section.points.rows[0].cells[-1] == (Link("0-none", "../sweep/points/0-none"),)
    assert {row.state for row in section.points.rows} == {""}
    assert section.recommendations == report.comparisons[0].recommendations
    assert section.deployed is None and section.figures == []
    assert view.failed.rows == [Row(["2-failed", "out of <memory>", (Link("2-failed", "../sweep/points/2-failed"),)],
                                    "failed")]  # text as it is: each renderer escapes it
    assert view.skipped == [str(tmp_path / "sweep" / "points" / "3-unfinished")]
    assert [label for label, _ in view.header] == ["Made from", "Recommendation rule", "Intervals", "Deltas"]
    assert list(view.csv.columns) == CSV_COLUMNS and list(view.csv["run_dirs"]) == [
        "../sweep/points/0-none", "../sweep/points/1-backbone"]
    assert view.environments.columns[-1] == "runs" and view.environments.rows[0].cells[-1] == "2"


def test_without_links_the_view_names_the_run_folders(tmp_path):
    runs = [write_run(tmp_path / f"run{s}", recipe(seed=s), metrics(0.3)) for s in range(2)]
    view = build_view(build_report(runs, with_plots=False), tmp_path / "out", links=False)
    assert view.sections[0].points.rows[0].cells[-1] == (Link("run0"), Link("run1"))
    assert list(view.csv["run_dirs"]) == ["run0 run1"]
    assert view.header[-1][0] == "Run folders" and view.failed is None and view.skipped == []


def test_plot_files_are_numbered_when_the_report_has_several_comparisons(tmp_path):
    def comparison(task: str) -> Comparison:
        runs = pd.DataFrame(collect([write_run(tmp_path / task, recipe(task=task), metrics(0.6, task=task))]).runs)
        return Comparison(task, "d/data.yaml", points_table(runs), per_class_table(runs), [],
                          plots={"map-vs-depth": task.encode(), "per-class-ap": b"png"})

    def files(*comparisons: Comparison) -> list[list[tuple[str, str, bytes]]]:
        report = Report(list(comparisons), Collected(), pd.DataFrame({"runs": [1]}), [], 1.0)
        return [[(f.name, f.file, f.png) for f in s.figures] for s in build_view(report, tmp_path).sections]

    detect, classify = comparison("detect"), comparison("classify")
    assert files(classify, detect) == [
        [("map-vs-depth", "1-map-vs-depth.png", b"classify"), ("per-class-ap", "1-per-class-ap.png", b"png")],
        [("map-vs-depth", "2-map-vs-depth.png", b"detect"), ("per-class-ap", "2-per-class-ap.png", b"png")]]
    assert files(detect) == [[("map-vs-depth", "map-vs-depth.png", b"detect"), ("per-class-ap", "per-class-ap.png",
                                                                                 b"png")]]


def test_a_table_of_a_frame_keeps_links_and_gives_each_row_its_state():
    links = (Link("a", "../a"),)
    table = table_of(pd.DataFrame({"point": ["x", "y"], "runs": [3, 1], "folders": [links, ()]}), ["", "stopped"])
    assert table.columns == ["point", "runs", "folders"]
    assert table.rows == [Row(["x", "3", links]), Row(["y", "1", ()], "stopped")]
