"""The decode / infer / consume pipeline: results come in frame order, grouped in batches of the given size; a
failure in decoding or in inference reaches the caller; a caller that stops early stops both threads. The
inference here is a plain function of the frames (the video tests run it with a model)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from pipeline.video.stream import Pipeline


def frames(n: int, skip: tuple[int, ...] = ()):
    """(index, image) with the index written into the pixels; `skip`: indices left out (frames that failed)."""
    for i in range(n):
        if i not in skip:
            yield i, np.full((4, 6, 3), i, np.uint8)


def test_results_come_in_frame_order_in_batches_of_the_given_size():
    batches = []

    def infer(images):
        batches.append(len(images))
        return [int(image[0, 0, 0]) * 10 for image in images]

    pipeline = Pipeline(frames(11, skip=(4, 5)), infer, batch=4)
    assert list(pipeline) == [(i, i * 10) for i in range(11) if i not in (4, 5)]
    assert batches == [4, 4, 1] and pipeline.infer_seconds >= 0


def test_no_frames_give_no_results_and_no_inference():
    calls = []
    assert list(Pipeline(iter([]), lambda images: calls.append(images) or [], batch=3)) == [] and calls == []


def test_a_decoding_failure_reaches_the_caller_after_the_frames_before_it():
    def broken():
        yield from frames(3)
        raise OSError("decoder lost the stream")

    got = []
    with pytest.raises(OSError, match="decoder lost the stream"):
        for item in Pipeline(broken(), lambda images: [image.shape for image in images], batch=2):
            got.append(item[0])
    assert got == [0, 1]  # the last, incomplete batch is never inferred


def test_an_inference_failure_reaches_the_caller():
    def infer(images):
        if int(images[0][0, 0, 0]) >= 4:
            raise RuntimeError("out of memory")
        return list(range(len(images)))

    with pytest.raises(RuntimeError, match="out of memory"):
        list(Pipeline(frames(20), infer, batch=2))


def test_a_caller_that_stops_early_stops_both_threads():
    before = threading.active_count()
    produced = []

    def endless():
        i = 0
        while True:
            produced.append(i)
            yield i, np.zeros((2, 2, 3), np.uint8)
            i += 1

    results = iter(Pipeline(endless(), lambda images: [None] * len(images), batch=2, depth=1))
    for index, _ in results:
        if index == 5:
            break
    results.close()  # what dropping the loop does: the pipeline's finally stops and joins its threads
    assert threading.active_count() == before
    # bounded queues: decoding ran at most a few batches ahead (2 frames decoded, 1 batch inferred, 1 in each hand)
    assert len(produced) <= 6 + 2 + 2 + 2 + 2
