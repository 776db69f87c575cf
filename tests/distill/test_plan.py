"""The distill plan, without training: which steps a recipe gets (teacher stage, teacher labels, students), in which
order, with which trainer, which data and which distill.json, for detect, segment and classify."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import distill_recipe

from pipeline.datasets.resolve import resolve_dataset
from pipeline.datasets.synth import NAMES as SYNTH_NAMES
from pipeline.distill.plan import TeacherLabels, TrainStep, distill_plan
from pipeline.distill.trainers import ClassifyDistillTrainer, DetectDistillTrainer, SegmentDistillTrainer
from pipeline.execute.loop import stage_runs
from pipeline.execute.prepare import prepare
from pipeline.recipe.distill import DistillConfig
from pipeline.recipe.models import build_model, save_checkpoint
from pipeline.recipe.schema import parse_recipe
from pipeline.run_folder import DISTILL_CONFIG

os.environ["YOLO_OFFLINE"] = "1"
TWO_STAGES = [{"name": "head", "epochs": 1, "freeze": "backbone"}, {"name": "all", "epochs": 2, "lr_scale": 0.1}]


@pytest.fixture(scope="module")
def teachers(tmp_path_factory) -> dict[str, Path]:
    """Untrained checkpoints with the synthetic set's classes: a detect and a segment teacher."""
    folder = tmp_path_factory.mktemp("teachers")
    return {task: save_checkpoint(build_model(arch, nc=5), folder / f"{task}.pt", SYNTH_NAMES)
            for task, arch in (("detect", "yolov8s.yaml"), ("segment", "yolov8s-seg.yaml"))}


@pytest.fixture(scope="module")
def frames(tmp_path_factory, synth_data) -> Path:
    """A folder of two unlabelled road frames."""
    folder = tmp_path_factory.mktemp("frames")
    for image in sorted((synth_data.parent / "images" / "train").glob("*"))[:2]:
        (folder / image.name).write_bytes(image.read_bytes())
    return folder


def plan_of(raw: dict, run_dir: Path) -> list[TrainStep | TeacherLabels]:
    """The plan of a recipe as a run in `run_dir` would take it (preflight first, as the run does)."""
    prepared = prepare(parse_recipe(raw), run_dir)
    return distill_plan(prepared.recipe, prepared.dataset, prepared.teacher, run_dir, stage_runs(prepared, run_dir))


def config_of(step: TrainStep) -> DistillConfig:
    """The distill.json the step's stage folder gets when it starts."""
    return DistillConfig.model_validate_json(step.stage.files[DISTILL_CONFIG])


def test_without_distillation_the_stages_train_as_they_are(synth_yaml, tmp_path):
    raw = distill_recipe(synth_yaml, "unused")
    del raw["distill"]
    prepared = prepare(parse_recipe({**raw, "stages": TWO_STAGES}), tmp_path)
    runs = stage_runs(prepared, tmp_path)
    plan = distill_plan(prepared.recipe, prepared.dataset, prepared.teacher, tmp_path, runs)
    assert plan == [TrainStep(sr) for sr in runs]


def test_roadtune_students_get_the_task_trainer_and_its_config(synth_yaml, synth_data, teachers, tmp_path):
    raw = distill_recipe(synth_yaml, str(teachers["detect"]), temperature=3.0, weights={"feature": 0.0})
    plan = plan_of({**raw, "stages": TWO_STAGES}, tmp_path)
    assert [(s.stage.stage.name, s.trainer) for s in plan] == [("head", DetectDistillTrainer),
                                                               ("all", DetectDistillTrainer)]
    for step in plan:
        cfg = config_of(step)
        assert cfg.teacher == str(teachers["detect"]) and cfg.temperature == 3.0 and cfg.weights.feature == 0.0
        assert step.stage.train_args["data"] == str(synth_data), "the recipe's own data"
        assert "distill_model" not in step.stage.train_args
        assert step.stage.folder == tmp_path / "stages" / step.stage.stage.name
    assert plan[1].stage.start_weights == str(plan[0].stage.last), "the second student goes on from the first"


