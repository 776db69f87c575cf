"""The frames of `distill.unlabeled`: image folders and videos, checked before any work, then written once into the
run's pseudo set (``<source position>_<source name>_<frame or image number>``). A folder's images are the files
Ultralytics loads as images (:func:`pipeline.datasets.images.is_image`), as for a dataset's own images.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from pipeline.datasets.images import image_suffixes, inspect_image, is_image
from pipeline.errors import UserError

SHOWN = 5  # unreadable images named per source; the rest are counted


def source_images(folder: Path) -> list[Path]:
    """The images of a folder and its sub-folders, sorted."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and is_image(p))


def _unreadable_images(folder: Path) -> list[str]:
    """Images of `folder` that fail the dataset check's header check (truncated, not an image), at most SHOWN named."""
    bad = []
    for image in source_images(folder):
        try:
            inspect_image(image, decode=False)  # not PIL's Image.open: Ultralytics' patch pip-installs on a bad file
        except ValueError as err:
            bad.append(f"{image.name} ({err})")
    if len(bad) > SHOWN:
        bad = [*bad[:SHOWN], f"... and {len(bad) - SHOWN} more"]
    return bad


def _video_frames(video: Path) -> int:
    """The frames a video yields (0: not a video OpenCV can decode)."""
    import cv2

    capture = cv2.VideoCapture(str(video))
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if capture.isOpened() and capture.grab() else 0
    capture.release()
    return count


def resolve_unlabeled(sources: list[str], base: Path) -> list[Path]:
    """The `unlabeled` sources as absolute paths (relative ones against the recipe's folder); one UserError naming
    each source that is missing, yields no frame, or holds unreadable images.
    """
    paths = [p if p.is_absolute() else (base / p).resolve() for p in map(Path, sources)]
    problems = []
    for path in paths:
        if not path.exists():
            problems.append(f"not found: {path}")
        elif path.is_dir() and not source_images(path):
            problems.append(f"folder without images ({', '.join(image_suffixes())}): {path}")
        elif path.is_dir() and (bad := _unreadable_images(path)):
            problems.append(f"unreadable images in {path}: {', '.join(bad)}")
        elif path.is_file() and not _video_frames(path):
            problems.append(f"a video that yields no frame (empty, or not a video OpenCV decodes): {path}")
    if problems:
        raise UserError(f"{len(problems)} of {len(paths)} unlabeled sources cannot be read", problems)
    return paths


def extract_frames(sources: list[Path], every_n_frames: int, out: Path) -> list[Path]:
    """Write the kept frames under `out`: one in `every_n_frames` of each video (JPEG), each image of a folder."""
    import cv2

    out.mkdir(parents=True, exist_ok=True)
    frames = []
    for k, src in enumerate(sources):
        if src.is_dir():
            for i, image in enumerate(source_images(src)):
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
