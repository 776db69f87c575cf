"""Distillation: each roadtune term pulls the student towards the teacher, the trainer logs the terms and saves a
plain student, bad teachers are rejected before any work, and `native` maps onto Ultralytics' distill_model."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
from conftest import distill_recipe

from pipeline.datasets.synth import NAMES as SYNTH_NAMES
from pipeline.distill import trainers
from pipeline.distill.losses import RoadtuneLoss
from pipeline.distill.trainers import ClassifyDistillTrainer, DetectDistillTrainer, SegmentDistillTrainer
from pipeline.errors import UserError
from pipeline.recipe.distill import DistillConfig, stage_config_text
from pipeline.recipe.models import build_model, save_checkpoint
from pipeline.run_folder import DISTILL_CONFIG

os.environ["YOLO_OFFLINE"] = "1"
REPO = Path(__file__).resolve().parents[2]
TERMS = {"kd_cls": "cls", "kd_box": "box", "kd_feat": "feature", "kd_mask": "mask"}


@pytest.fixture(scope="module")
def fixed_batch(synth_data) -> torch.Tensor:
    """Four real synthetic road images at 64x64, as the trainer feeds them (float, 0..1, NCHW)."""
    files = sorted((synth_data.parent / "images" / "train").glob("*"))[:4]
    images = [cv2.resize(cv2.imread(str(f)), (64, 64))[:, :, ::-1] for f in files]
    return torch.from_numpy(np.stack(images).transpose(0, 3, 1, 2).copy()).float() / 255


@pytest.fixture(scope="module")
def teacher_file(tmp_path_factory) -> Path:
    """An untrained YOLOv8s checkpoint with the synthetic set's classes."""
    return save_checkpoint(build_model("yolov8s.yaml", nc=5), tmp_path_factory.mktemp("t") / "t.pt", SYNTH_NAMES)


def write_config(folder: Path, cfg: DistillConfig, teacher: Path) -> None:
    """The distill.json a run writes into a distilled stage's folder before Ultralytics starts."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / DISTILL_CONFIG).write_text(stage_config_text(cfg, teacher))


def only(term: str) -> DistillConfig:
    weights = {w: float(w == TERMS[term]) for w in TERMS.values()}
    return DistillConfig(teacher="unused", weights=weights)


@pytest.mark.slow
@pytest.mark.parametrize("term", list(TERMS))
def test_each_term_is_finite_nonzero_and_pulls_the_student_to_the_teacher(term, teacher_pt, fixed_batch):
    """A few optimizer steps on one term alone shrink that divergence on a fixed batch."""
    from ultralytics.nn.tasks import load_checkpoint

    torch.manual_seed(0)
    seg = term == "kd_mask"
    teacher = build_model("yolov8s-seg.yaml", nc=5) if seg else load_checkpoint(teacher_pt)[0]
    student = build_model("yolov8n-seg.yaml" if seg else "yolov8n.yaml", nc=5).train()
    loss = RoadtuneLoss(student, teacher, only(term))
    params = list(student.parameters()) + (list(loss.projector.parameters()) if loss.projector else [])
    optimizer = torch.optim.Adam(params, lr=1e-3)
    before = loss.terms(student(fixed_batch), fixed_batch)
    assert list(before) == [term]
    start = before[term].item()
    assert np.isfinite(start) and start > 0
    for _ in range(4):
        optimizer.zero_grad()
        loss.terms(student(fixed_batch), fixed_batch)[term].backward()
        optimizer.step()
    end = loss.terms(student(fixed_batch), fixed_batch)[term].item()
    assert end < 0.9 * start, f"{term}: {start:.5f} -> {end:.5f}"


@pytest.fixture(scope="module")
def roadtune_run(tmp_path_factory, synth_data, teacher_pt) -> Path:
    """Roadtune through Ultralytics' trainer: stopped after epoch 1 of 2, then resumed as any run."""
    from ultralytics import YOLO

    project = tmp_path_factory.mktemp("student")
    write_config(project / "s", DistillConfig(teacher="unused"), teacher_pt)

    def stop_after_first_epoch(t) -> None:
        if t.epoch == 0:
            raise KeyboardInterrupt("simulated interruption")

    model = YOLO("yolov8n.yaml")
    model.add_callback("on_fit_epoch_end", stop_after_first_epoch)
    with pytest.raises(KeyboardInterrupt):
        model.train(data=str(synth_data), epochs=2, imgsz=64, batch=8, workers=0, plots=False, seed=0,
                    project=str(project), name="s", exist_ok=True, trainer=DetectDistillTrainer)
    folder = project / "s"
    assert (folder / "weights" / "distill_projector.pt").is_file()
    YOLO(str(folder / "weights" / "last.pt")).train(resume=True, trainer=DetectDistillTrainer)
    return folder


