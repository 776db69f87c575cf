"""What a report's intervals cost: seconds per run for the default number of resamples, by val split size.

    python benchmarks/intervals.py [--images 50 500 5000] [--per-image 30 100] [--resamples 1000]

Each case is a per-image record of `images` val images with `per-image` predictions each (3 classes, 4 targets
per image, true positives nested over the IoU thresholds), as Ultralytics' validator leaves them: the time printed
is one run's resampled scores (pipeline.evaluation.bootstrap.replicate_scores), what the report pays per run of a
point, plus the exact AP of the whole split it is centred on. Run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from pipeline.evaluation.bootstrap import image_weights, replicate_scores
from pipeline.evaluation.intervals import RESAMPLES
from pipeline.evaluation.per_image import IOU_THRESHOLDS, PerImage


def record(images: int, per_image: int, seed: int = 0) -> PerImage:
    """A detection record: 4 targets per image, `per_image` predictions, the first ones the likelier hits."""
    rng = np.random.default_rng(seed)
    n = images * per_image
    conf = rng.random(n).astype(np.float32)
    hits = rng.random(n) < conf * 0.8
    strict = np.sort(rng.random((n, IOU_THRESHOLDS)), axis=1) < 0.85
    return PerImage("detect", np.array([f"{i:06d}.jpg" for i in range(images)]),
                    pred_img=np.repeat(np.arange(images), per_image).astype(np.int32), conf=conf,
                    pred_cls=rng.integers(0, 3, n).astype(np.int16), tp=hits[:, None] & strict,
                    target_img=np.repeat(np.arange(images), 4).astype(np.int32),
                    target_cls=rng.integers(0, 3, images * 4).astype(np.int16))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, nargs="+", default=[50, 500, 5000])
    parser.add_argument("--per-image", type=int, nargs="+", default=[30, 100])
    parser.add_argument("--resamples", type=int, default=RESAMPLES)
    opts = parser.parse_args()
    print("| val images | predictions per image | predictions | resamples | seconds per run |\n"
          "| ---: | ---: | ---: | ---: | ---: |")
    for images in opts.images:
        for per_image in opts.per_image:
            made = record(images, per_image)
            start = time.perf_counter()
            replicate_scores(made, "map50_95", image_weights(images, opts.resamples, seed=0))
            seconds = time.perf_counter() - start
            print(f"| {images:,} | {per_image} | {len(made.conf):,} | {opts.resamples} | {seconds:.2f} |", flush=True)


if __name__ == "__main__":
    main()
