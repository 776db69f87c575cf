"""Scores of a per-image record under resampled val images: the bootstrap a report's intervals come from.

A resample draws the val images with replacement; drawing an image k times is the same as giving it weight k, so each
resample is a weight vector over the images (:func:`image_weights`) and the score is computed from the record's
per-image statistics, computed once, by weights. For detection that is Ultralytics' ``ap_per_class`` with every
prediction and target counted with its image's weight: the same sort by confidence, cumulative true and false
positives, recall over the (weighted) number of targets, the precision envelope and the 101-point interpolated area
of ``compute_ap``, averaged over the classes that have targets in the resample. With all weights 1 it is
``ap_per_class`` exactly (tests/evaluation checks it against Ultralytics); with weights it equals
``ap_per_class`` on the duplicated images up to the order of tied confidences.
"""

from __future__ import annotations

import numpy as np

from pipeline.evaluation.per_image import PerImage

RECALL_POINTS = np.linspace(0, 1, 101)  # compute_ap's "interp" method (Ultralytics 8.4.190)
EPS = 1e-16  # ap_per_class' eps on the number of targets


def image_weights(n_images: int, resamples: int, seed: int) -> np.ndarray:
    """`resamples` draws of `n_images` images with replacement, as counts per image (resamples x n_images)."""
    rng = np.random.default_rng(seed)
    return rng.multinomial(n_images, np.full(n_images, 1 / n_images), size=resamples).astype(np.float64)


MAX_BINS = 500  # predictions per class beyond this share a bin of consecutive ranks (see DetectionScorer)
CHUNK = 100  # resamples computed at once (memory: CHUNK x bins x 11 floats per class)


