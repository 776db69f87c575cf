"""Ultralytics' own argument rules (check_cfg's types and ranges) and roadtune's ranges are part of the recipe
check: every numeric train argument with a value outside its range is listed by dotted key, exit 2, nothing written."""

from __future__ import annotations

import pytest

from pipeline import ultralytics_api as ua
from pipeline.recipe.train_args import LOSS_GAINS, check_train_args
from pipeline.run import main as run_main

# One value outside the valid range of each numeric train argument.
BAD = {
    "epochs": 0, "patience": -1, "workers": -1, "seed": -1, "close_mosaic": -1, "mask_ratio": 0, "max_det": 0,
    "vid_stride": 0, "line_width": -1, "nbs": 0, "save_period": -2, "opset": 0,
    "warmup_epochs": -1, "degrees": 181, "shear": -181, "time": -1, "workspace": -1, "batch": 0,
    **dict.fromkeys(LOSS_GAINS, -1),
    **dict.fromkeys(sorted(ua.CFG_FRACTION_KEYS), -0.5),
    "fraction": 1.5, "lr0": 2, "scale": 1.5, "imgsz": 16,
}


def test_every_numeric_train_argument_has_a_bad_value_here():
    assert ua.CFG_FLOAT_KEYS | ua.CFG_FRACTION_KEYS | ua.CFG_INT_KEYS <= set(BAD)


@pytest.mark.parametrize("key", sorted(BAD))
def test_a_value_outside_its_range_is_listed_by_dotted_key(key):
    problems = check_train_args({key: BAD[key]}, "stages.1.train")
    assert len(problems) == 1 and problems[0].startswith(f"stages.1.train.{key}: "), problems


@pytest.mark.parametrize("args", [{"nbs": 64, "fraction": 0.5}, {"fraction": 100}, {"fraction": [0.5, 0.5]},
                                  {"save_period": -1, "degrees": -10.0, "shear": 2.5, "scale": 0.9, "time": 0.5},
                                  {"amp": "bf16", "workers": 0, "patience": 0}])
def test_values_ultralytics_accepts_pass(args):
    assert check_train_args(args, "train") == []


@pytest.mark.parametrize("value, needle", [(".nan", "finite"), (".inf", "finite"), ("true", "expected a number")])
def test_not_a_finite_number(value, needle, capsys):
    assert needle in check_train_args({"lr0": {"true": True, ".nan": float("nan"), ".inf": float("inf")}[value]},
                                      "train")[0]


def test_all_in_one_round_before_anything_is_written(capsys, tmp_path, synth_yaml, write_recipe):
    recipe = {"name": "ranges", "task": "detect", "model": "yolov8n.yaml", "data": str(synth_yaml), "train": BAD}
    runs = tmp_path / "runs"
    code = run_main([str(write_recipe(recipe)), "--dry-run", "--runs-dir", str(runs), "--set", "train.nbs=0"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    listed = [line for line in err.splitlines() if line.startswith("  - train.")]
    assert sorted(line.split(":")[0].removeprefix("  - train.") for line in listed) == sorted(BAD), err
    assert "train.nbs: 'nbs=0' is an invalid value. 'nbs' must be >= 1. (Ultralytics' rule)" in err
    assert not runs.exists()
