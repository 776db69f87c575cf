"""The teacher before any work: teachers that do not fit the student are refused naming both values, and
distillation on several devices is refused, each with exit 2 and nothing written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import distill_recipe

from pipeline.datasets.synth import NAMES as SYNTH_NAMES
from pipeline.distill.teacher import check_teacher_student, one_device_problems, prepare_teacher
from pipeline.errors import UserError
from pipeline.recipe.distill import DistillConfig
from pipeline.recipe.models import build_model, save_checkpoint
from pipeline.recipe.schema import parse_recipe

os.environ["YOLO_OFFLINE"] = "1"


@pytest.fixture(scope="module")
def teacher_file(tmp_path_factory) -> Path:
    """An untrained YOLOv8s with the synthetic set's classes: a teacher that fits the yolov8n student."""
    return save_checkpoint(build_model("yolov8s.yaml", nc=5), tmp_path_factory.mktemp("t") / "t.pt", SYNTH_NAMES)


def test_check_names_both_values():
    teacher, student = build_model("yolov8s.yaml", nc=3), build_model("yolov8n-seg.yaml", nc=5)
    problems = check_teacher_student(teacher, student)
    assert "task: the teacher is a detect model, the student a segment model" in problems
    assert "class count: the teacher has 3 classes, the student 5" in problems
    names = {i: n for i, n in enumerate("abc")}
    student = build_model("yolov8n.yaml", nc=3)
    assert check_teacher_student(teacher, student, names) == [
        f"class names: the teacher has {dict(teacher.names)}, the student {names}"]


@pytest.fixture(scope="module")
def bad_teachers(tmp_path_factory, synth_yaml) -> list[tuple[dict, str]]:
    """Recipes whose teacher does not fit, each with the message it must produce."""
    folder = tmp_path_factory.mktemp("bad")
    three = save_checkpoint(build_model("yolov8n.yaml", nc=3), folder / "three.pt", {0: "a", 1: "b", 2: "c"})
    detect = save_checkpoint(build_model("yolov8n.yaml", nc=5), folder / "det.pt", SYNTH_NAMES)
    seg = distill_recipe(synth_yaml, str(detect))
    seg.update(task="segment", model="yolov8n-seg.yaml")
    return [
        (distill_recipe(synth_yaml, str(three)), "class count: the teacher has 3 classes, the student 5"),
        (seg, "task: the teacher is a detect model, the student a segment model"),
        (distill_recipe(synth_yaml, str(folder / "missing.pt")), "weights file not found"),
    ]


@pytest.mark.parametrize("case", range(3), ids=["class-count", "detect-teacher-seg-student", "missing-file"])
def test_bad_teacher_exits_2_before_any_work(case, bad_teachers, write_recipe, tmp_path, capsys):
    from pipeline.run import main

    recipe, needle = bad_teachers[case]
    runs = tmp_path / "runs"
    code = main([str(write_recipe(recipe)), "--runs-dir", str(runs)])
    out = capsys.readouterr()
    assert code == 2
    assert "distill.teacher: " in out.err and needle in out.err and "Traceback" not in out.err, out.err
    assert not runs.exists()


@pytest.mark.parametrize("case", range(3), ids=["class-count", "detect-teacher-seg-student", "missing-file"])
def test_prepare_teacher_rejects_bad_teachers(case, bad_teachers):
    from pipeline.datasets.resolve import resolve_dataset

    raw, needle = bad_teachers[case]
    recipe = parse_recipe({**raw, "distill": None})
    recipe.distill = DistillConfig(**raw["distill"])  # set directly: also before the runner wiring
    with pytest.raises(UserError) as err:
        prepare_teacher(recipe, Path("."), build_model(raw["model"], nc=5), resolve_dataset(Path(raw["data"])))
    assert needle in f"{err.value} {err.value.problems}"


@pytest.mark.parametrize(("train", "stages", "method", "expected"), [
    ({"device": "0,1"}, None, "roadtune", ["train.device: distillation (method roadtune) trains on one device, "
                                           "but stage train asks for '0,1': give one device (e.g. device: 0)"]),
    ({"device": [0, 1]}, None, "native", ["train.device: distillation (method native) trains on one device, "
                                          "but stage train asks for [0, 1]: give one device (e.g. device: 0)"]),
    ({"device": "0"}, [{"name": "a", "epochs": 1}, {"name": "b", "epochs": 1, "train": {"device": "-1,-1"}}],
     "roadtune", ["stages.1.train.device: distillation (method roadtune) trains on one device, "
                  "but stage b asks for '-1,-1': give one device (e.g. device: 0)"]),
    ({"device": "0,1"}, [{"name": "a", "epochs": 1, "train": {"device": "cpu"}}], "roadtune", []),
    ({"device": "0,1"}, None, "none", []),
    ({"device": 0}, None, "roadtune", []),
    ({}, None, "roadtune", []),
], ids=["comma", "list", "stage-own", "stage-overrides", "method-none", "one", "unset"])
def test_distillation_on_several_devices_is_refused(train, stages, method, expected, synth_yaml):
    raw = distill_recipe(synth_yaml, "t.pt", method=method)
    raw["train"].update(train)
    recipe = parse_recipe({**raw, "stages": stages} if stages else raw)
    assert one_device_problems(recipe) == expected


def test_distillation_with_ddp_exits_2_before_any_work(teacher_file, synth_yaml, write_recipe, tmp_path, capsys):
    from pipeline.run import main

    raw = distill_recipe(synth_yaml, str(teacher_file))
    raw["train"]["device"] = "0,1"
    runs = tmp_path / "runs"
    assert main([str(write_recipe(raw)), "--runs-dir", str(runs)]) == 2
    err = capsys.readouterr().err
    assert "train.device: distillation (method roadtune) trains on one device" in err and "Traceback" not in err, err
    assert not runs.exists()
