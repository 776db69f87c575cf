"""What a comparison report holds before it is shown: per task and dataset the points table, per-class scores,
recommendations, plots and deployed figures (see :func:`pipeline.compare.report.build_report`), plus the folders
that were skipped or failed and the environments of the runs. :mod:`pipeline.compare.view` turns it into what the
report's files show.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pipeline.compare.collect import Collected
from pipeline.evaluation.intervals import Replicates, Settings
from pipeline.run_folder import METRICS


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
    replicates: Replicates = field(default_factory=Replicates)  # the bootstrap behind the intervals


@dataclass
class Report:
    """Every comparison, plus the failed and skipped folders and the environments of the runs."""

    comparisons: list[Comparison]
    collected: Collected
    environments: pd.DataFrame
    sources: list[Path]
    tolerance: float
    intervals: Settings = field(default_factory=Settings)

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