def _interp_rows(x: np.ndarray, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """np.interp(x, xp[r], fp[r]) for every row r at once (xp rows non-decreasing, x within [xp[r, 0], xp[r, -1]]):
    the same rule, the last xp <= x, its fp on an exact match, else the line to the next point."""
    rows, width = xp.shape
    span = max(float(xp.max()), float(x.max())) + 1.0
    offset = span * np.arange(rows)[:, None]  # rows apart on one sorted axis: one searchsorted for all of them
    found = np.searchsorted((xp + offset).ravel(), (x[None, :] + offset).ravel(), side="right").reshape(rows, -1)
    j = np.clip(found - 1 - width * np.arange(rows)[:, None], 0, width - 1)
    nxt = np.minimum(j + 1, width - 1)
    x0, x1 = np.take_along_axis(xp, j, 1), np.take_along_axis(xp, nxt, 1)
    y0, y1 = np.take_along_axis(fp, j, 1), np.take_along_axis(fp, nxt, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        line = y0 + (x[None, :] - x0) * (y1 - y0) / (x1 - x0)
    return np.where((x0 == x[None, :]) | (nxt == j), y0, line)


def _interpolated_ap(recall: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """compute_ap's 101-point interpolated area for each row (rows x points): its sentinels (recall 0 at precision
    1; the last recall and recall 1 at precision 0, so nothing is credited beyond the last recall), the precision
    envelope. As Ultralytics 8.4.190."""
    rows = recall.shape[0]
    last = recall[:, -1:] if recall.shape[1] else np.ones((rows, 1))
    mrec = np.concatenate([np.zeros((rows, 1)), recall, last, np.ones((rows, 1))], 1)
    mpre = np.concatenate([np.ones((rows, 1)), precision, np.zeros((rows, 2))], 1)
    mpre = np.flip(np.maximum.accumulate(np.flip(mpre, 1), 1), 1)
    return np.trapezoid(_interp_rows(RECALL_POINTS, mrec, mpre), RECALL_POINTS, axis=1)


class DetectionScorer:
    """mAP of one detection record under image weights (rows of a resamples x images matrix).

    Per class, its predictions are sorted once by confidence (ap_per_class' own sort) and each image's predictions
    are counted per rank bin (a sparse images x bins matrix of predictions and true positives per IoU threshold), so
    a resample's cumulative counts are one sparse product. A class with up to MAX_BINS predictions has one bin per
    prediction: ``ap_per_class`` exactly. Beyond, consecutive ranks share a bin, like tied confidences: the curve
    keeps MAX_BINS points (the interval's cost stays seconds for thousands of val images; the difference to the
    exact AP is measured in tests/evaluation).
    """

    def __init__(self, record: PerImage, masks: bool = False, max_bins: int = MAX_BINS) -> None:
        from scipy.sparse import csr_matrix

        tp = record.tp_m if masks else record.tp
        order = np.argsort(-record.conf)  # ap_per_class' own sort (not stable: ties as Ultralytics orders them)
        self.classes = np.unique(record.target_cls)
        self.binned = False  # some class has more predictions than bins
        self.counts = []
        for c in self.classes:
            index = order[record.pred_cls[order] == c]
            bins = min(len(index), max_bins)
            self.binned |= bins < len(index)
            rank_bin = np.arange(len(index)) * bins // max(len(index), 1)
            hits = np.concatenate([np.ones((len(index), 1)), tp[index]], 1)  # column 0 counts predictions
            columns = (rank_bin[:, None] * 11 + np.arange(11)).ravel()
            rows = np.repeat(record.pred_img[index], 11)
            self.counts.append(csr_matrix((hits.ravel(), (rows, columns)), shape=(record.n_images, bins * 11)))
        # targets per image and class (images x classes): a resample's target count is weights @ this
        self.targets = np.zeros((record.n_images, len(self.classes)))
        np.add.at(self.targets, (record.target_img, np.searchsorted(self.classes, record.target_cls)), 1)

    def _class_ap(self, counts: object, weights: np.ndarray, n_targets: np.ndarray) -> np.ndarray:
        """AP per IoU threshold of one class under each row of `weights` (rows x 10); NaN where it has no targets."""
        rows = len(weights)
        cumulative = np.cumsum((counts.T @ weights.T).T.reshape(rows, -1, 11), axis=1)  # counts is csr
        seen, hits = cumulative[:, :, 0], cumulative[:, :, 1:]
        recall = hits / (n_targets[:, None, None] + EPS)
        # before an image drawn at least once contributes, precision is the envelope's own 1 (nothing seen yet)
        precision = np.divide(hits, seen[:, :, None], out=np.ones_like(hits), where=seen[:, :, None] > 0)
        flat = _interpolated_ap(recall.transpose(0, 2, 1).reshape(rows * 10, -1),
                                precision.transpose(0, 2, 1).reshape(rows * 10, -1)).reshape(rows, 10)
        flat[seen[:, -1] <= 0] = 0.0  # no prediction drawn: ap_per_class leaves AP at 0
        flat[n_targets <= 0] = np.nan  # no target drawn: the class is not in this resample's mean
        return flat

    def ap(self, weights: np.ndarray) -> np.ndarray:
        """AP per IoU threshold, averaged over the classes with targets, for each row of `weights` (rows x 10)."""
        out = []
        for start in range(0, len(weights), CHUNK):
            chunk = weights[start:start + CHUNK]
            n_targets = chunk @ self.targets
            per_class = [self._class_ap(m, chunk, n_targets[:, i]) if m.shape[1] else
                         np.where(n_targets[:, i:i + 1] > 0, 0.0, np.nan) * np.ones((len(chunk), 10))
                         for i, m in enumerate(self.counts)]
            with np.errstate(all="ignore"):
                out.append(np.nanmean(np.stack(per_class), axis=0) if per_class else np.full((len(chunk), 10), np.nan))
        return np.concatenate(out)


def replicate_scores(record: PerImage, score: str, weights: np.ndarray) -> np.ndarray:
    """`score` (map50_95, map50, mask_map50_95, mask_map50, top1, top5) of `record` under each row of `weights`."""
    if record.task == "classify":
        correct = (record.top1 if score == "top1" else record.top5).astype(np.float64)
        return weights @ correct / weights.sum(1)
    masks = score.startswith("mask_")
    scorer = DetectionScorer(record, masks)
    aps = scorer.ap(weights)
    if scorer.binned:  # shift by the binning's own difference on the whole val split, so the interval is centred
        whole = np.ones((1, record.n_images))  # where the exact ap_per_class is
        aps += DetectionScorer(record, masks, max_bins=len(record.conf)).ap(whole) - scorer.ap(whole)
    return aps[:, 0] if score.endswith("map50") else aps.mean(1)
