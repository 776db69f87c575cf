"""Per-image records made by hand for the interval tests: images with targets, and predictions whose true
positives follow a chosen hit rate, so that two record sets differ by a known margin."""

from __future__ import annotations

import numpy as np

from pipeline.evaluation.per_image import IOU_THRESHOLDS, PerImage


def made_record(images: int, hit_rate: float, seed: int, classes: int = 3, per_image: int = 4,
                jitter: int | None = None) -> PerImage:
    """`images` images with `per_image` targets each; one prediction per target, a hit with probability `hit_rate`
    (hits at IoU 0.5 and, nested, at the stricter thresholds), plus one false positive per image; confidences
    higher for hits, so AP follows the hit rate. Records of the same `seed` share their targets and draws (a
    higher hit rate hits a superset: paired models); `jitter` redraws the confidences (a model's own noise)."""
    rng = np.random.default_rng(seed)
    n = images * per_image
    target_img = np.repeat(np.arange(images), per_image).astype(np.int32)
    target_cls = rng.integers(0, classes, n).astype(np.int16)
    hit = rng.random(n) < hit_rate
    strict = np.sort(rng.random((n, IOU_THRESHOLDS)), axis=1) < 0.8  # hits thin out at stricter IoU
    tp = hit[:, None] & strict
    tp = np.concatenate([tp, np.zeros((images, IOU_THRESHOLDS), bool)])
    own = rng if jitter is None else np.random.default_rng([seed, jitter])
    conf = np.concatenate([np.where(hit, 0.5 + 0.5 * own.random(n), 0.6 * own.random(n)), 0.3 * own.random(images)])
    return PerImage("detect", np.array([f"{i:05d}.jpg" for i in range(images)]),
                    pred_img=np.concatenate([target_img, np.arange(images)]).astype(np.int32),
                    conf=conf.astype(np.float32),
                    pred_cls=np.concatenate([target_cls, rng.integers(0, classes, images)]).astype(np.int16),
                    tp=tp, target_img=target_img, target_cls=target_cls)
