"""`--set` overrides: file paths typed on the command line resolve against the working directory."""

from __future__ import annotations

import os

from pipeline.recipe.overrides import cli_paths_absolute


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
