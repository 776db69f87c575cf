"""Teacher-labelled road footage (`distill.unlabeled`): frames the teacher labels once, added to the student's
train set.

Before the first student stage, the teacher predicts every kept frame (one in ``every_n_frames`` of each video, every
image of each folder) and its boxes above ``conf`` become YOLO label files::

    <run>/pseudo/images/*.jpg     the frames
    <run>/pseudo/labels/*.txt     the teacher's labels (an empty file: a frame with nothing above conf)
    <run>/pseudo/counts.json      frames, labelled boxes per class (written last: the cache is complete)
    <run>/pseudo/data.yaml        the run's dataset with `train` = its own train folders + pseudo/images

The student stages train on ``pseudo/data.yaml``; ``val`` is the dataset's own, so validation stays ground truth.
A resumed run reuses a complete cache; an incomplete one (no counts.json) is labelled again from scratch.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import yaml

from pipeline.datasets.resolve import Dataset
from pipeline.distill.config import DistillConfig
from pipeline.errors import UserError
from pipeline.run_folder import PSEUDO_COUNTS_FILE, PSEUDO_DATA
from pipeline.textfile import read_json, read_text

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
PREDICT_BATCH = 16  # frames per teacher call: bounds memory on long videos


def resolve_unlabeled(cfg: DistillConfig, base: Path) -> list[Path]:
    """The `unlabeled` sources as absolute paths (relative ones against the recipe's folder); one UserError naming
    each missing source or an image folder without images.
    """
    paths = [p if p.is_absolute() else (base / p).resolve() for p in map(Path, cfg.unlabeled)]
    problems = [f"not found: {p}" for p in paths if not p.exists()]
    problems += [f"folder without images ({', '.join(sorted(IMAGE_SUFFIXES))}): {p}" for p in paths
                 if p.is_dir() and not _images(p)]
    if problems:
        raise UserError(f"{len(problems)} of {len(paths)} unlabeled sources cannot be read", problems)
    return paths


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def extract_frames(sources: list[Path], every_n_frames: int, out: Path) -> list[Path]:
    """Write the kept frames as JPEGs under `out`: one in `every_n_frames` of each video, each image of a folder."""
    import cv2

    out.mkdir(parents=True, exist_ok=True)
    frames = []
    for k, src in enumerate(sources):
        if src.is_dir():
            for i, image in enumerate(_images(src)):
                frames.append(out / f"{k}_{src.name}_{i:06d}{image.suffix.lower()}")
                shutil.copyfile(image, frames[-1])  # a copy: Ultralytics reads labels beside `images/`
            continue
        video, index = cv2.VideoCapture(str(src)), 0
        while video.grab():  # grab every frame, decode into an image only the kept ones
            if index % every_n_frames == 0:
                frames.append(out / f"{k}_{src.stem}_{index:06d}.jpg")
                cv2.imwrite(str(frames[-1]), video.retrieve()[1])
            index += 1
        video.release()
    return frames


def label_frames(teacher: Path, frames: list[Path], labels: Path, conf: float, imgsz: Any) -> None:
    """The teacher's predictions on `frames` as YOLO label files in `labels` (Ultralytics' Results.save_txt)."""
    from ultralytics import YOLO

    labels.mkdir(parents=True, exist_ok=True)
    model = YOLO(str(teacher))
    for start in range(0, len(frames), PREDICT_BATCH):
        chunk = [str(f) for f in frames[start:start + PREDICT_BATCH]]
        for frame, result in zip(chunk, model.predict(chunk, conf=conf, imgsz=imgsz, verbose=False)):
            txt = labels / f"{Path(frame).stem}.txt"
            txt.touch()  # also for a frame with no box: an explicit background image
            result.save_txt(txt)


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


def merged_data_yaml(dataset: Dataset, pseudo_images: Path, path: Path) -> Path:
    """The dataset's YAML with the pseudo-labelled frames added to `train`; absolute paths, `val` unchanged."""
    config = {k: v for k, v in dataset.config.items() if k not in ("path", "train", "val", "test")}
    config["train"] = [str(d) for d in dataset.split_dirs("train")] + [str(pseudo_images)]
    config["val"] = [str(d) for d in dataset.split_dirs("val")]
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def build_pseudo_set(folder: Path, teacher: Path, cfg: DistillConfig, sources: list[Path], dataset: Dataset,
                     imgsz: Any) -> dict[str, Any]:
    """Label the sources with `teacher` into `folder` (skipped when the cache is complete); the counts."""
    counts_file = folder / PSEUDO_COUNTS_FILE
    if counts_file.is_file():
        return read_json(counts_file, "teacher label counts")
    shutil.rmtree(folder, ignore_errors=True)  # an interrupted labelling: save_txt appends, so start clean
    frames = extract_frames(sources, cfg.every_n_frames, folder / "images")
    label_frames(teacher, frames, folder / "labels", cfg.conf, imgsz)
    merged_data_yaml(dataset, folder / "images", folder / PSEUDO_DATA)
    counts = {"teacher": str(teacher), "conf": cfg.conf, "every_n_frames": cfg.every_n_frames,
              "sources": [str(s) for s in sources], **count_labels(folder / "labels", dataset.names)}
    counts_file.write_text(json.dumps(counts, indent=2))
    return counts


def pseudo_trainer_class(base: type, folder: Path, teacher: Path, cfg: DistillConfig, sources: list[Path],
                         dataset: Dataset) -> type:
    """`base` (an Ultralytics trainer class) that first builds the teacher-labelled set, before Ultralytics reads the
    data YAML in ``BaseTrainer.__init__`` (8.4.190): the teacher may be trained earlier in the same run.
    """

    def __init__(self: Any, *args: Any, overrides: dict[str, Any] | None = None, **kwargs: Any) -> None:
        build_pseudo_set(folder, teacher, cfg, sources, dataset, (overrides or {}).get("imgsz", 640))
        base.__init__(self, *args, overrides=overrides, **kwargs)

    return type(f"Pseudo{base.__name__}", (base,), {"__init__": __init__, "__module__": base.__module__})
