"""A stage's measurements: the epoch log (one line per finished epoch, the last record of an epoch wins), the
timing summary built from it, and the validation figures read from an Ultralytics validator's results (classes
absent from val are null; a classifier's macro precision and recall come from its confusion matrix)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
from torch.utils.data import DataLoader

from pipeline.train import metrics as stage_metrics
from pipeline.train.metrics import EpochTimer, read_epochs, timing_summary


def record(epoch: int, epoch_s: float = 2.0, train_s: float = 1.5, images: int = 16, **extra) -> dict:
    return {"epoch": epoch, "train_s": train_s, "epoch_s": epoch_s, "images": images, "batches": 2,
            "peak_memory_mb": 100.0 + epoch, "memory_kind": "rss", **extra}


def test_the_timer_writes_one_line_per_finished_epoch_and_skips_final_eval(tmp_path):
    log = tmp_path / "epochs.jsonl"
    timer = EpochTimer(log)
    loader = DataLoader(list(range(10)), batch_size=4)  # 10 images in 3 batches
    trainer = SimpleNamespace(epoch=0, epochs=2, train_loader=loader)
    events = timer.callbacks()
    assert sorted(events) == ["on_fit_epoch_end", "on_train_epoch_end", "on_train_epoch_start", "on_train_start"]
    events["on_train_start"](trainer)
    for epoch in range(2):
        trainer.epoch = epoch
        events["on_train_epoch_start"](trainer)
        events["on_train_epoch_end"](trainer)
        events["on_fit_epoch_end"](trainer)
    trainer.epoch = 2
    events["on_fit_epoch_end"](trainer)  # final_eval fires the event again after the last epoch
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(r["epoch"], r["images"], r["batches"], r["memory_kind"]) for r in lines] == [
        (1, 10, 3, "rss"), (2, 10, 3, "rss")]
    assert all(0 <= r["train_s"] <= r["epoch_s"] and r["peak_memory_mb"] > 0 for r in lines)


def test_a_fit_epoch_end_without_a_finished_train_epoch_writes_nothing(tmp_path):
    timer = EpochTimer(tmp_path / "epochs.jsonl")
    timer.on_fit_epoch_end(SimpleNamespace(epoch=0, epochs=3, train_loader=[]))
    assert not (tmp_path / "epochs.jsonl").exists()


def test_read_epochs_keeps_the_last_record_of_each_epoch_in_order(tmp_path):
    log = tmp_path / "epochs.jsonl"
    log.write_text("\n".join(json.dumps(r) for r in (record(1), record(2, epoch_s=9.0), record(3),
                                                     record(2, epoch_s=3.0))) + "\n\n")
    assert [(r["epoch"], r["epoch_s"]) for r in read_epochs(log)] == [(1, 2.0), (2, 3.0), (3, 2.0)]
    assert read_epochs(tmp_path / "absent.jsonl") == []


def test_timing_summary_of_no_epochs():
    assert timing_summary([]) == {"epochs": 0, "train_time_s": 0.0, "time_per_epoch_s": None, "batches": 0,
                                  "images_seen": 0, "time_per_batch_s": None, "images_per_s": None,
                                  "peak_memory_mb": None, "memory_kind": None}


def test_timing_summary_sums_the_compute_and_divides_by_train_time():
    epochs = [record(1, epoch_s=2.0, train_s=1.5), record(2, epoch_s=4.0, train_s=2.5, memory_kind="cuda")]
    assert timing_summary(epochs) == {"epochs": 2, "train_time_s": 6.0, "time_per_epoch_s": 3.0, "batches": 4,
                                      "images_seen": 32, "time_per_batch_s": 1.0, "images_per_s": 8.0,
                                      "peak_memory_mb": 102.0, "memory_kind": "cuda"}


def test_records_written_before_batches_were_counted_give_no_batch_figures():
    old = {k: v for k, v in record(1).items() if k != "batches"}
    summary = timing_summary([old, record(2)])
    assert (summary["batches"], summary["time_per_batch_s"], summary["images_seen"]) == (None, None, 32)


def box_validator(ap_class_index, ap, seg: bool = False) -> SimpleNamespace:
    box = SimpleNamespace(map50=0.612345678, map=0.4, mp=0.7, mr=0.55, ap_class_index=np.array(ap_class_index),
                          ap=np.array(ap))
    metrics = SimpleNamespace(box=box, **({"seg": SimpleNamespace(map50=0.3, map=0.2)} if seg else {}))
    return SimpleNamespace(metrics=metrics, speed={"inference": 12.34567, "nms": 1.0})


def test_detection_figures_with_classes_absent_from_val_as_null():
    validator = box_validator([0, 2], [0.5, 0.123456789])
    summary = stage_metrics.validation_summary(validator, {0: "car", 1: "van", 2: "bike"})
    assert summary == {"map50": 0.61235, "map50_95": 0.4, "precision": 0.7, "recall": 0.55,
                       "per_class": {"car": 0.5, "van": None, "bike": 0.12346}, "inference_ms_per_image": 12.346}


def test_segmentation_adds_the_mask_figures():
    summary = stage_metrics.validation_summary(box_validator([0], [0.5], seg=True), {0: "road"})
    assert (summary["mask_map50"], summary["mask_map50_95"], summary["map50"]) == (0.3, 0.2, 0.61235)


def test_classification_figures_from_the_confusion_matrix_predicted_by_true():
    matrix = np.array([[3, 1, 0],   # predicted class 0
                       [1, 1, 0],   # predicted class 1
                       [0, 2, 0]])  # predicted class 2; class 2 never occurs in val
    validator = SimpleNamespace(confusion_matrix=SimpleNamespace(matrix=matrix),
                                metrics=SimpleNamespace(top1=0.5, top5=1.0), speed={})
    summary = stage_metrics.validation_summary(validator, {0: "stop", 1: "yield", 2: "limit"})
    # recall: 3/4 and 1/4 over the two classes present; precision: 3/4, 1/2 and 0/2 for class 2 (present: no)
    assert summary == {"top1": 0.5, "top5": 1.0, "precision": 0.625, "recall": 0.5,
                       "per_class": {"stop": 0.75, "yield": 0.25, "limit": None}, "inference_ms_per_image": 0.0}


def test_a_classifier_without_any_val_image_has_zero_macro_figures():
    validator = SimpleNamespace(confusion_matrix=SimpleNamespace(matrix=np.zeros((2, 2))),
                                metrics=SimpleNamespace(top1=0.0, top5=0.0), speed={"inference": 1.0})
    summary = stage_metrics.classification_summary(validator, {0: "a", 1: "b"})
    assert (summary["precision"], summary["recall"], summary["per_class"]) == (0.0, 0.0, {"a": None, "b": None})
