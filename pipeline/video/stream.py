"""Decode, batched inference and the caller's annotate+encode, overlapped with threads and bounded queues.

The plain ``for r in model.predict(video, stream=True)`` loop runs decode, inference and encode one after the
other; here each stage runs as soon as its input is ready, so the slowest stage alone sets the pace.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

Frame = tuple[int, np.ndarray]
_END = object()


class _Failed:
    """Carries a stage's exception to the caller, who re-raises it."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


class _Stopped(Exception):
    """Raised inside a stage when the caller has stopped the pipeline."""


class Pipeline:
    """Iterate ``(frame_index, result)`` in frame order while frames are decoded and inferred in two threads.

    ``infer`` maps a list of frames to one result per frame, in order (``YOLO.predict`` or ``YOLO.track``).
    Queues hold ``depth`` batches at most, so memory stays bounded whichever stage is slowest.
    """

    def __init__(self, frames: Iterable[Frame], infer: Callable[[list[np.ndarray]], list[Any]], batch: int,
                 depth: int = 2) -> None:
        self.frames, self.infer, self.batch = frames, infer, batch
        self.decoded: queue.Queue = queue.Queue(maxsize=depth * batch)
        self.inferred: queue.Queue = queue.Queue(maxsize=depth)
        self.stop = threading.Event()
        self.infer_seconds = 0.0  # time spent inside ``infer``, for the summary's ms per frame

    def __iter__(self) -> Iterator[tuple[int, Any]]:
        threads = [threading.Thread(target=self._stage, args=(iter(self.frames), self.decoded), daemon=True),
                   threading.Thread(target=self._stage, args=(self._batches(), self.inferred), daemon=True)]
        for thread in threads:
            thread.start()
        try:
            while (item := self.inferred.get()) is not _END:
                if isinstance(item, _Failed):
                    raise item.error
                yield from item
        finally:
            self.stop.set()  # unblocks both stages when the caller stops early or fails
            for thread in threads:
                thread.join()

    def _batches(self) -> Iterator[list[tuple[int, Any]]]:
        """Group decoded frames into batches of ``self.batch`` and run inference on each."""
        done = False
        while not done:
            batch: list[Frame] = []
            while len(batch) < self.batch:
                item = self._get(self.decoded)
                if item is _END:
                    done = True
                    break
                batch.append(item)
            if batch:
                start = time.perf_counter()
                results = self.infer([image for _, image in batch])
                self.infer_seconds += time.perf_counter() - start
                yield [(index, result) for (index, _), result in zip(batch, results)]

    def _stage(self, work: Iterator[Any], out: queue.Queue) -> None:
        """Thread body: move every item of ``work`` into ``out``, then the end mark or the failure."""
        try:
            for item in work:
                self._put(out, item)
            self._put(out, _END)
        except _Stopped:
            pass
        except BaseException as error:  # noqa: BLE001 - any failure must reach the caller, not die in the thread
            try:
                self._put(out, _Failed(error))
            except _Stopped:
                pass

    def _put(self, out: queue.Queue, item: Any) -> None:
        while not self.stop.is_set():
            try:
                out.put(item, timeout=0.1)
                return
            except queue.Full:
                continue
        raise _Stopped

    def _get(self, source: queue.Queue) -> Any:
        while not self.stop.is_set():
            try:
                item = source.get(timeout=0.1)
            except queue.Empty:
                continue
            if isinstance(item, _Failed):
                raise item.error
            return item
        raise _Stopped
