"""`--set` overrides: dotted keys into sections and list items, values parsed as YAML, every malformed override
a clear error; file paths typed on the command line resolve against the working directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline.errors import UserError
from pipeline.recipe.overrides import apply_overrides, cli_paths_absolute, override_value


def test_set_paths_resolve_against_the_working_directory(tmp_path):
    given = ["data=../shared/data/kitti_mini/data.yaml", "video.source=clip.mp4", "weights=coco.pt",
             "model=yolov5nu.yaml", "model=models/my.yaml", "distill.teacher=runs/t/1", "train.lr0=0.1",
             "data=https://x/y.yaml", "distill.unlabeled=[drive.mp4, ../frames]"]
    out = cli_paths_absolute(given, cwd=tmp_path / "repo")
    assert out == [f"data={tmp_path / 'shared/data/kitti_mini/data.yaml'}",
                   f"video.source={tmp_path / 'repo/clip.mp4'}",
                   "weights=coco.pt", "model=yolov5nu.yaml", f"model={tmp_path / 'repo/models/my.yaml'}",
                   f"distill.teacher={tmp_path / 'repo/runs/t/1'}", "train.lr0=0.1", "data=https://x/y.yaml",
                   f'distill.unlabeled=["{tmp_path / "repo/drive.mp4"}", "{tmp_path / "frames"}"]']
    assert all(os.path.isabs(o.split("=", 1)[1]) for o in out if o.startswith(("data=/", "video")))


def test_sweep_grids_of_paths_resolve_against_the_working_directory(tmp_path):
    out = cli_paths_absolute(["sweep.model=[yolov8n.yaml, models/my.yaml]", "sweep.freeze=[none, backbone]",
                              "sweep.data=[../a/data.yaml]"], cwd=tmp_path / "repo")
    assert out == [f'sweep.model=["yolov8n.yaml", "{tmp_path / "repo/models/my.yaml"}"]',
                   "sweep.freeze=[none, backbone]", f'sweep.data=["{tmp_path / "a/data.yaml"}"]']


def test_cli_paths_leave_other_keys_values_without_equals_and_dot_paths_alone(tmp_path):
    given = ["train.project=runs", "noequals", "model=./yolov8n.pt", "weights=~/w.pt", "sweep.data=a.yaml",
             "video.source=", "distill.unlabeled=[1, 2]"]
    out = cli_paths_absolute(given, cwd=tmp_path)
    assert out == ["train.project=runs", "noequals", f"model={tmp_path / 'yolov8n.pt'}",
                   f"weights={Path('~/w.pt').expanduser()}", "sweep.data=a.yaml", "video.source=",
                   "distill.unlabeled=[1, 2]"]


@pytest.mark.parametrize("item, value", [("epochs=3", 3), ("lr0=1e-3", 0.001), ("amp=false", False),
                                         ("imgsz=[320, 640]", [320, 640]), ("optimizer=SGD", "SGD"),
                                         ("name='1'", "1"), ("cache=", None), ("x=a=b", "a=b")])
def test_values_are_parsed_as_yaml(item, value):
    key = item.partition("=")[0]
    assert apply_overrides({}, [f"train.{item}"]) == {"train": {key: value}}


def test_sections_are_created_merged_and_later_overrides_win():
    raw = {"name": "r", "train": {"epochs": 1, "imgsz": 64}}
    out = apply_overrides(raw, ["train.epochs=5", "augment.presets=[rain]", "augment.p=0.5", "train.epochs=7",
                                "name=other"])
    assert out is raw  # in place
    assert raw == {"name": "other", "train": {"epochs": 7, "imgsz": 64}, "augment": {"presets": ["rain"], "p": 0.5}}


def test_list_items_are_addressed_by_index():
    raw = {"stages": [{"name": "head", "epochs": 1}, {"name": "full", "epochs": 2}]}
    apply_overrides(raw, ["stages.1.epochs=9", "stages.0.train.lr0=0.1", "stages.0.freeze=backbone"])
    assert raw["stages"] == [{"name": "head", "epochs": 1, "train": {"lr0": 0.1}, "freeze": "backbone"},
                             {"name": "full", "epochs": 9}]
    apply_overrides(raw, ["stages.1={name: only, epochs: 3}"])
    assert raw["stages"][1] == {"name": "only", "epochs": 3}


@pytest.mark.parametrize("item, message", [
    ("train.epochs", "--set 'train.epochs': expected KEY=VALUE, e.g. --set train.epochs=1"),
    ("=3", "--set '=3': expected KEY=VALUE"),
    ("stages.2.epochs=1", "--set stages.2.epochs: `2` is not a section of the recipe"),
    ("stages.x.epochs=1", "--set stages.x.epochs: `x` is not a section of the recipe"),
    ("name.first=a", "--set name.first: `first` is not a key of the recipe"),
    ("train.lr0.x.y=1", "--set train.lr0.x.y: `x` is not a section of the recipe"),
    ("stages.5=a", "--set stages.5: `5` is not a key of the recipe"),
    ("train.imgsz=[1, 2", "--set train.imgsz=[1, 2: not a YAML value (malformed YAML in --set train.imgsz at line 1, "
                          "column 6"),
])
def test_each_malformed_override_is_a_user_error_naming_it(item, message):
    raw = {"name": "r", "train": {"lr0": 0.1}, "stages": [{"name": "a", "epochs": 1}, {"name": "b", "epochs": 1}]}
    with pytest.raises(UserError) as raised:
        apply_overrides(raw, [item])
    assert str(raised.value).startswith(message)


def test_a_malformed_value_hints_at_quoting_lists():
    with pytest.raises(UserError, match=r"quote lists, e.g. --set 'freeze=\[0, 1\]'"):
        override_value("freeze", "[0, 1")
