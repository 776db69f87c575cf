"""The input clip: what probing finds (frames, fps, size) or why it refuses the file, and the frame reader (frame
indices, max_frames, frames that fail to decode counted, a truncated file's lost frames counted). No model."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.errors import UserError
from pipeline.video.source import MAX_FAILED_IN_A_ROW, FrameReader, VideoInfo, probe


def write_clip(path: Path, frames: int = 6, size: tuple[int, int] = (64, 48), fps: float = 10.0,
               fourcc: str = "MJPG") -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, size)
    for i in range(frames):
        writer.write(np.full((size[1], size[0], 3), 20 * i, np.uint8))
    writer.release()
    return path


def blank_frames(path: Path, frames: list[int]) -> None:
    """Zero out whole frames of an MJPG AVI (one JPEG per frame): they fail to decode."""
    data = bytearray(path.read_bytes())
    starts = [i for i in range(len(data) - 1) if data[i:i + 2] == b"\xff\xd8"]
    for k in frames:
        end = data.index(b"\xff\xd9", starts[k]) + 2
        data[starts[k]:end] = bytes(end - starts[k])
    path.write_bytes(bytes(data))


def test_probe_describes_the_clip(tmp_path):
    path = write_clip(tmp_path / "a.avi", frames=6, size=(64, 48), fps=12.0)
    assert probe(path) == VideoInfo(path=path, frames=6, fps=12.0, width=64, height=48)
    assert probe(str(path)).path == path  # a text path is accepted


def test_probe_refuses_what_is_no_usable_video(tmp_path):
    (tmp_path / "notes.mp4").write_text("not a video at all\n")
    (tmp_path / "frame.jpg").write_bytes(cv2.imencode(".jpg", np.zeros((8, 8, 3), np.uint8))[1].tobytes())
    cv2.VideoWriter(str(tmp_path / "empty.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48)).release()
    (tmp_path / "folder.mp4").mkdir()
    cases = {"absent.mp4": "video not found", "folder.mp4": "video not found", "frame.jpg": "not a video file",
             "notes.mp4": "not a video (OpenCV finds no video stream in it)", "empty.avi": "no decodable frames"}
    for name, message in cases.items():
        with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
            probe(tmp_path / name)


def test_frames_are_read_in_order_with_their_index(tmp_path):
    reader = FrameReader(probe(write_clip(tmp_path / "a.avi", frames=5)))
    got = [(index, int(frame.mean() + 0.5)) for index, frame in reader]
    assert [i for i, _ in got] == [0, 1, 2, 3, 4] and got[0][1] < got[-1][1]
    assert (reader.decoded, reader.skipped, reader.limit) == (5, 0, 5) and reader.seconds > 0


@pytest.mark.parametrize("max_frames, frames_read", [(3, 3), (50, 5), (None, 5)])
def test_max_frames_stops_early_and_never_reads_past_the_clip(tmp_path, max_frames, frames_read):
    reader = FrameReader(probe(write_clip(tmp_path / "a.avi", frames=5)), max_frames=max_frames)
    assert len(list(reader)) == frames_read == reader.decoded


def test_frames_failing_to_decode_are_skipped_counted_and_keep_their_time(tmp_path):
    path = write_clip(tmp_path / "damaged.avi", frames=8)
    blank_frames(path, [3, 4])
    reader = FrameReader(probe(path))
    assert [index for index, _ in reader] == [0, 1, 2, 5, 6, 7]
    assert (reader.decoded, reader.skipped) == (6, 2)


def test_a_truncated_file_counts_its_lost_frames_as_skipped(tmp_path):
    path = write_clip(tmp_path / "cut.avi", frames=8)
    info = probe(path)
    cut = FrameReader(VideoInfo(path, MAX_FAILED_IN_A_ROW + 20, info.fps, info.width, info.height))
    assert len(list(cut)) == 8 and (cut.decoded, cut.skipped) == (8, MAX_FAILED_IN_A_ROW + 12)


def test_a_stream_of_unknown_length_ends_at_its_first_failed_read(tmp_path):
    path = write_clip(tmp_path / "a.avi", frames=8)
    blank_frames(path, [3])
    reader = FrameReader(VideoInfo(path, 0, 10.0, 64, 48))
    assert [index for index, _ in reader] == [0, 1, 2] and (reader.limit, reader.skipped) == (None, 0)
