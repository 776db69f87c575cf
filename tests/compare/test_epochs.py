"""What points recorded per epoch, read from their folders: scores over stages, rows being written, stops."""

from __future__ import annotations

import json

from pipeline.compare.epochs import is_done, recorded_scores, stop_record


def test_recorded_scores_follow_the_stages_and_skip_a_row_being_written(tmp_path):
    header = "epoch,time,metrics/mAP50-95(B),val/box_loss,val/cls_loss,val/dfl_loss\n"
    (tmp_path / "stages/head").mkdir(parents=True)
    (tmp_path / "stages/full").mkdir(parents=True)
    (tmp_path / "stages/head/results.csv").write_text(header + "1,1,0.1,1,1,1\n2,2,0.2,1,1,0.5\n2,2,0.25,1,1,0.5\n")
    (tmp_path / "stages/full/results.csv").write_text(header + "1,1,0.3,0.5,0.5,0.5\n2,2,0.4,0.1,0.1,0.1")
    stages = [("head", 2), ("full", 2)]
    assert recorded_scores(tmp_path, stages, "map50_95") == [0.1, 0.25, 0.3]  # a resume's repeated row: the last
    assert recorded_scores(tmp_path, stages, "val_loss") == [3.0, 2.5, 1.5]
    assert recorded_scores(tmp_path, [("full", 2), ("head", 2)], "map50_95") == [0.3]  # full unfinished: stop there


def test_a_stopped_point_is_done_and_says_where(tmp_path):
    assert not is_done(tmp_path) and stop_record(tmp_path) is None
    stopped = {"epoch": 4, "rung": 1, "metric": "map50_95", "value": 0.05, "max_epochs": 12}
    (tmp_path / "status.json").write_text(json.dumps({"point": "p", "returncode": None, "stopped": stopped}))
    assert is_done(tmp_path) and stop_record(tmp_path) == stopped
