"""Teacher-labelled road footage (`distill.unlabeled`): frames the teacher labels once, added to the student's
train set.

Before the first student stage (a step of :mod:`pipeline.distill.plan`), the teacher predicts every kept frame (one
in ``every_n_frames`` of each video, every image of each folder; :mod:`pipeline.distill.teacher_labels`) and its
boxes at or above their class threshold become YOLO label files::

    <run>/pseudo/images/*.jpg         the frames (uncertain boxes painted grey with `ignore_conf`)
    <run>/pseudo/labels/*.txt         the teacher's labels (an empty file: a frame with nothing above threshold)
    <run>/pseudo/predictions.jsonl    every teacher box above the floor, with its confidence
    <run>/pseudo/teacher-val/         with `conf: f1`: the teacher's validation that set the thresholds
    <run>/pseudo/counts.json          thresholds, frames, boxes per class, the teacher's seconds (written last)
    <run>/pseudo/data.yaml            the run's dataset with `train` = its own train folders + pseudo/images

The student stages train on ``pseudo/data.yaml``; ``val`` is the dataset's own, so validation stays ground truth.
A resumed run reuses a complete cache; an incomplete one (no counts.json) is labelled again from scratch.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from pipeline.datasets.images import image_files
from pipeline.datasets.resolve import Dataset
from pipeline.distill.frames import extract_frames
from pipeline.distill.teacher_labels import (
    FLOOR,
    cache_file,
    class_thresholds,
    predict_frames,
    teacher_imgsz,
    write_labels,
)
from pipeline.recipe.distill import DistillConfig
from pipeline.records import PseudoCounts
from pipeline.run_folder import PSEUDO_DATA, PSEUDO_PREDICTIONS, TEACHER_VAL
from pipeline.textfile import read_text


def count_labels(labels: Path, names: dict[int, str]) -> dict[str, Any]:
    """Frames and boxes per class name, read back from the label files."""
    per_class = dict.fromkeys(names.values(), 0)
    files = sorted(labels.glob("*.txt"))
    empty = 0
    for txt in files:
        lines = [line for line in read_text(txt, "label file").splitlines() if line.strip()]
        empty += not lines
        for line in lines:
            per_class[names[int(line.split()[0])]] += 1
    return {"frames": len(files), "frames_without_boxes": empty, "boxes": sum(per_class.values()),
            "per_class": per_class}


LABELED_SHARE = 0.4  # labeled_repeats: auto aims at this share of labelled images per epoch


def resolve_repeats(repeats: int | str, labelled: int, frames: int) -> int:
    """`labeled_repeats` as a number: `auto` makes the labelled images about LABELED_SHARE of an epoch.

    >>> resolve_repeats("auto", 150, 724), resolve_repeats("auto", 300, 30000), resolve_repeats(2, 150, 724)
    (3, 67, 2)
    """
    if not isinstance(repeats, str):
        return repeats
    return max(1, round(LABELED_SHARE * frames / ((1 - LABELED_SHARE) * max(labelled, 1))))


def merged_data_yaml(dataset: Dataset, pseudo_images: Path, path: Path, labeled_repeats: int = 1) -> Path:
    """The dataset's YAML with the pseudo-labelled frames added to `train` (the labelled folders listed
    `labeled_repeats` times: Ultralytics keeps every listed image); absolute paths, `val` unchanged."""
    config = {k: v for k, v in dataset.config.items() if k not in ("path", "train", "val", "test")}
    config["train"] = [str(d) for d in dataset.split_dirs("train")] * labeled_repeats + [str(pseudo_images)]
    config["val"] = [str(d) for d in dataset.split_dirs("val")]
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def build_pseudo_set(folder: Path, teacher: Path, cfg: DistillConfig, sources: list[Path], dataset: Dataset,
                     imgsz: Any) -> PseudoCounts:
    """Label the sources with `teacher` into `folder` (skipped when the set is complete); the counts. The teacher
    labels at its own size (`imgsz`, the student's, when it has none); its predictions come from the cache where
    an earlier (or interrupted) labelling left them."""
    if PseudoCounts.path(folder).is_file():
        return PseudoCounts.read(folder)
    shutil.rmtree(folder, ignore_errors=True)  # an interrupted build: the frames may hold painted boxes already
    frames = extract_frames(sources, cfg.every_n_frames, folder / "images")
    size = teacher_imgsz(teacher, cfg.teacher_imgsz, imgsz)
    floor = min([FLOOR, *(v for v in (cfg.conf, cfg.ignore_conf) if isinstance(v, float))])
    cache = cache_file(teacher, sources, cfg.every_n_frames, size, floor)
    predicted = predict_frames(teacher, frames, size, floor, cache)
    shutil.copyfile(cache, folder / PSEUDO_PREDICTIONS)  # the run keeps what its teacher said
    thresholds = class_thresholds(cfg.conf, teacher, dataset.yaml_path, size, dataset.names, folder / TEACHER_VAL)
    ignored = write_labels(predicted["boxes"], thresholds, cfg.ignore_conf, folder / "images", folder / "labels")
    labelled = sum(len(image_files(d)) for d in dataset.split_dirs("train"))
    repeats = resolve_repeats(cfg.labeled_repeats, labelled, len(frames))
    merged_data_yaml(dataset, folder / "images", folder / PSEUDO_DATA, repeats)
    counts = PseudoCounts(
        teacher=str(teacher), conf=cfg.conf, ignore_conf=cfg.ignore_conf, labeled_repeats=repeats,
        labelled_frames=labelled, thresholds={dataset.names[i]: t for i, t in thresholds.items()},
        teacher_imgsz=size, every_n_frames=cfg.every_n_frames, sources=[str(s) for s in sources],
        **count_labels(folder / "labels", dataset.names), ignored_boxes=ignored,
        teacher_seconds=round(predicted["seconds"], 2),
        teacher_frames_per_s=round(len(frames) / max(predicted["seconds"], 1e-9), 2))
    counts.write(folder)
    return counts
