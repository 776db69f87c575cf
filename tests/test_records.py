"""The run folder's JSON records: written and read back, atomic, tolerant of keys they do not know, and a clear
UserError for a file that is missing, not JSON or not the record."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pipeline.compare.results import FIGURES
from pipeline.errors import UserError
from pipeline.records import (
    Environment,
    ExportRecord,
    Figures,
    Metrics,
    PointStatus,
    Probe,
    PseudoCounts,
    StageSummary,
    SweepFile,
)

SPREAD = {"median": 12.5, "p90": 14.0}
MEASURED = {"latency_ms": {"batch": 1, "runs": 20, "warmup": 3, "total": SPREAD, "inference": SPREAD},
            "throughput": {"batch": 8, "calls": 5, "images_per_s": 96.4}, "accuracy": {"map50_95": 0.41}}
STAGE = {"name": "head", "start_weights": "yolov8n.pt", "freeze": "backbone", "frozen_layers": 10, "lr0": 0.01,
         "optimizer": "AdamW", "epochs": 2, "train_time_s": 8.5, "time_per_epoch_s": 4.25, "batches": 6,
         "images_seen": 32, "time_per_batch_s": 1.1, "images_per_s": 4.9, "peak_memory_mb": 1500.2,
         "memory_kind": "rss", "map50": 0.6, "map50_95": 0.4, "precision": 0.7, "recall": 0.5,
         "per_class": {"car": 0.5, "tram": None}, "inference_ms_per_image": 3.2}
COUNTS = {"teacher": "/runs/t/weights/best.pt", "conf": "f1", "ignore_conf": None, "labeled_repeats": 3,
          "labelled_frames": 150, "thresholds": {"car": 0.31}, "teacher_imgsz": 640, "every_n_frames": 10,
          "sources": ["/videos/a.mp4"], "frames": 72, "frames_without_boxes": 4, "boxes": 310,
          "per_class": {"car": 310}, "ignored_boxes": 12, "teacher_seconds": 9.1, "teacher_frames_per_s": 7.9}
# one file of each record as the writers of this version leave them
FILES = {
    Metrics: {"map50": 0.6, "map50_95": 0.4, "precision": 0.7, "recall": 0.5, "per_class": {"car": 0.5, "tram": None},
              "epochs": 2, "train_time_s": 8.5, "time_per_epoch_s": 4.25, "batches": 6, "images_seen": 32,
              "time_per_batch_s": 1.1, "images_per_s": 4.9, "peak_memory_mb": 1500.2, "memory_kind": "rss",
              "inference_ms_per_image": 3.2, "frozen_layers": 10, "params_trainable": 1000, "params_frozen": 2000,
              "params_total": 3000, "weights_transferred": 355, "weights_total": 355, "stages": [STAGE],
              "teacher_labels": COUNTS},
    StageSummary: STAGE,
    Environment: {"python": "3.12.3", "platform": "Linux", "roadtune": "0.1.0", "torch": "2.14.1",
                  "ultralytics": "8.4.190", "git_commit": None, "device": "cpu", "device_kind": "cpu", "gpus": [],
                  "cpu": "x86_64", "cpu_count": 2, "argv": ["-m", "pipeline.run", "recipe.yaml"]},
    SweepFile: {"kind": "roadtune-sweep", "base": {"name": "s", "sweep": {"freeze": ["none", "backbone"]}},
                "base_dir": "/recipes"},
    PointStatus: {"point": "0-freeze-none-s0", "returncode": 1, "error": "error: out of memory", "wall_s": 12.3,
                  "peak_rss_mb": 900.5, "device": None},
    Probe: {"kind": "roadtune-probe", "budget_mb": 6911.0, "device": "NVIDIA H200", "default_batch": 64,
            "max_batch": 512, "warmup_batches": 2, "timed_batches": 5,
            "points": [{"point": "0-freeze-none-s0", "freeze": "none", "frozen_layers": 0, "default_batch": 64,
                        "default_peak_mb": 6911.0, "default_images_per_s": 812.5, "probe_batch": 64,
                        "probe_peak_mb": 6911.0, "probe_images_per_s": 812.5,
                        "measurements": [{"batch": 64, "peak_mb": 6911.0, "fits": True}]}]},
    PseudoCounts: COUNTS,
    ExportRecord: {**MEASURED, "format": "onnx", "precision": "fp32", "artifact": "best.onnx", "size_mb": 12.2,
                   "pytorch_size_mb": 6.3, "weights": "/runs/r/stages/train/weights/best.pt", "task": "detect",
                   "imgsz": 640, "data": "/data/kitti.yaml", "accuracy_delta_pts": {"map50_95": -0.12},
                   "pytorch": MEASURED, "machine": {"device": "cpu", "gpu": None, "cpu_count": 2},
                   "options": {"format": ["onnx"], "batch": 1}},
}


@pytest.mark.parametrize("record", list(FILES), ids=lambda r: r.__name__)
def test_each_file_reads_back_as_written(record, tmp_path):
    record.path(tmp_path).write_text(json.dumps(FILES[record], indent=2))
    read = record.read(tmp_path)
    assert read.to_json() == FILES[record]  # same keys, same values: today's files still read
    (tmp_path / "copy").mkdir()
    read.write(tmp_path / "copy")
    assert json.loads(record.path(tmp_path / "copy").read_text()) == FILES[record]
    assert record.read(tmp_path / "copy") == read


def test_a_key_the_writer_left_out_stays_out(tmp_path):
    """A classify run has no mAP keys and a run without `weights:` no transfer counts: absent, not null."""
    metrics = Metrics(top1=0.8, top5=1.0, time_per_epoch_s=None, frozen_layers=0, params_trainable=5,
                      params_total=5)
    metrics.write(tmp_path)
    assert json.loads((tmp_path / "metrics.json").read_text()) == {
        "top1": 0.8, "top5": 1.0, "time_per_epoch_s": None, "frozen_layers": 0, "params_trainable": 5,
        "params_total": 5}
    assert Metrics.read(tmp_path).map50 is None and Metrics.read(tmp_path).headline() == "top1 0.8  top5 1.0"


def test_the_report_figures_are_fields_of_the_record():
    assert set(FIGURES) <= set(Figures.model_fields)
    assert StageSummary.model_validate(STAGE).figures() == {k: v for k, v in STAGE.items() if k in Figures.model_fields}


def test_a_status_with_an_entry_it_does_not_know_keeps_it(tmp_path):
    """A newer writer's key is read and written again unchanged."""
    (tmp_path / "status.json").write_text(json.dumps({**FILES[PointStatus], "host": {"name": "n1"}}))
    status = PointStatus.read(tmp_path)
    assert not status.ok and status.model_extra == {"host": {"name": "n1"}}
    status.write(tmp_path)
    assert json.loads((tmp_path / "status.json").read_text())["host"] == {"name": "n1"}
    (tmp_path / "status.json").write_text('{"returncode": 0}')  # as little as a report needs
    assert PointStatus.read(tmp_path).ok


