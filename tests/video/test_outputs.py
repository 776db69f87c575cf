"""The video demo's output folder: a used --out gets a numbered sibling, detections.csv and annotated.mp4 are written
under temporary names and renamed on commit with summary.json last, a failed run leaves nothing that looks like a
result. Results are Ultralytics' own Results objects built from known boxes (no model)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from ultralytics.engine.results import Results

from pipeline.errors import UserError
from pipeline.video.outputs import CSV_COLUMNS, Outputs, claim_out_dir
from pipeline.video.source import VideoInfo

W, H, FPS = 64, 48, 10.0
NAMES = {0: "car", 1: "pedestrian"}


def result(rows: list[list[float]]) -> Results:
    """One frame's Results: rows of x1, y1, x2, y2, conf, cls (or x1, y1, x2, y2, track id, conf, cls)."""
    image = np.full((H, W, 3), 90, np.uint8)
    boxes = torch.tensor(rows, dtype=torch.float32) if rows else torch.zeros((0, 6))
    return Results(image, path="clip.mp4", names=NAMES, boxes=boxes)


def info(tmp_path: Path) -> VideoInfo:
    return VideoInfo(tmp_path / "clip.mp4", frames=3, fps=FPS, width=W, height=H)


def test_an_absent_or_empty_out_is_used_and_a_used_one_gets_a_numbered_sibling(tmp_path):
    assert claim_out_dir(tmp_path / "new" / "out") == tmp_path / "new" / "out"
    (tmp_path / "empty").mkdir()
    assert claim_out_dir(tmp_path / "empty") == tmp_path / "empty"
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "summary.json").write_text("{}")
    assert claim_out_dir(tmp_path / "used") == tmp_path / "used-2"


def test_an_out_that_is_or_lies_under_a_file_is_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="--out is a file, not a folder"):
        claim_out_dir(tmp_path / "file")
    with pytest.raises(UserError, match=f"cannot create --out {tmp_path / 'file' / 'out'}: .* is a file, not a folder"):
        claim_out_dir(tmp_path / "file" / "out")


def test_detections_and_tracks_are_written_and_renamed_on_commit(tmp_path):
    out = tmp_path / "out"
    with Outputs(out, info(tmp_path), save_video=False) as outputs:
        outputs.write(0, result([[1, 2, 11, 12, 0.91234567, 0], [20, 5, 30, 40, 0.5, 1]]), fps=30.0)
        outputs.write(1, result([]), fps=30.0)
        outputs.write(2, result([[3, 4, 13, 14, 7, 0.8, 0]]), fps=30.0)  # tracked: id 7
        assert sorted(p.name for p in out.iterdir()) == ["detections.partial.csv"]
        outputs.commit({"frames": 3})
    with (out / "detections.csv").open() as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == CSV_COLUMNS
    assert rows[1:] == [["0", "0.0", "", "0", "car", "0.91235", "1.0", "2.0", "11.0", "12.0"],
                        ["0", "0.0", "", "1", "pedestrian", "0.5", "20.0", "5.0", "30.0", "40.0"],
                        ["2", "0.2", "7", "0", "car", "0.8", "3.0", "4.0", "13.0", "14.0"]]
    assert outputs.detections == {"car": 2, "pedestrian": 1} and outputs.tracks == {"car": {7}}
    assert sorted(p.name for p in out.iterdir()) == ["detections.csv", "summary.json"]
    assert json.loads((out / "summary.json").read_text()) == {"frames": 3}


@pytest.mark.parametrize("workers", [0, 2])
def test_every_frame_is_drawn_and_encoded_in_order(tmp_path, workers):
    out = tmp_path / "out"
    with Outputs(out, info(tmp_path), save_video=True, workers=workers) as outputs:
        for i in range(3):
            outputs.write(i, result([[5 + 10 * i, 5, 25 + 10 * i, 30, 0.9, 0]]), fps=12.5)
        outputs.commit({})
    cap = cv2.VideoCapture(str(out / "annotated.mp4"))
    frames = []
    while (got := cap.read())[0]:
        frames.append(got[1])
    cap.release()
    assert len(frames) == 3 and frames[0].shape == (H, W, 3) and outputs.seconds > 0
    assert sorted(p.name for p in out.iterdir()) == ["annotated.mp4", "detections.csv", "summary.json"]


def test_a_failed_run_removes_its_partial_files_and_the_folder_it_created(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="decoder died"):
        with Outputs(out, info(tmp_path), save_video=True, workers=0) as outputs:
            outputs.write(0, result([[1, 2, 11, 12, 0.9, 0]]), fps=10.0)
            raise RuntimeError("decoder died")
    assert not out.exists()


def test_a_failed_run_in_an_existing_folder_leaves_the_folder_and_its_files(tmp_path):
    (tmp_path / "notes.txt").write_text("keep")
    with pytest.raises(RuntimeError):
        with Outputs(tmp_path, info(tmp_path), save_video=False):
            raise RuntimeError("stopped")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
