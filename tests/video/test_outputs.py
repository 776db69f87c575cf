"""The video demo's output folder: a used --out gets a numbered sibling, detections.csv and annotated.mp4 are written
under temporary names and renamed on commit with summary.json last, a failed run leaves nothing that looks like a
result; a segment model's rows carry each mask's area and its masks are drawn blended in their class colour.
Results are Ultralytics' own Results objects built from known boxes and masks (no model)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from ultralytics.engine.results import Results
from ultralytics.utils.plotting import colors

from pipeline.errors import UserError
from pipeline.video.outputs import CSV_COLUMNS, Outputs, annotate, claim_out_dir, csv_columns, mask_areas
from pipeline.video.source import VideoInfo

W, H, FPS = 64, 48, 10.0
NAMES = {0: "car", 1: "pedestrian"}


def result(rows: list[list[float]]) -> Results:
    """One frame's Results: rows of x1, y1, x2, y2, conf, cls (or x1, y1, x2, y2, track id, conf, cls)."""
    image = np.full((H, W, 3), 90, np.uint8)
    boxes = torch.tensor(rows, dtype=torch.float32) if rows else torch.zeros((0, 6))
    return Results(image, path="clip.mp4", names=NAMES, boxes=boxes)


def seg_result(rows: list[list[float]], masks: np.ndarray, size: tuple[int, int] = (W, H)) -> Results:
    """One frame of a segment model: boxes as in :func:`result`, one 0/1 mask per box (at any size, as predicted)."""
    image = np.full((size[1], size[0], 3), 90, np.uint8)
    return Results(image, path="clip.mp4", names=NAMES, boxes=torch.tensor(rows, dtype=torch.float32),
                   masks=torch.as_tensor(masks, dtype=torch.uint8))


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


def test_a_segment_models_rows_add_each_instances_mask_area_in_frame_pixels(tmp_path):
    at_frame_size = np.zeros((2, H, W), np.uint8)
    at_frame_size[0, 2:12, 1:11] = 1  # 100 px
    at_frame_size[1, 30:35, 20:27] = 1  # 35 px
    letterboxed = np.zeros((1, 32, 32), np.uint8)  # a 64x48 frame at imgsz 32: gain 0.5, content rows 4-27
    letterboxed[0, 10:12, 5:10] = 1  # 10 px of content, 4 frame px each
    letterboxed[0, 0:2, 0:3] = 1  # in the letterbox's padding: never drawn, not counted
    out = tmp_path / "out"
    with Outputs(out, info(tmp_path), save_video=False, task="segment") as outputs:
        outputs.write(0, seg_result([[1, 2, 11, 12, 0.9, 0], [20, 30, 27, 35, 0.6, 1]], at_frame_size), fps=30.0)
        outputs.write(1, result([]), fps=30.0)  # no instances: Ultralytics gives no mask stack
        outputs.write(2, seg_result([[10, 8, 20, 16, 0.7, 0]], letterboxed), fps=30.0)
        outputs.commit({})
    with (out / "detections.csv").open() as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == csv_columns("segment") == [*CSV_COLUMNS, "mask_area_px"]
    assert [row[:2] + row[-1:] for row in rows[1:]] == [["0", "0.0", "100"], ["0", "0.0", "35"], ["2", "0.2", "40"]]
    assert rows[1][:-1] == ["0", "0.0", "", "0", "car", "0.9", "1.0", "2.0", "11.0", "12.0"]  # detect columns as ever
    assert csv_columns("detect") == CSV_COLUMNS and outputs.detections == {"car": 2, "pedestrian": 1}
    assert mask_areas(result([[1, 2, 11, 12, 0.9, 0]])) == [0]  # a box without a mask (a detect model's result)


def test_letterboxed_mask_areas_agree_with_the_pixels_ultralytics_draws():
    """A 1280x720 frame at imgsz 96: Ultralytics' masks are 96x64 (content 96x54 between 5-row bands of padding)."""
    from ultralytics.utils.ops import scale_masks

    masks = np.zeros((2, 64, 96), np.uint8)
    masks[0, 20:40, 30:70] = 1
    masks[1, 0:5] = masks[1, 59:] = 1  # padding only: never drawn
    masks[1, 5:8] = 1  # the content's first rows
    frame = seg_result([[400, 200, 900, 500, 0.9, 0], [0, 0, 1280, 40, 0.5, 1]], masks, size=(1280, 720))
    drawn = (scale_masks(frame.masks.data[None].float(), frame.orig_shape)[0] > 0.5).sum((1, 2)).tolist()
    assert np.allclose(mask_areas(frame), drawn, rtol=0.02), (mask_areas(frame), drawn)


def test_masks_are_drawn_filled_and_blended_in_their_class_colour_under_the_boxes():
    """The overlay of hand-made masks: each mask's pixels, and only those, are blended half and half with its class
    colour; boxes, labels and the FPS line are drawn as for a detect model."""
    boxes = [[10, 40, 70, 110, 0.9, 0], [90, 40, 150, 110, 0.8, 1]]
    masks = np.zeros((2, 120, 160), np.uint8)
    masks[0, 60:100, 20:60] = 1
    masks[1, 60:100, 100:140] = 1
    frame = seg_result(boxes, masks, size=(160, 120))
    drawn = annotate(frame, fps=25.0).astype(int)
    frame.masks = None  # the same frame as a detect model gives it: boxes alone
    boxes_only = annotate(frame, fps=25.0).astype(int)
    outside = masks.max(0) == 0
    assert np.abs(drawn - boxes_only)[outside].max() <= 1  # boxes, labels and FPS line unchanged (rounding aside)
    for mask, cls in zip(masks, (0, 1)):
        inside = drawn[mask.astype(bool)]
        blended = (np.full(3, 90) + np.array(colors(cls, True))) / 2
        assert np.abs(inside - blended).max() <= 1, f"class {cls}: {inside.min(0)}..{inside.max(0)} vs {blended}"
    assert not np.array_equal(*(drawn[m.astype(bool)][0] for m in masks)), "each class has its own colour"
