"""The paired search replayed on a full grid's records: what it would have trained, stopped and answered, against
what the full grid answers (benchmarks/search.py --replay-paired prints it; tests replay a recorded grid).

A full grid trained with ``per_image: epochs`` holds every point's per-image record after every epoch, so the search
can be replayed without training: at each rung the same decision as a live search (:func:`pipeline.sweep.
elimination.rung_stops`) on the records of that epoch, then the report's recommendation from the depths it lets
finish, against the full grid's verdict on every depth.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pandas as pd

from pipeline.compare.collect import collect
from pipeline.compare.intervals import with_intervals
from pipeline.compare.recommend import freeze_verdicts, recommend
from pipeline.compare.results import find_axes, points_table, score_of
from pipeline.evaluation.intervals import RESAMPLES, Settings
from pipeline.evaluation.per_image import PerImage
from pipeline.run_folder import per_image_file, stage_dir
from pipeline.sweep.elimination import frozen_layers, rung_epochs, rung_stops


def answer(text: str) -> str:
    """A freeze recommendation in short: the depth it names, or `no signal`."""
    found = re.search(r"freeze `([^`]+)`", text)
    return "no signal" if "no signal" in text.lower() or not found else found.group(1)


def freeze_answer(runs: pd.DataFrame, settings: Settings, tolerance: float) -> tuple[str, pd.Series]:
    """The answer of the runs' report (a depth or `no signal`, by the task's score) and each depth's verdict
    (within, rejected, undecided), by freeze spec."""
    score = score_of(runs["task"].iloc[0])[0]
    points, _ = with_intervals(points_table(runs, score, find_axes(runs, {})), runs, score, settings)
    verdicts = freeze_verdicts(points, tolerance, settings.level)
    text = recommend(points, tolerance, level=settings.level)
    return answer(text), pd.Series(verdicts["verdict"].values, index=points["freeze"].values)


@functools.lru_cache(maxsize=64)
def _full(grid: Path, settings: Settings, tolerance: float) -> tuple[str, pd.Series]:
    return freeze_answer(pd.DataFrame(collect([grid], skip_incomplete=True).runs), settings, tolerance)


def replay_paired(grid: Path, grace: int, reduction: float, seed: int, tolerance: float,
                  resamples: int = RESAMPLES) -> dict[str, object]:
    """One replay of the paired search on the full grid in `grid` (one stage named `train` per point): the share of
    the grid's epochs it trains, the depths it stops (at which epoch), its answer, the full grid's, and whether the
    full grid rejects the depth it names or does not show it within the tolerance."""
    runs = pd.DataFrame(collect([grid], skip_incomplete=True).runs)
    epochs, settings = int(runs["epochs"].max()), Settings(resamples=resamples, seed=seed)
    frozen = {g: frozen_layers(Path(d), "train") for g, d in zip(runs["freeze"], runs["run_dir"])}
    alive, stopped = set(runs["freeze"]), {}
    score = score_of(runs["task"].iloc[0])[0]
    for rung in rung_epochs(grace, reduction, epochs):
        records = {g: {s: PerImage.load(per_image_file(stage_dir(Path(d), "train"), rung))
                       for s, d in zip(rows["seed"], rows["run_dir"])}
                   for g, rows in runs.groupby("freeze") if g in alive}
        for group in rung_stops(records, {g: frozen[g] for g in records}, score, tolerance, settings):
            alive.discard(group)
            stopped[group] = rung
    full, verdicts = _full(grid, settings, tolerance)
    finished = runs[runs["freeze"].isin(alive)]
    named = (freeze_answer(finished, settings, tolerance)[0] if len(alive) > 1 else  # one depth: no comparison
             f"only {next(iter(alive))} finished: nothing")
    seeds = runs.groupby("freeze")["seed"].nunique()
    trained = sum(stopped.get(g, epochs) * n for g, n in seeds.items())
    return {"grid": grid.parent.name, "grace": grace, "reduction": reduction, "seed": seed,
            "epochs": f"{100 * trained / (epochs * seeds.sum()):.0f} %",
            "stopped": ", ".join(f"{g}@{e}" for g, e in stopped.items()) or "—", "search": named, "full grid": full,
            "names a rejected depth": verdicts.get(named) == "rejected",
            "names a depth not shown within": named in verdicts and verdicts[named] != "within"}