@pytest.mark.slow
def test_terms_are_logged_like_ultralytics_losses(roadtune_run):
    results = pd.read_csv(roadtune_run / "results.csv")
    assert list(results["epoch"]) == [1, 2], "the resumed run ends with the uninterrupted epoch count"
    for name in ("train/box_loss", "train/kd_cls", "train/kd_box", "train/kd_feat"):
        assert name in results.columns
        assert np.isfinite(results[name]).all() and (results[name] > 0).all(), results[name]


@pytest.mark.slow
def test_student_checkpoint_is_plain_ultralytics(roadtune_run, synth_data, tmp_path):
    """Loads, validates, predicts and exports in a Python that never imports pipeline; no teacher, no projector."""
    script = f"""
import sys, torch
from ultralytics import YOLO
ckpt = torch.load({str(roadtune_run / 'weights' / 'best.pt')!r}, weights_only=False)
keys = list(ckpt["model"].state_dict())
assert type(ckpt["model"]).__name__ == "DetectionModel", type(ckpt["model"])
assert ckpt["model"].criterion is None and not any("teacher" in k or "projector" in k for k in keys)
model = YOLO({str(roadtune_run / 'weights' / 'best.pt')!r})
metrics = model.val(data={str(synth_data)!r}, imgsz=64, batch=8, workers=0, plots=False, verbose=False)
model.predict({str(synth_data.parent / 'images' / 'val')!r}, imgsz=64, verbose=False)
exported = model.export(format="torchscript", imgsz=64)
assert not [m for m in sys.modules if m == "pipeline" or m.startswith("pipeline.")]
print("OK", len(keys), metrics.box.map50, exported)
"""
    env = {**os.environ, "PYTHONPATH": "", "YOLO_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "OK" in out.stdout and ".torchscript" in out.stdout


@pytest.mark.slow
def test_segment_student_distils_masks_too(tmp_path, synth_data):
    from ultralytics import YOLO

    teacher = save_checkpoint(build_model("yolov8s-seg.yaml", nc=5), tmp_path / "teacher.pt", SYNTH_NAMES)
    write_config(tmp_path / "s", DistillConfig(teacher="unused"), teacher)
    YOLO("yolov8n-seg.yaml").train(data=str(synth_data), epochs=1, imgsz=64, batch=8, workers=0, plots=False,
                                   seed=0, project=str(tmp_path), name="s", exist_ok=True,
                                   trainer=SegmentDistillTrainer)
    results = pd.read_csv(tmp_path / "s" / "results.csv")
    terms = results[["train/seg_loss", "train/kd_cls", "train/kd_box", "train/kd_feat", "train/kd_mask"]]
    assert np.isfinite(terms).all().all() and (terms > 0).all().all(), terms


@pytest.fixture(scope="module")
def native_run(tmp_path_factory, synth_yaml) -> Path:
    """Through the runner: stage `teacher` (a YOLOv8s fine-tuned first), then the student with method native."""
    from pipeline.run import main

    folder = tmp_path_factory.mktemp("native")
    recipe = distill_recipe(synth_yaml, "yolov8s.yaml", method="native", teacher_train={"epochs": 1})
    path = folder / "recipe.yaml"
    path.write_text(json.dumps(recipe))
    assert main([str(path), "--runs-dir", str(folder / "runs")]) == 0
    (run,) = (folder / "runs").glob("*/*")
    return run


@pytest.mark.slow
def test_native_runs_after_a_teacher_stage(native_run):
    metrics = json.loads((native_run / "metrics.json").read_text())
    assert [s["name"] for s in metrics["stages"]] == ["teacher", "train"]
    results = pd.read_csv(native_run / "stages" / "train" / "results.csv")
    assert (results["train/dis_loss"] > 0).all()


@pytest.mark.slow
def test_roadtune_runs_from_a_run_folder_teacher(native_run, synth_yaml, tmp_path):
    """A finished run folder is a teacher: its final stage's best.pt."""
    from pipeline.run import main

    path = tmp_path / "recipe.yaml"
    path.write_text(json.dumps(distill_recipe(synth_yaml, str(native_run))))
    assert main([str(path), "--runs-dir", str(tmp_path / "runs")]) == 0
    (run,) = (tmp_path / "runs").glob("*/*")
    results = pd.read_csv(run / "stages" / "train" / "results.csv")
    assert (results[["train/kd_cls", "train/kd_box", "train/kd_feat"]] > 0).all().all()
    recorded = (run / "recipe.yaml").read_text()
    teacher = str(native_run / "stages" / "train" / "weights" / "best.pt")
    assert teacher in recorded
    assert json.loads((run / "stages" / "train" / DISTILL_CONFIG).read_text())["teacher"] == teacher


@pytest.mark.parametrize("name", ["distill-v8s-to-n", "distill-seg", "distill-compare"])
def test_shipped_recipes_validate(name, capsys):
    from pipeline.run import main

    assert main([str(REPO / "recipes" / f"{name}.yaml"), "--dry-run"]) == 0, capsys.readouterr().err


@pytest.mark.slow
def test_distillation_weight_ramps_up_over_ramp_epochs(teacher_pt, fixed_batch, synth_data):
    """The applied terms are the raw terms times weight times the ramp (batch k of ramp_epochs*batches: k/that);
    kd_ratio is their sum over the detection items'. Before the ramp, batch 1 carried the full weight."""
    from ultralytics.cfg import get_cfg
    from ultralytics.nn.tasks import load_checkpoint

    torch.manual_seed(0)
    student = build_model("yolov8n.yaml", nc=5).train()
    student.args = get_cfg()
    loss = RoadtuneLoss(student, load_checkpoint(teacher_pt)[0], DistillConfig(teacher="unused", ramp_epochs=2))
    loss.base = student.init_criterion()
    batch = {"img": fixed_batch, "batch_idx": torch.tensor([0.0, 1.0]), "cls": torch.tensor([[0.0], [1.0]]),
             "bboxes": torch.tensor([[0.5, 0.5, 0.2, 0.2], [0.3, 0.6, 0.1, 0.3]])}
    preds = student(fixed_batch)
    raw = {k: v.item() for k, v in loss.terms(preds, fixed_batch).items()}
    weights = {"kd_cls": 1.0, "kd_box": 1.0, "kd_feat": 0.5}
    for epoch, batches, gain in [(0, 5, 0.1), (1, 5, 0.6), (2, 5, 1.0), (7, 5, 1.0)]:
        loss.start_epoch(epoch, batches)
        vector, items = loss(preds, batch)
        for k, w in weights.items():
            assert items[k].item() == pytest.approx(raw[k] * w * gain, rel=1e-4), (epoch, k)
        det = items["box_loss"] + items["cls_loss"] + items["dfl_loss"]
        kd = sum(items[k] for k in weights)
        assert items["kd_ratio"].item() == pytest.approx((kd / det).item(), rel=1e-5)
        assert vector[3:].sum().item() == pytest.approx(kd.item() * 4, rel=1e-4), "scaled by batch size like det"
    no_ramp = RoadtuneLoss(student, load_checkpoint(teacher_pt)[0], DistillConfig(teacher="unused", ramp_epochs=0))
    no_ramp.base = loss.base
    assert no_ramp(preds, batch)[1]["kd_cls"].item() == pytest.approx(raw["kd_cls"], rel=1e-4)


@pytest.mark.parametrize("cls", [DetectDistillTrainer, SegmentDistillTrainer, ClassifyDistillTrainer])
def test_trainers_are_importable_classes_that_pickle_by_reference(cls):
    """Ultralytics hands a trainer's class to other processes by reference (multi-GPU workers: cloudpickle of
    type(trainer)); a declared class comes back as itself and its tracebacks name this module."""
    import cloudpickle

    assert cls.__module__ == "pipeline.distill.trainers" and getattr(trainers, cls.__name__) is cls
    assert pickle.loads(pickle.dumps(cls)) is cls and pickle.loads(cloudpickle.dumps(cls)) is cls
    assert trainers.TRAINERS[cls.__name__.removesuffix("DistillTrainer").lower()] is cls


def test_a_trainer_made_from_its_arguments_alone_reads_its_stage_config(tmp_path, synth_data, teacher_file):
    """As Ultralytics makes it (class and train arguments, as a resume or a worker process): the stage folder's
    distill.json says what it distils; without one it stops, naming the file."""
    overrides = {"model": "yolov8n.yaml", "data": str(synth_data), "imgsz": 64, "project": str(tmp_path),
                 "name": "s", "exist_ok": True, "device": "cpu"}
    with pytest.raises(UserError, match=f"{tmp_path / 's' / 'distill.json'} not found"):
        DetectDistillTrainer(overrides=overrides)
    write_config(tmp_path / "s", DistillConfig(teacher="unused", temperature=4.0, ramp_epochs=1), teacher_file)
    trainer = DetectDistillTrainer(overrides=overrides)
    assert trainer.save_dir == tmp_path / "s" and trainer.distill.teacher == str(teacher_file)
    assert (trainer.distill.temperature, trainer.distill.ramp_epochs) == (4.0, 1)
    assert trainer.distiller is None, "the teacher loads with the model, when training starts"