def test_native_after_a_teacher_stage_distils_from_the_stages_best(synth_yaml, tmp_path):
    raw = distill_recipe(synth_yaml, "yolov8s.yaml", method="native", teacher_train={"epochs": 3, "lr0": 0.02})
    teacher, student = plan_of(raw, tmp_path)
    assert (teacher.stage.stage.name, teacher.trainer, student.stage.stage.name, student.trainer) == (
        "teacher", None, "train", None)
    assert teacher.stage.start_weights.endswith("yolov8s.yaml") and teacher.stage.train_args["epochs"] == 3
    assert teacher.stage.train_args["lr0"] == 0.02 and "lr0" not in student.stage.train_args
    assert student.stage.train_args["distill_model"] == str(tmp_path / "stages" / "teacher" / "weights" / "best.pt")
    assert teacher.stage.files == {} and student.stage.files == {}, "native needs no distill.json"
    assert student.stage.train_args["data"] == teacher.stage.train_args["data"]


@pytest.mark.parametrize("method", ["roadtune", "none"])
def test_teacher_labels_come_before_the_students_which_train_on_them(method, synth_yaml, teachers, frames, tmp_path):
    raw = distill_recipe(synth_yaml, str(teachers["detect"]), method=method, unlabeled=[str(frames)])
    labels, *students = plan_of({**raw, "stages": TWO_STAGES}, tmp_path)
    assert isinstance(labels, TeacherLabels)
    assert (labels.folder, labels.teacher, labels.imgsz) == (tmp_path / "pseudo", teachers["detect"], 64)
    assert labels.cfg.unlabeled == [str(frames)]
    trainer = DetectDistillTrainer if method == "roadtune" else None
    assert [(s.stage.stage.name, s.trainer) for s in students] == [("head", trainer), ("all", trainer)]
    assert {s.stage.train_args["data"] for s in students} == {str(tmp_path / "pseudo" / "data.yaml")}
    assert not (tmp_path / "pseudo").exists(), "planning labels nothing"


def test_a_teacher_trained_in_the_run_labels_after_its_stage(synth_yaml, frames, tmp_path):
    raw = distill_recipe(synth_yaml, "yolov8s.yaml", teacher_train={"epochs": 1}, unlabeled=[str(frames)])
    teacher, labels, student = plan_of(raw, tmp_path)
    assert (teacher.stage.stage.name, type(labels), student.stage.stage.name) == ("teacher", TeacherLabels, "train")
    assert labels.teacher == teacher.stage.best == Path(config_of(student).teacher)
    assert teacher.stage.train_args["data"] != student.stage.train_args["data"], "the teacher learns labels only"


def test_segment_students_get_the_segment_trainer(synth_yaml, teachers, tmp_path):
    raw = distill_recipe(synth_yaml, str(teachers["segment"]))
    (student,) = plan_of({**raw, "task": "segment", "model": "yolov8n-seg.yaml"}, tmp_path)
    assert student.trainer is SegmentDistillTrainer and config_of(student).weights.mask == 1.0


def test_classify_students_get_the_soft_label_trainer(tmp_path):
    data = tmp_path / "signs"
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for kind in ("a", "b"):
            (data / split / kind).mkdir(parents=True)
            for i in range(2):
                cv2.imwrite(str(data / split / kind / f"{i}.png"), rng.integers(0, 255, (32, 32, 3), np.uint8))
    teacher = save_checkpoint(build_model("yolov8n-cls.yaml", nc=2), tmp_path / "t.pt", {0: "a", 1: "b"})
    raw = {"name": "kd", "task": "classify", "model": "yolov8n-cls.yaml", "data": str(data),
           "train": {"epochs": 1, "imgsz": 32}, "distill": {"teacher": str(teacher), "alpha": 0.7}}
    (student,) = plan_of(raw, tmp_path / "run")
    assert student.trainer is ClassifyDistillTrainer
    assert (config_of(student).teacher, config_of(student).alpha) == (str(teacher), 0.7)
    assert student.stage.train_args["data"] == str(resolve_dataset(data).yaml_path)
