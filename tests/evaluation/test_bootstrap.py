"""The weighted AP of a resample against Ultralytics' own ap_per_class, and the bootstrap's reproducibility."""

from __future__ import annotations

import numpy as np
from records import made_record

from pipeline.evaluation.bootstrap import DetectionScorer, image_weights, replicate_scores
from pipeline.evaluation.per_image import PerImage
from pipeline.ultralytics_api import ap_per_class


def _ultralytics_map(record: PerImage, pred: np.ndarray, target: np.ndarray) -> float:
    return float(ap_per_class(record.tp[pred], record.conf[pred], record.pred_cls[pred],
                              record.target_cls[target])[5].mean())


def test_all_weights_one_is_ap_per_class():
    record = made_record(images=60, hit_rate=0.6, seed=1)
    ours = DetectionScorer(record).ap(np.ones((1, record.n_images)))[0].mean()
    theirs = _ultralytics_map(record, np.arange(len(record.conf)), np.arange(len(record.target_cls)))
    assert 0.3 < theirs < 0.9 and abs(ours - theirs) < 1e-12  # the same sums, up to float rounding


def test_a_resample_is_ap_per_class_on_the_duplicated_images():
    record = made_record(images=40, hit_rate=0.5, seed=2)
    weights = image_weights(record.n_images, 3, seed=7)
    for row in weights:
        drawn = np.repeat(np.arange(record.n_images), row.astype(int))
        pred = np.concatenate([np.flatnonzero(record.pred_img == i) for i in drawn])
        target = np.concatenate([np.flatnonzero(record.target_img == i) for i in drawn])
        ours = DetectionScorer(record).ap(row[None])[0].mean()
        assert abs(ours - _ultralytics_map(record, pred, target)) < 1e-9


def test_binned_curves_stay_close_to_the_exact_ap():
    record = made_record(images=400, hit_rate=0.5, seed=3)  # 1,600 predictions: more than 200 bins per class
    exact = DetectionScorer(record, max_bins=10**6).ap(np.ones((1, record.n_images)))[0].mean()
    binned = DetectionScorer(record, max_bins=200)
    assert binned.binned
    assert abs(binned.ap(np.ones((1, record.n_images)))[0].mean() - exact) < 0.003
    # replicate_scores shifts binned replicates by the whole split's difference: exact again at weights 1
    assert abs(replicate_scores(record, "map50_95", np.ones((1, record.n_images)))[0] - exact) < 1e-12


def test_the_bootstrap_is_reproducible_under_a_fixed_seed():
    record = made_record(images=30, hit_rate=0.5, seed=4)
    first = replicate_scores(record, "map50_95", image_weights(record.n_images, 50, seed=11))
    again = replicate_scores(record, "map50_95", image_weights(record.n_images, 50, seed=11))
    other = replicate_scores(record, "map50_95", image_weights(record.n_images, 50, seed=12))
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)
    assert first.std() > 0.005  # resampling 30 images moves mAP by points, not by nothing


def test_classification_scores_are_weighted_accuracy():
    record = PerImage("classify", np.array(["a/1.jpg", "a/2.jpg", "b/3.jpg", "b/4.jpg"]),
                      top1=np.array([True, False, True, True]), top5=np.array([True, True, True, True]))
    weights = np.array([[1.0, 1, 1, 1], [2, 2, 0, 0], [0, 0, 4, 0]])
    assert replicate_scores(record, "top1", weights).tolist() == [0.75, 0.5, 1.0]
    assert replicate_scores(record, "top5", weights).tolist() == [1.0, 1.0, 1.0]
