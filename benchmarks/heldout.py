"""Finished runs scored on a held-out test split, image by image, with intervals: what benchmarks/label_efficiency.py
reports its rows on.

Each run's final weights are validated on the split once (Ultralytics' validator, with roadtune's per-image
recorder), the record cached under ``<work>/test-records/<run folder name>/``; the runs are never written to. Rows
are then compared with the report's bootstrap (pipeline.evaluation.intervals): each row's score with its 95 %
interval over the test images and its seeds, and its paired difference to a reference row (the same resampled
images and seeds for both).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from pipeline.evaluation.bootstrap import replicate_scores
from pipeline.evaluation.intervals import Settings, interval, replicates
from pipeline.evaluation.per_image import ImageRecorder, PerImage
from pipeline.records import Metrics
from pipeline.run_folder import per_image_file


def test_record(run_dir: Path, test_yaml: Path, work: Path) -> PerImage:
    """The run's final weights validated on `test_yaml`'s val split, image by image (cached in `work`)."""
    out = work / "test-records" / run_dir.name
    path = per_image_file(out, None)
    if not path.is_file():
        from ultralytics import YOLO

        recipe = yaml.safe_load((run_dir / "recipe.yaml").read_text())
        model = YOLO(str(Metrics.read(run_dir).final_weights(run_dir)))
        for event, fn in ImageRecorder(out, recipe["task"], per_epoch=False).callbacks().items():
            model.add_callback(event, fn)
        model.val(data=str(test_yaml), imgsz=recipe["train"].get("imgsz", 640), batch=16, plots=False,
                  device="cpu", verbose=False)
    return PerImage.load(path)


def compared(rows: dict[str, list[Path]], reference: dict[str, str], test_yaml: Path, work: Path,
             settings: Settings | None = None) -> dict[str, dict[str, object]]:
    """Per row (label -> its run folders, one per seed, named `...-<seed>`): its test score (mean over seeds), the
    95 % interval, and the paired interval of its difference to its reference row (`reference`: label -> label)."""
    settings = settings or Settings()
    records = {str(run): test_record(run, test_yaml, work) for runs in rows.values() for run in runs}
    found = replicates(records, "map50_95", settings)
    seeds = {label: {run.name.rsplit("-", 1)[-1]: str(run) for run in runs} for label, runs in rows.items()}
    shared = sorted(set.intersection(*(set(s) for s in seeds.values())))
    points = {label: found.point(by_seed, shared) for label, by_seed in seeds.items()}
    whole = {key: float(replicate_scores(r, "map50_95", np.ones((1, r.n_images)))[0]) for key, r in records.items()}
    out = {}
    for label, by_seed in seeds.items():
        ref = reference.get(label)
        delta = (interval((points[label] - points[ref]) * 100, settings.level) if ref and ref != label and
                 points[label] is not None and points[ref] is not None else None)
        out[label] = {"test": float(np.mean([whole[r] for r in by_seed.values()])),
                      "interval": interval(points[label], settings.level) if points[label] is not None else None,
                      "delta_vs": ref, "delta_interval": delta, "images": found.images}
    return out
