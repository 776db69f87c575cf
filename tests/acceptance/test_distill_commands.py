"""The distillation commands of README and docs/: a teacher trained in the run, and a teacher given as a run folder."""

from __future__ import annotations

import json

import pytest
from shell import TINY, printed, type_command

pytestmark = pytest.mark.slow


def test_distill_with_its_own_teacher_stage(user_repo):
    out = type_command(user_repo, "python -m pipeline.run recipes/distill-v8s-to-n.yaml",
                       f"{TINY} --set distill.teacher_train.epochs=1")
    metrics = json.loads((user_repo / printed(out, "run folder") / "metrics.json").read_text())
    assert [s["name"] for s in metrics["stages"]][-1] == "train"
    assert (user_repo / printed(out, "run folder") / "stages/teacher/weights/best.pt").is_file()


def test_distill_from_a_teacher_run_folder_relative_to_the_cwd(user_repo, quickstart_run):
    _, teacher = quickstart_run
    typed = ("python -m pipeline.run recipes/distill-v8s-to-n.yaml "
             "--set distill.teacher=runs/quickstart/20261124-101500 --set distill.teacher_train=null")
    out = type_command(user_repo, typed.replace("runs/quickstart/20261124-101500", teacher), TINY)
    run_folder = printed(out, "run folder")
    assert f"the run folder {(user_repo / teacher).resolve()}" in out
    assert not (user_repo / run_folder / "stages/teacher").exists()
    assert json.loads((user_repo / run_folder / "metrics.json").read_text())["epochs"] == 1
