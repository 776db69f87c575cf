"""Open and check the input clip, then decode it frame by frame, counting frames that fail to decode."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from pipeline.errors import UserError

# A run of failed reads this long means the stream has ended (e.g. a truncated file), not one bad frame.
MAX_FAILED_IN_A_ROW = 50


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about the clip (frames is 0 when the container does not know)."""

    path: Path
    frames: int
    fps: float
    width: int
    height: int


def probe(path: Path) -> VideoInfo:
    """Check that ``path`` is a video with at least one decodable frame and describe it, else raise UserError."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"video not found: {path}")
    from pipeline.ultralytics_api import VID_FORMATS  # the suffixes Ultralytics itself treats as video

    if path.suffix.lower().lstrip(".") not in VID_FORMATS:
        raise UserError(f"not a video file: {path} (expected one of: {', '.join(sorted(VID_FORMATS))})")
    cap = cv2.VideoCapture(str(path))
    try:
        ok, frame = cap.read() if cap.isOpened() else (False, None)
        if not cap.isOpened():
            raise UserError(f"not a video (OpenCV finds no video stream in it): {path}")
        if not ok or frame is None:
            raise UserError(f"video has no decodable frames: {path}")
        fps = cap.get(cv2.CAP_PROP_FPS)
        return VideoInfo(path=path, frames=max(int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), 0),
                         fps=fps if np.isfinite(fps) and fps > 0 else 30.0,  # 30: Ultralytics' own fallback
                         width=frame.shape[1], height=frame.shape[0])
    finally:
        cap.release()


class FrameReader:
    """Iterate ``(frame_index, BGR image)`` over the clip; failed reads before the end are counted in ``skipped``.

    ``frame_index`` counts skipped frames too, so ``index / fps`` stays the frame's time in the clip.
    """

    def __init__(self, info: VideoInfo, max_frames: int | None = None) -> None:
        self.info = info
        limits = [n for n in (info.frames, max_frames) if n]
        self.limit = min(limits) if limits else None
        self.skipped = 0
        self.decoded = 0
        self.seconds = 0.0  # time spent decoding, for the summary's ms per frame

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        cap = cv2.VideoCapture(str(self.info.path))
        index, failed_in_a_row = 0, 0
        try:
            while self.limit is None or index < self.limit:
                start = time.perf_counter()
                ok, frame = cap.read()
                self.seconds += time.perf_counter() - start
                if ok:
                    failed_in_a_row = 0
                    self.decoded += 1
                    yield index, frame
                elif self.info.frames == 0:
                    break  # a stream of unknown length ends at its first failed read
                else:
                    failed_in_a_row += 1
                    if failed_in_a_row >= MAX_FAILED_IN_A_ROW:  # truncated file: the rest is lost, count it
                        self.skipped += self.limit - index
                        break
                    self.skipped += 1
                index += 1
        finally:
            cap.release()
