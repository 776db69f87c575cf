"""What a format reader hands the converter (pixel-space objects per image) and how they become YOLO label rows."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from pipeline.errors import UserError


@dataclass
class SourceObject:
    """One annotated object in pixel coordinates: a box (x1, y1, x2, y2), a polygon ((N, 2) vertices), or both."""

    label: str
    box: tuple[float, float, float, float] | None = None
    polygon: np.ndarray | None = None


@dataclass
class Sample:
    """One image, the annotation it came from (for reports), its objects and its split (None: assign one)."""

    image: Path
    annotation: str
    objects: list[SourceObject]
    split: str | None = None


@dataclass
class Source:
    """Everything a reader found: samples, the format's class list, problems (file, reason), deliberate drops, and
    images found only by a fallback rule."""

    samples: list[Sample]
    known_classes: tuple[str, ...]
    problems: list[tuple[str, str]] = field(default_factory=list)
    dropped: Counter = field(default_factory=Counter)
    recovered: Counter = field(default_factory=Counter)  # how -> count of images found by a fallback rule


@dataclass(frozen=True)
class ReadOptions:
    """Reader settings from the command line."""

    task: str = "detect"
    keep_difficult: bool = False


class SkipObject(ValueError):
    """An object that cannot become a label row; the message is the reason shown in the report, ``kind`` the same
    reason without its numbers, which the report counts (one line per kind, however many objects)."""

    def __init__(self, reason: str, kind: str | None = None) -> None:
        super().__init__(reason)
        self.kind = kind or reason


def require_task(fmt: str, task: str, supported: tuple[str, ...]) -> None:
    """Refuse a task the format has no annotations for."""
    if task not in supported:
        raise UserError(f"{fmt} has no annotations for --task {task}; supported: {', '.join(supported)}")


def require_paths(fmt: str, src: Path, paths: list[Path]) -> None:
    """One clear error naming every expected file or folder that is missing from the source layout."""
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise UserError(f"{src} is not a {fmt} layout: missing {', '.join(str(p.relative_to(src)) for p in missing)}")


def require_files(fmt: str, folder: Path, pattern: str) -> list[Path]:
    """The files matching ``pattern`` under ``folder`` (sorted); one clear error when there are none."""
    files = sorted(folder.glob(pattern))
    if not files:
        raise UserError(f"not a {fmt} layout: {folder} holds no {pattern} files")
    return files


def _clip_box(box: tuple[float, float, float, float], width: int, height: int) -> tuple[tuple[float, ...], bool]:
    """Clip a box to the image; SkipObject when it is degenerate or wholly outside. Returns (box, was_clipped)."""
    x1, y1, x2, y2 = box
    if not (x2 > x1 and y2 > y1):
        raise SkipObject(f"degenerate box ({x1:g}, {y1:g}, {x2:g}, {y2:g})", "degenerate box")
    clipped = (min(max(x1, 0.0), width), min(max(y1, 0.0), height), min(max(x2, 0.0), width), min(max(y2, 0.0), height))
    if not (clipped[2] > clipped[0] and clipped[3] > clipped[1]):
        raise SkipObject(f"outside the {width}x{height} image ({x1:g}, {y1:g}, {x2:g}, {y2:g})", "outside the image")
    return clipped, clipped != (x1, y1, x2, y2)


def _polygon_bounds(polygon: np.ndarray) -> tuple[float, float, float, float]:
    """The box around a polygon; SkipObject when it has fewer than 3 points."""
    if len(polygon) < 3:
        raise SkipObject(f"polygon with fewer than 3 points ({len(polygon)})", "polygon with fewer than 3 points")
    (x1, y1), (x2, y2) = polygon.min(axis=0), polygon.max(axis=0)
    return float(x1), float(y1), float(x2), float(y2)


def _polygon_row(polygon: np.ndarray, width: int, height: int) -> tuple[list[float], bool]:
    """Normalised polygon vertices, clipped to the image like Ultralytics clips segments (vertex by vertex)."""
    bounds = _polygon_bounds(polygon)
    if cv2.contourArea(polygon.astype(np.float32)) <= 0:
        raise SkipObject("zero-area polygon")
    _clip_box(bounds, width, height)  # raises when wholly outside
    inside = np.clip(polygon, 0, (width, height))
    if cv2.contourArea(inside.astype(np.float32)) <= 0:
        raise SkipObject(f"polygon outside the {width}x{height} image", "polygon outside the image")
    return (inside / (width, height)).ravel().tolist(), bool((inside != polygon).any())


def yolo_values(obj: SourceObject, width: int, height: int, task: str) -> tuple[list[float], bool]:
    """Normalised YOLO values for one object (``cx cy w h`` or ``x1 y1 x2 y2 ...``) and whether it was clipped.

    Detection uses the box, or the polygon's bounds; segmentation uses the polygon, or the box's corners.
    """
    if task == "detect":
        box = obj.box if obj.box is not None else _polygon_bounds(obj.polygon)
        (x1, y1, x2, y2), clipped = _clip_box(box, width, height)
        return [(x1 + x2) / 2 / width, (y1 + y2) / 2 / height, (x2 - x1) / width, (y2 - y1) / height], clipped
    polygon = obj.polygon
    if polygon is None:
        x1, y1, x2, y2 = obj.box
        polygon = np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], dtype=np.float64)
    return _polygon_row(np.asarray(polygon, dtype=np.float64), width, height)
