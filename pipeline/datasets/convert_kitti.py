"""KITTI 2D object detection reader: ``training/image_2`` + ``training/label_2``.

Each label line is ``type truncated occluded alpha x1 y1 x2 y2 h w l x y z ry [score]``; only the type and the
2D box (0-based pixel coordinates) are used. ``DontCare`` marks unlabelled regions, not objects: it is dropped.
KITTI ships no validation split, so the converter draws a seeded one by image.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.datasets.images import is_image
from pipeline.datasets.source import (
    ReadOptions,
    Sample,
    Source,
    SourceObject,
    require_files,
    require_paths,
    require_task,
)
from pipeline.errors import UserError
from pipeline.textfile import read_text

KNOWN_CLASSES = ("Car", "Van", "Truck", "Pedestrian", "Person_sitting", "Cyclist", "Tram", "Misc")
IGNORED = "DontCare"


def _objects(label_file: Path, source: Source) -> list[SourceObject]:
    """Parse one label file; malformed lines are reported and skipped."""
    objects = []
    for number, line in enumerate(read_text(label_file, "KITTI label file").splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if parts[0] == IGNORED:
            source.dropped[IGNORED] += 1
            continue
        try:
            if len(parts) not in (15, 16):
                raise ValueError(f"expected 15 values (16 with a score), got {len(parts)}")
            box = tuple(float(v) for v in parts[4:8])
        except ValueError as exc:
            source.problems.append((f"{label_file}:{number}", f"line skipped: {exc}"))
            continue
        objects.append(SourceObject(parts[0], box=box))
    return objects


def read(src: Path, options: ReadOptions) -> Source:
    """Read a KITTI folder (the one holding ``training/``, or ``training/`` itself)."""
    require_task("kitti", options.task, ("detect",))
    root = src if (src / "label_2").is_dir() else src / "training"
    require_paths("kitti", src, [root / "image_2", root / "label_2"])
    images = {p.stem: p for p in sorted((root / "image_2").iterdir()) if is_image(p)}
    source = Source([], KNOWN_CLASSES)
    for label_file in require_files("kitti", root / "label_2", "*.txt"):
        image = images.pop(label_file.stem, None)
        if image is None:
            source.problems.append((str(label_file), "label skipped: no image with this name in image_2"))
            continue
        try:
            objects = _objects(label_file, source)
        except UserError as exc:
            source.problems.append((str(label_file), f"label skipped: {exc}"))
            continue
        source.samples.append(Sample(image, str(label_file), objects))
    source.problems += [(str(p), "image skipped: no label file in label_2") for p in images.values()]
    return source
