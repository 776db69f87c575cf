"""Per-image records: written by a real training (every epoch and the final validation), equal to the run's own
mAP when scored without resampling, read back from their files, restricted to a subset of images."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from records import made_record

from pipeline.evaluation.bootstrap import replicate_scores
from pipeline.evaluation.per_image import PerImage, detection_record
from pipeline.run import main as run_main


def test_a_record_survives_its_file(tmp_path):
    record = made_record(12, 0.6, seed=2)
    back = PerImage.load(record.save(tmp_path / "final.npz"))
    assert np.array_equal(back.tp, record.tp) and np.array_equal(back.images, record.images)
    assert np.array_equal(back.conf, record.conf) and back.task == "detect" and back.tp_m is None


def test_a_file_that_is_not_a_record_is_a_clear_error(tmp_path):
    from pipeline.errors import UserError

    (tmp_path / "final.npz").write_text("not numpy")
    with pytest.raises(UserError, match="not a per-image record"):
        PerImage.load(tmp_path / "final.npz")


def test_restricted_keeps_the_named_images_and_their_predictions():
    record = made_record(10, 0.6, seed=2)
    part = record.restricted(np.array(["00007.jpg", "00002.jpg"]))
    assert part.images.tolist() == ["00007.jpg", "00002.jpg"]
    assert (part.pred_img == 0).sum() == (record.pred_img == 7).sum()
    assert np.array_equal(part.conf[part.pred_img == 1], record.conf[record.pred_img == 2])
    assert len(part.target_cls) == (np.isin(record.target_img, [2, 7])).sum()


def test_detection_stats_become_one_record():
    stats = [{"im_name": "a.jpg", "conf": np.array([0.9, 0.2]), "pred_cls": np.array([1.0, 0.0]),
              "tp": np.array([[True] * 10, [False] * 10]), "target_cls": np.array([1.0])},
             {"im_name": "b.jpg", "conf": np.zeros(0), "pred_cls": np.zeros(0), "tp": np.zeros((0, 10), bool),
              "target_cls": np.array([0.0, 2.0])}]
    record = detection_record("detect", stats)
    assert record.images.tolist() == ["a.jpg", "b.jpg"]
    assert record.pred_img.tolist() == [0, 0] and record.target_img.tolist() == [0, 1, 1]
    assert record.tp[:, 0].tolist() == [True, False] and record.target_cls.tolist() == [1, 0, 2]


@pytest.mark.slow
def test_a_training_keeps_every_epoch_and_the_final_validation(tmp_path, synth_yaml, tiny_train, write_recipe):
    recipe = write_recipe({"name": "rec", "task": "detect", "model": "yolov8n.yaml", "data": str(synth_yaml),
                           "per_image": "epochs", "train": {**tiny_train, "epochs": 2}})
    assert run_main([str(recipe), "--runs-dir", str(tmp_path / "runs")]) == 0
    run = next((tmp_path / "runs" / "rec").iterdir())
    folder = run / "stages" / "train" / "per_image"
    assert sorted(p.name for p in folder.iterdir()) == ["epoch-001.npz", "epoch-002.npz", "final.npz"]
    final = PerImage.load(folder / "final.npz")
    assert final.n_images == 8 and len(final.conf) > 0
    metrics = json.loads((run / "metrics.json").read_text())
    whole = np.ones((1, final.n_images))
    assert round(float(replicate_scores(final, "map50_95", whole)[0]), 5) == metrics["map50_95"]
    assert round(float(replicate_scores(final, "map50", whole)[0]), 5) == metrics["map50"]


@pytest.mark.slow
def test_only_the_final_validation_by_default(tmp_path, synth_yaml, tiny_train, write_recipe):
    recipe = write_recipe({"name": "rec", "task": "detect", "model": "yolov8n.yaml", "data": str(synth_yaml),
                           "train": tiny_train})
    assert run_main([str(recipe), "--runs-dir", str(tmp_path / "runs")]) == 0
    run = next((tmp_path / "runs" / "rec").iterdir())
    assert [p.name for p in Path(run / "stages" / "train" / "per_image").iterdir()] == ["final.npz"]


@pytest.mark.slow
def test_a_classifier_keeps_top1_and_top5_per_image(tmp_path, write_recipe):
    from conftest import shared_path

    data = shared_path("data/gtsrb_mini")
    recipe = write_recipe({"name": "cls", "task": "classify", "model": "yolov8n-cls.yaml", "data": str(data),
                           "train": {"epochs": 1, "imgsz": 32, "batch": 32, "workers": 0, "plots": False}})
    assert run_main([str(recipe), "--runs-dir", str(tmp_path / "runs")]) == 0
    run = next((tmp_path / "runs" / "cls").iterdir())
    record = PerImage.load(run / "stages" / "train" / "per_image" / "final.npz")
    metrics = json.loads((run / "metrics.json").read_text())
    whole = np.ones((1, record.n_images))
    assert record.n_images == len(list((data / "val").rglob("*.png")))
    assert round(float(replicate_scores(record, "top1", whole)[0]), 5) == metrics["top1"]
    assert round(float(replicate_scores(record, "top5", whole)[0]), 5) == metrics["top5"]
