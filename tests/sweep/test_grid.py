"""A sweep's grid: every combination times every seed (seed 0 of all combinations first), each point's id and
overrides, its raw recipe, and the sweep section's problems (shape, keys that cannot be swept, values that make no
valid recipe, each reported once). No run."""

from __future__ import annotations

import pytest

from pipeline.recipe.sweep import SweepConfig
from pipeline.sweep.grid import Point, expand, parse_sweep, point_raw

BASE = {"name": "s", "task": "detect", "model": "yolov8n.yaml", "data": "d.yaml", "train": {"epochs": 1, "imgsz": 64}}


def test_the_grid_is_every_combination_in_key_order_times_every_seed():
    config = SweepConfig.model_validate({"freeze": ["none", "backbone"], "train.lr0": [0.01, 0.001], "repeats": 2})
    points = expand(config)
    assert len(points) == 8 and [p.seed for p in points] == [0] * 4 + [1] * 4
    assert [p.combo for p in points] == [0, 1, 2, 3, 0, 1, 2, 3]
    assert points[1].values == (("freeze", "none"), ("train.lr0", 0.001))
    assert [p.id for p in points[:4]] == ["0-freeze-none_lr0-0.01-s0", "1-freeze-none_lr0-0.001-s0",
                                          "2-freeze-backbone_lr0-0.01-s0", "3-freeze-backbone_lr0-0.001-s0"]


@pytest.mark.parametrize("value, slug", [("models/my net.yaml", "my-net.yaml"), ([0, 1, 2], "0-1-2"), (None, "None"),
                                         ("a:b*c", "a-b-c"), (True, "True"), (1e-4, "0.0001")])
def test_a_point_id_is_a_safe_folder_name(value, slug):
    assert Point(3, (("model", value),), 1).id == f"3-model-{slug}-s1"


def test_a_points_overrides_are_json_values_and_its_seed():
    point = Point(0, (("freeze", [0, 1]), ("model", "a b.yaml"), ("augment", None)), 2)
    assert point.overrides() == ['freeze=[0, 1]', 'model="a b.yaml"', "augment=null", "train.seed=2"]


def test_a_points_raw_recipe_has_its_values_and_seed_without_the_sweep_and_leaves_the_base_alone():
    base = {**BASE, "train": {"epochs": 1, "imgsz": 64}, "sweep": {"train.imgsz": [32, 96]}}
    raw = point_raw(base, Point(1, (("train.imgsz", 96), ("freeze", "backbone")), 2))
    assert raw == {**BASE, "train": {"epochs": 1, "imgsz": 96, "seed": 2}, "freeze": "backbone"}
    assert base["train"] == {"epochs": 1, "imgsz": 64} and "sweep" in base


def test_a_valid_sweep_has_no_problems():
    config, problems = parse_sweep({**BASE, "sweep": {"freeze": ["none", 10], "train.lr0": [0.01], "repeats": 3}})
    assert problems == [] and config.repeats == 3 and list(config.grid) == ["freeze", "train.lr0"]


@pytest.mark.parametrize("section, expected", [
    ({"freeze": ["none"], "repeats": 0}, ["sweep.repeats: Input should be greater than or equal to 1 (fix the value)",
                                          "write sweep: {KEY: [VALUE, ...], repeats: N}"]),
    ({"train.lr0": []}, ["sweep.train.lr0: List should have at least 1 item after validation, not 0 (fix the value)",
                         "write sweep: {KEY: [VALUE, ...], repeats: N}"]),
    ({"train.seed": [1, 2]}, ["sweep.train.seed: cannot be swept (seeds come from `repeats`; stages are not a grid "
                              "axis)"]),
    ({"stages.0.epochs": [1]}, ["sweep.stages.0.epochs: cannot be swept (seeds come from `repeats`; stages are not a "
                                "grid axis)"]),
    ({"train.imgsz": [64, 16]}, ["sweep.train.imgsz=16: train.imgsz: an image size is an integer from 32 to 8192 "
                                 "pixels (or [h, w]), got 16"]),
])
def test_each_problem_of_the_sweep_section_is_named_by_its_key(section, expected):
    _, problems = parse_sweep({**BASE, "sweep": section})
    assert problems == expected


def test_a_bad_repeats_still_checks_the_grid():
    config, problems = parse_sweep({**BASE, "sweep": {"train.imgsz": [16], "repeats": "many"}})
    assert config.repeats == 1 and len(problems) == 3 and problems[-1].startswith("sweep.train.imgsz=16: ")


def test_a_problem_of_the_base_recipe_is_not_repeated_for_each_value():
    base = {**BASE, "train": {"epochs": 1, "imgsz": 64, "batchh": 8}}
    _, problems = parse_sweep({**base, "sweep": {"freeze": ["none", "backbone"]}})
    assert problems == []  # the base's own problem is the recipe check's to report, once


def test_a_section_that_is_no_grid_is_refused_without_a_config():
    config, problems = parse_sweep({**BASE, "sweep": ["freeze"]})
    assert config is None and problems[-1] == "write sweep: {KEY: [VALUE, ...], repeats: N}"
