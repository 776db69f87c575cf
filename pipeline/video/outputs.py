"""Write annotated.mp4 and detections.csv under temporary names, and rename them only when the run completes.

``summary.json`` is written last, so a folder holding it is complete; a failed or interrupted run removes its
partial files and leaves nothing that looks like a result.
"""

from __future__ import annotations

import csv
import json
import os
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from pipeline.errors import UserError
from pipeline.video.source import VideoInfo

VIDEO, DETECTIONS, SUMMARY = "annotated.mp4", "detections.csv", "summary.json"
CSV_COLUMNS = ["frame", "time_s", "track_id", "class_id", "class_name", "conf", "x1", "y1", "x2", "y2"]


def claim_out_dir(out: Path) -> Path:
    """Return ``out``, or a numbered sibling (``out-2``...) when ``out`` exists and is not empty."""
    from ultralytics.utils.files import increment_path

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out is a file, not a folder: {out}")
    return increment_path(out) if out.is_dir() and any(out.iterdir()) else out


def _partial(name: str) -> str:
    """``annotated.mp4`` -> ``annotated.partial.mp4``: same extension, so OpenCV still picks the container."""
    stem, dot, ext = name.rpartition(".")
    return f"{stem}.partial{dot}{ext}"


def annotate(result: Any, fps: float) -> np.ndarray:
    """Draw the result with Ultralytics' own annotator (boxes, masks, class, conf, track id) plus a running FPS."""
    from ultralytics.utils.plotting import Annotator

    annotator = Annotator(result.plot())
    text = f"{fps:.1f} FPS"
    height = cv2.getTextSize(text, 0, annotator.sf, annotator.tf)[0][1] + 3
    annotator.text([4, height + 4], text, box_color=(0, 0, 0))
    return annotator.result()


class Outputs:
    """The run folder's files; use as a context manager and call :meth:`commit` with the summary at the end."""

    def __init__(self, out_dir: Path, info: VideoInfo, save_video: bool) -> None:
        self.dir, self.info, self.save_video = Path(out_dir), info, save_video
        self.detections: Counter[str] = Counter()
        self.tracks: defaultdict[str, set[int]] = defaultdict(set)
        self._created = not self.dir.exists()
        self._committed = False
        self._video: cv2.VideoWriter | None = None

    def __enter__(self) -> Outputs:
        self.dir.mkdir(parents=True, exist_ok=True)
        self._csv_file = open(self.dir / _partial(DETECTIONS), "w", newline="")
        self._csv = csv.writer(self._csv_file)
        self._csv.writerow(CSV_COLUMNS)
        if self.save_video:
            path = str(self.dir / _partial(VIDEO))
            size = (self.info.width, self.info.height)
            self._video = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), self.info.fps, size)
            if not self._video.isOpened():
                self.__exit__()
                raise UserError(f"OpenCV cannot write an mp4v video here: {path}")
        return self

    def write(self, index: int, result: Any, fps: float) -> None:
        """Add one frame: its detections to the CSV and its annotated image to the video."""
        boxes, names = result.boxes, result.names
        if boxes is not None and len(boxes):
            ids = boxes.id.int().tolist() if boxes.is_track else [None] * len(boxes)
            time_s = round(index / self.info.fps, 4)
            for box, cls, conf, track in zip(boxes.xyxy.tolist(), boxes.cls.int().tolist(), boxes.conf.tolist(), ids):
                self._csv.writerow([index, time_s, "" if track is None else track, cls, names[cls], round(conf, 5),
                                    *(round(v, 2) for v in box)])
                self.detections[names[cls]] += 1
                if track is not None:
                    self.tracks[names[cls]].add(track)
        if self._video is not None:
            self._video.write(annotate(result, fps))

    def commit(self, summary: dict[str, Any]) -> None:
        """Close the files, give them their final names, and write ``summary.json`` last."""
        self._close()
        for name in (DETECTIONS, VIDEO) if self.save_video else (DETECTIONS,):
            os.replace(self.dir / _partial(name), self.dir / name)
        partial_summary = self.dir / _partial(SUMMARY)
        partial_summary.write_text(json.dumps(summary, indent=2) + "\n")
        os.replace(partial_summary, self.dir / SUMMARY)
        self._committed = True

    def _close(self) -> None:
        self._csv_file.close()
        if self._video is not None:
            self._video.release()

    def __exit__(self, *exc: object) -> None:
        if self._committed:
            return
        self._close()
        for name in (VIDEO, DETECTIONS, SUMMARY):
            (self.dir / _partial(name)).unlink(missing_ok=True)
        if self._created and not any(self.dir.iterdir()):
            self.dir.rmdir()