def test_the_marker_kind_is_always_written(tmp_path):
    SweepFile(base={"name": "s"}, base_dir="/r").write(tmp_path)
    assert json.loads((tmp_path / "sweep.json").read_text())["kind"] == "roadtune-sweep"
    (tmp_path / "sweep.json").write_text('{"kind": "other", "base": {}, "base_dir": "/r"}')
    with pytest.raises(UserError, match="sweep.json: the sweep file is not one roadtune writes \\(kind: Input"):
        SweepFile.read(tmp_path)


def test_a_failing_write_leaves_the_old_file(tmp_path, monkeypatch):
    old = Metrics(map50_95=0.4, frozen_layers=0, params_trainable=5, params_total=5)
    old.write(tmp_path)
    before = (tmp_path / "metrics.json").read_bytes()
    unwritable = Metrics(map50_95=0.5, frozen_layers=0, params_trainable=5, params_total=5, note=object())
    with pytest.raises(Exception, match="object"):  # not JSON: refused before the file is touched
        unwritable.write(tmp_path)

    def crash(*args):  # the process dies (or the disk fills) between writing and renaming
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        Metrics(map50_95=0.5, frozen_layers=0, params_trainable=5, params_total=5).write(tmp_path)
    assert (tmp_path / "metrics.json").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"], "no half-written file left"


@pytest.mark.parametrize(("text", "cause"), [
    (None, "metrics file not found: "),
    ('{"map50_95": 0.3,', "metrics.json: the metrics file is not valid JSON (line 1"),
    ("[1, 2]", "metrics.json: the metrics file is not a mapping but list"),
    ('{"map50_95": 0.3}', "not one roadtune writes (missing frozen_layers, params_trainable, params_total)"),
    ('{"map50_95": "high", "frozen_layers": 0, "params_trainable": 1, "params_total": 1, "stages": [{}]}',
     "(missing stages.0.name; map50_95: Input should be a valid number"),
])
def test_a_file_that_is_not_the_record_is_a_clear_error(tmp_path, text, cause):
    if text is not None:
        (tmp_path / "metrics.json").write_text(text)
    with pytest.raises(UserError) as caught:
        Metrics.read(tmp_path)
    assert cause in str(caught.value) and str(tmp_path / "metrics.json") in str(caught.value)


def test_final_weights_are_the_last_stages_best(tmp_path):
    metrics = Metrics.model_validate(FILES[Metrics])
    assert metrics.final_weights(tmp_path) == tmp_path / "stages" / "head" / "weights" / "best.pt"
    with pytest.raises(UserError, match="lists no stage"):
        Metrics(frozen_layers=0, params_trainable=1, params_total=1).final_weights(tmp_path)


def test_readers_get_typed_values_down_to_the_leaves():
    record = ExportRecord.model_validate(FILES[ExportRecord])
    assert (record.latency_ms.total.median, record.pytorch.throughput.images_per_s) == (12.5, 96.4)
    assert Path(record.weights).name == "best.pt"


@pytest.mark.parametrize("metrics, line", [
    ({"map50": 0.5, "map50_95": 0.25, "precision": 1}, "map50 0.5  map50_95 0.25"),
    ({"top1": 0.9, "top5": 1.0, "map50": 0.1}, "top1 0.9  top5 1.0")])
def test_headline_names_the_tasks_accuracy_figures(metrics, line):
    assert Figures(**metrics).headline() == line


def test_a_point_a_search_stopped_is_no_failure(tmp_path):
    stopped = {"epoch": 4, "rung": 1, "metric": "map50_95", "value": 0.05, "max_epochs": 12}
    PointStatus(point="p", returncode=None, wall_s=30.0, stopped=stopped).write(tmp_path)
    status = PointStatus.read(tmp_path)
    assert status.ok and status.returncode is None and status.stopped == stopped
