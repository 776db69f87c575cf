"""The results of finished runs, read from run folders written by hand (no training): which runs are repeats of one
point (config) and which points are compared by freeze depth (family), mean and std over repeats, deltas against
`freeze: none`, seed-paired scores, swept keys, probe figures, per-class scores and environments."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from test_report import ENV, metrics, recipe, write_run, write_sweep

from pipeline.compare.collect import collect
from pipeline.compare.results import (
    environments,
    find_axes,
    freeze_label,
    per_class_table,
    points_table,
    recipe_values,
    with_probe,
)


def runs_of(tmp_path, *runs: tuple[dict, dict]) -> pd.DataFrame:
    """One row per run folder written from (recipe, metrics)."""
    folders = [write_run(tmp_path / f"run{i}", r, m) for i, (r, m) in enumerate(runs)]
    return pd.DataFrame(collect(folders).runs)


def test_runs_differing_by_seed_are_one_point_and_by_freeze_one_family(tmp_path):
    runs = runs_of(tmp_path, (recipe(seed=0), metrics(0.3)), (recipe(seed=1), metrics(0.3)),
                   (recipe("backbone"), metrics(0.3, "backbone")), (recipe(lr0=0.02), metrics(0.3)))
    assert runs["config"].nunique() == 3 and runs.loc[0, "config"] == runs.loc[1, "config"]
    assert runs.loc[0, "family"] == runs.loc[2, "family"] != runs.loc[3, "family"]
    assert list(runs["seed"]) == [0, 1, 0, 0]


def test_a_point_is_the_mean_and_sample_std_of_its_repeats(tmp_path):
    scores, times = [0.30, 0.34, 0.35], [10.0, 14.0, 12.0]
    runs = runs_of(tmp_path, *[(recipe(seed=s), metrics(v, time_s=t)) for s, (v, t) in enumerate(zip(scores, times))],
                   (recipe("backbone"), metrics(0.28, "backbone")))
    points = points_table(runs)
    none, backbone = points.iloc[0], points.iloc[1]
    assert (none["n"], backbone["n"]) == (3, 1)
    assert none["map50_95"] == pytest.approx(0.33) and none["map50_95_std"] == pytest.approx(pd.Series(scores).std())
    assert none["time_per_epoch_s"] == pytest.approx(1.2) and none["time_per_epoch_s_std"] == pytest.approx(0.2)
    assert math.isnan(backbone["map50_95_std"])  # one run: no spread to speak of, not 0
    assert none["seeds"] == [0, 1, 2] and none["scores"] == scores  # seed i's score at place i: pairs by seed
    assert [p.name for p in none["run_dirs"]] == ["run0", "run1", "run2"]


def test_deltas_are_against_the_freeze_none_point_of_the_same_family(tmp_path):
    def run(freeze: str, score: float, time_s: float, lr0: float = 0.01) -> tuple[dict, dict]:
        memory = 1000.0 - score * 1000
        return recipe(freeze, lr0=lr0), {**metrics(score, freeze, time_s=time_s), "peak_memory_mb": memory}

    points = points_table(runs_of(tmp_path, run("backbone", 0.28, 8.0), run("none", 0.30, 10.0),
                                  run("none", 0.20, 20.0, lr0=0.02), run("all-but-head", 0.25, 5.0, lr0=0.02)))
    shown = points.set_index(["freeze", points["values"].map(lambda v: v["train.lr0"])])
    assert list(shown.index) == [("none", "0.01"), ("backbone", "0.01"), ("none", "0.02"), ("all-but-head", "0.02")]
    assert list(shown["map_lost_pts"]) == [0.0, 2.0, 0.0, -5.0]  # points lost: positive is worse
    assert list(shown["time_saved_pct"]) == [0.0, 20.0, 0.0, 75.0]
    assert shown.loc[("backbone", "0.01"), "memory_saved_pct"] == pytest.approx(round(1 - 720 / 700, 4) * 100)


def test_a_family_without_its_freeze_none_point_has_no_deltas(tmp_path):
    points = points_table(runs_of(tmp_path, (recipe("backbone"), metrics(0.3, "backbone")),
                                  (recipe("all-but-head"), metrics(0.2, "all-but-head"))))
    assert points[["map_lost_pts", "time_saved_pct", "memory_saved_pct"]].isna().all().all()


def test_classify_deltas_are_in_top1_points(tmp_path):
    runs = runs_of(tmp_path, (recipe(task="classify"), metrics(0.60, task="classify")),
                   (recipe("backbone", task="classify"), metrics(0.55, "backbone", task="classify")))
    assert list(points_table(runs, "top1")["map_lost_pts"]) == [0.0, 5.0]


def test_swept_keys_follow_the_grid_then_sorted_keys_of_hand_picked_runs(tmp_path):
    runs = runs_of(tmp_path, (recipe(method="roadtune"), metrics(0.3)), (recipe("backbone", lr0=0.02), metrics(0.3)),
                   (recipe(method="none"), metrics(0.3)))
    axes = find_axes(runs, {"freeze": ["backbone", "none"], "distill.method": ["none", "native", "roadtune"]})
    assert axes == {"freeze": ["backbone", "none"], "distill.method": ["none", "roadtune"],
                    "train.lr0": ["0.01", "0.02"]}
    points = points_table(runs, axes=axes)
    assert list(points["distill.method"]) == ["none", "roadtune", "roadtune"]  # grid order of the swept values
    assert list(points["freeze"]) == ["none", "none", "backbone"]  # lr0 0.02's family after 0.01's


def test_keys_absent_from_some_recipes_are_swept_as_a_dash(tmp_path):
    without = {k: v for k, v in recipe().items() if k != "distill"}
    axes = find_axes(runs_of(tmp_path, (without, metrics(0.3)), (recipe(), metrics(0.3))), {})
    assert axes["distill.method"] == ["—", "roadtune"] and axes["distill.temperature"] == ["—", "2.0"]


def test_the_freeze_of_a_schedule_is_named_per_stage():
    schedule = {**recipe("backbone"), "stages": [{"name": "head", "epochs": 5},
                                                 {"name": "full", "epochs": 5, "freeze": "none"}]}
    assert freeze_label(schedule) == "head:backbone > full:none"
    values = recipe_values(schedule)
    assert values["freeze"] == "head:backbone > full:none" and "train.seed" not in values and "name" not in values
    assert values["stages"] == '[{"epochs": 5, "name": "head"}, {"epochs": 5, "name": "full"}]'
    assert values["distill.weights.box"] == "1.0"


def test_probe_figures_join_their_points_by_run_folder(tmp_path):
    sweep = write_sweep(tmp_path / "sweep", {"freeze": ["none", "backbone"]}, {
        "0-none": (recipe(), metrics(0.3)), "1-backbone": (recipe("backbone"), metrics(0.3, "backbone"))})
    points = points_table(pd.DataFrame(collect([sweep]).runs))
    probe = {"sweep_dir": sweep.resolve(), "points": [{"point": "1-backbone", "probe_batch": 96,
                                                       "default_images_per_s": 50.0, "probe_images_per_s": 70.5}]}
    probed = with_probe(points, [probe])
    assert probed["probe_batch"].tolist()[1] == 96 and math.isnan(probed["probe_batch"].tolist()[0])
    assert probed["probe_images_per_s"].tolist()[1] == 70.5
    assert with_probe(points, []) is points


def test_per_class_scores_are_averaged_over_repeats(tmp_path):
    runs = runs_of(tmp_path, (recipe(seed=0), metrics(0.2)), (recipe(seed=1), metrics(0.4)),
                   (recipe("backbone"), {**metrics(0.3, "backbone"), "per_class": {"car": 0.5}}))
    table = per_class_table(runs)
    assert table.iloc[0]["car"] == pytest.approx(0.3) and table.iloc[1]["car"] == 0.5
    assert math.isnan(table.iloc[1]["truck"])  # no AP for that class: blank, not 0


def test_environments_count_runs_per_setup_and_name_missing_values(tmp_path):
    folders = [write_run(tmp_path / f"run{s}", recipe(seed=s), metrics(0.3), {**ENV, "git_commit": None})
               for s in range(2)] + [write_run(tmp_path / "gpu", recipe(seed=9), metrics(0.3), {**ENV, "device": "0"})]
    table = environments(pd.DataFrame(collect(folders).runs))
    assert sorted(zip(table["device"], table["git_commit"], table["runs"])) == [
        ("0", ENV["git_commit"], 1), ("cpu", "unknown", 2)]
