"""Write annotated.mp4 and detections.csv under temporary names, and rename them only when the run completes.

``summary.json`` is written last, so a folder holding it is complete; a failed or interrupted run removes its
partial files and leaves nothing that looks like a result. Frames are drawn in a small pool of threads (OpenCV and
numpy release the GIL while they draw) and encoded in frame order as each one's drawing completes.
"""

from __future__ import annotations

import csv
import json
import os
import time
from collections import Counter, defaultdict, deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from pipeline.errors import UserError
from pipeline.video.source import VideoInfo

VIDEO, DETECTIONS, SUMMARY = "annotated.mp4", "detections.csv", "summary.json"
CSV_COLUMNS = ["frame", "time_s", "track_id", "class_id", "class_name", "conf", "x1", "y1", "x2", "y2"]
# A segment model's rows add each instance's mask area, last: the detect columns keep their names and order.
MASK_COLUMNS = ["mask_area_px"]
# Drawing a 960x540 frame takes ~3 ms and encoding it ~4 ms on a 2-core EPYC: a few workers keep drawing off the
# encoder's path where there are cores to spare (the GPU machine: 16). On 2 cores decode and inference already keep
# both busy: the pool and inline drawing measured the same there (640 px: 82% vs 81% of inference-only, 320 px: 53%
# vs 52%; docs/performance.md), so machines of up to 4 cores draw inline and spare the threads.
DRAW_WORKERS = min(4, (os.cpu_count() or 1) // 4) if (os.cpu_count() or 1) > 4 else 0


def claim_out_dir(out: Path) -> Path:
    """Return ``out``, or a numbered sibling (``out-2``...) when ``out`` exists and is not empty."""
    from pipeline.ultralytics_api import increment_path

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out is a file, not a folder: {out}")
    claimed = increment_path(out) if out.is_dir() and any(out.iterdir()) else out
    _check_writable(claimed)
    return claimed


def _check_writable(out: Path) -> None:
    """Raise UserError when ``out`` cannot be created or written in, before any work is done."""
    folder = out
    while not folder.exists():  # the nearest existing folder is the one that mkdir writes into
        folder = folder.parent
    if not folder.is_dir():
        raise UserError(f"cannot create --out {out}: {folder} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UserError(f"cannot write to --out {out}: permission denied on {folder}")


def _partial(name: str) -> str:
    """``annotated.mp4`` -> ``annotated.partial.mp4``: same extension, so OpenCV still picks the container."""
    stem, dot, ext = name.rpartition(".")
    return f"{stem}.partial{dot}{ext}"


def csv_columns(task: str) -> list[str]:
    """The header of ``detections.csv`` for a model of ``task`` (detect or segment)."""
    return CSV_COLUMNS + MASK_COLUMNS if task == "segment" else list(CSV_COLUMNS)


def mask_areas(result: Any) -> list[int]:
    """Each instance's mask area in pixels of the original frame, in the order of ``result.boxes``.

    Ultralytics keeps masks at the letterboxed inference size and upsamples them only to draw them: the pixels inside
    the letterbox's content are counted there and scaled by its gain, so no mask is upsampled for counting (masks
    predicted at the frame's size, ``retina_masks``, measured twice the inference time at 10 instances a frame).
    """
    if result.masks is None:  # a result without masks (a detect model's): nothing to count
        return [0] * len(result.boxes)
    data = result.masks.data
    (height, width), (frame_h, frame_w) = data.shape[1:], result.orig_shape
    gain = min(height / frame_h, width / frame_w)  # 1 for masks at the frame's own size
    content_h, content_w = max(round(frame_h * gain), 1), max(round(frame_w * gain), 1)
    # the letterbox's padding, cut where Ultralytics' scale_masks cuts it before drawing
    top, left = round((height - content_h) / 2 - 0.1), round((width - content_w) / 2 - 0.1)
    counts = data[:, top:top + content_h, left:left + content_w].sum((1, 2)).tolist()  # uint8 sums widen
    return [round(count / gain**2) for count in counts]


def annotate(result: Any, fps: float) -> np.ndarray:
    """Draw the result with Ultralytics' own annotator plus a running FPS.

    ``Results.plot`` draws a segment model's masks first, filled and alpha-blended (0.5) in their class colour,
    then every box with its class, confidence and track id in that colour; a detect model's frame has boxes alone.
    """
    from pipeline.ultralytics_api import Annotator

    annotator = Annotator(result.plot(color_mode="class"))  # class colours for masks too, also when tracked
    text = f"{fps:.1f} FPS"
    height = cv2.getTextSize(text, 0, annotator.sf, annotator.tf)[0][1] + 3
    annotator.text([4, height + 4], text, box_color=(0, 0, 0))
    return annotator.result()


def _timed_annotate(result: Any, fps: float) -> tuple[np.ndarray, float]:
    """:func:`annotate` in a draw worker, with its duration (summed by the encoder, so no shared counter)."""
    start = time.perf_counter()
    image = annotate(result, fps)
    return image, time.perf_counter() - start


class Outputs:
    """The run folder's files; use as a context manager and call :meth:`commit` with the summary at the end.

    ``workers`` threads draw frames (0: drawn inline); at most ``2 * workers`` drawn or drawing frames wait for the
    encoder. ``task`` is the model's: a segment model's CSV rows carry each instance's mask area.
    """

    def __init__(self, out_dir: Path, info: VideoInfo, save_video: bool, workers: int = DRAW_WORKERS,
                 task: str = "detect") -> None:
        self.dir, self.info, self.save_video, self.workers = Path(out_dir), info, save_video, workers
        self.task = task
        self.detections: Counter[str] = Counter()
        self.tracks: defaultdict[str, set[int]] = defaultdict(set)
        self.seconds = 0.0  # drawing (summed over the workers) and encoding, for the summary's ms per frame
        self._created = not self.dir.exists()
        self._committed = False
        self._video: cv2.VideoWriter | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._drawing: deque[Future] = deque()  # in frame order

    def __enter__(self) -> Outputs:
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            self._csv_file = open(self.dir / _partial(DETECTIONS), "w", newline="")
        except OSError as error:  # what _check_writable cannot foresee: a full disk, a race, a network share
            raise UserError(f"cannot write to --out {self.dir}: {error.strerror or error}") from None
        self._csv = csv.writer(self._csv_file)
        self._csv.writerow(csv_columns(self.task))
        if self.save_video:
            path = str(self.dir / _partial(VIDEO))
            size = (self.info.width, self.info.height)
            self._video = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), self.info.fps, size)
            if not self._video.isOpened():
                self.__exit__()
                raise UserError(f"OpenCV cannot write an mp4v video here: {path}")
            if self.workers:
                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="roadtune-draw")
        return self

    def write(self, index: int, result: Any, fps: float) -> None:
        """Add one frame: its detections to the CSV and its annotated image to the video."""
        self._write_rows(index, result)
        if self._pool is not None:
            self._drawing.append(self._pool.submit(_timed_annotate, result, fps))
            while self._drawing and (len(self._drawing) > 2 * self.workers or self._drawing[0].done()):
                self._encode_next()
        elif self._video is not None:  # no cores to spare: draw and encode inline
            self._encode(*_timed_annotate(result, fps))

    def _write_rows(self, index: int, result: Any) -> None:
        """One CSV row per instance (plus its mask area for a segment model), counted per class and track."""
        boxes, names = result.boxes, result.names
        if boxes is None or not len(boxes):
            return
        ids = boxes.id.int().tolist() if boxes.is_track else [None] * len(boxes)
        masks = [[area] for area in mask_areas(result)] if self.task == "segment" else [[]] * len(boxes)
        time_s = round(index / self.info.fps, 4)
        rows = zip(boxes.xyxy.tolist(), boxes.cls.int().tolist(), boxes.conf.tolist(), ids, masks)
        for box, cls, conf, track, mask in rows:
            self._csv.writerow([index, time_s, "" if track is None else track, cls, names[cls], round(conf, 5),
                                *(round(v, 2) for v in box), *mask])
            self.detections[names[cls]] += 1
            if track is not None:
                self.tracks[names[cls]].add(track)

    def flush(self) -> None:
        """Wait for the frames still drawing and encode them."""
        while self._drawing:
            self._encode_next()

    def _encode_next(self) -> None:
        """Encode the oldest frame, waiting for its drawing; a drawing's exception is raised here."""
        self._encode(*self._drawing.popleft().result())

    def _encode(self, image: np.ndarray, seconds: float) -> None:
        start = time.perf_counter()
        self._video.write(image)
        self.seconds += seconds + time.perf_counter() - start

    def commit(self, summary: dict[str, Any]) -> None:
        """Close the files, give them their final names, and write ``summary.json`` last."""
        self.flush()
        self._close()
        for name in (DETECTIONS, VIDEO) if self.save_video else (DETECTIONS,):
            os.replace(self.dir / _partial(name), self.dir / name)
        partial_summary = self.dir / _partial(SUMMARY)
        partial_summary.write_text(json.dumps(summary, indent=2) + "\n")
        os.replace(partial_summary, self.dir / SUMMARY)
        self._committed = True

    def _close(self) -> None:
        if self._pool is not None:  # after a failure, frames not yet drawing are dropped
            self._pool.shutdown(cancel_futures=True)
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
