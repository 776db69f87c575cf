"""BDD100K reader: detection boxes (``box2d``) or instance-segmentation polygons (``poly2d``), official split kept.

Expected layout (the official archives unpacked side by side)::

    images/100k/{train,val}/*.jpg                     detection images
    labels/det_20/det_{train,val}.json                detection labels (2020 Scalabel format), or
    labels/bdd100k_labels_images_{train,val}.json     detection labels (2018 format)
    images/10k/{train,val}/*.jpg                      instance-segmentation images
    labels/ins_seg/polygons/ins_seg_{train,val}.json  instance-segmentation polygons

Both label formats are a list of frames ``{"name": ..., "labels": [{"category", "box2d", "poly2d"}, ...]}``. A
``poly2d`` part lists ``vertices`` and their ``types``: its Bezier curves (``C`` control points) become straight
segments. The RLE (``ins_seg/rles``) and bitmask releases of the same masks are not read: the polygons hold them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.datasets.source import ReadOptions, Sample, Source, SourceObject, require_task
from pipeline.errors import UserError
from pipeline.textfile import MAX_ANNOTATION_BYTES, read_json

KNOWN_CLASSES = ("car", "bus", "truck", "person", "rider", "bike", "motor", "traffic light", "traffic sign", "train")
LABELS = {
    "detect": ("labels/det_20/det_{split}.json", "labels/bdd100k_labels_images_{split}.json"),
    "segment": ("labels/ins_seg/polygons/ins_seg_{split}.json",),
}
IMAGES = {"detect": "images/100k/{split}", "segment": "images/10k/{split}"}
# Straight segments per Bezier curve of a polygon: they stray from the curve by at most 3/(4 * 8²) ≈ 1.2% of the
# larger second difference of its control points (|P0 - 2 P1 + P2|, |P1 - 2 P2 + P3|).
BEZIER_STEPS = 8


def _cubic(control: np.ndarray) -> np.ndarray:
    """BEZIER_STEPS points along the cubic Bezier curve of 4 control points, its start left out (the vertex before)."""
    t = np.arange(1, BEZIER_STEPS + 1)[:, None] / BEZIER_STEPS
    return np.hstack([(1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t**2, t**3]) @ control


def _outline(part: dict) -> np.ndarray:
    """The vertices of one ``poly2d`` part, its curves turned into straight segments. ``types`` marks each vertex
    ``L`` (on the outline) or ``C`` (a Bezier control point); read as BDD100K's mask renderer reads them (matplotlib
    CURVE4), a ``C`` starts a cubic curve from the vertex before, through it and the next, to the one after that (the
    first vertex again at the end of a closed part)."""
    if not isinstance(part, dict):
        raise TypeError(f"a poly2d part is {type(part).__name__}, not an object")
    vertices = np.asarray(part.get("vertices") or [], dtype=np.float64).reshape(-1, 2)
    types = str(part.get("types") or "")
    if "C" not in types:
        return vertices
    if len(types) != len(vertices):
        raise ValueError(f"types {types!r} do not fit {len(vertices)} vertices")
    ring = np.concatenate([vertices, vertices[:1]]) if part.get("closed", True) else vertices
    points, i = [vertices[:1]], 1
    while i < len(vertices):
        if types[i] != "C":
            points.append(vertices[i:i + 1])
            i += 1
        elif i + 2 < len(ring):
            points.append(_cubic(ring[i - 1:i + 3]))
            i += 3
        else:
            raise ValueError(f"types {types!r}: a curve needs 2 control points and a vertex after them")
    outline = np.concatenate(points)
    return outline[:-1] if i > len(vertices) else outline  # a curve back to the first vertex: not twice


def _polygon(poly2d: list[dict]) -> np.ndarray | None:
    """One instance polygon from its ``poly2d`` parts (several parts joined as Ultralytics joins COCO's)."""
    from pipeline.ultralytics_api import merge_multi_segment

    parts = [_outline(p) for p in poly2d]
    parts = [p for p in parts if len(p)]
    if len(parts) > 1:
        return np.concatenate(merge_multi_segment([p.ravel().tolist() for p in parts]), axis=0)
    return parts[0] if parts else None


def _object(label: dict, task: str) -> SourceObject | None:
    """The box (detect) or polygon (segment) of one label, None when it has no such geometry."""
    if not isinstance(label, dict):
        raise TypeError(f"a label is {type(label).__name__}, not an object")
    category = str(label.get("category", ""))
    if task == "detect":
        box = label.get("box2d")
        return None if not box else SourceObject(category, box=tuple(float(box[k]) for k in ("x1", "y1", "x2", "y2")))
    polygon = _polygon(label.get("poly2d") or [])
    return None if polygon is None else SourceObject(category, polygon=polygon)


def _frames(label_file: Path, split: str, images: Path, task: str, source: Source) -> None:
    """Add every frame of one label file to ``source``."""
    frames = read_json(label_file, "BDD100K label file", MAX_ANNOTATION_BYTES)
    if not isinstance(frames, list):
        raise UserError(f"{label_file} is not a BDD100K label file (expected a list of frames)")
    for number, frame in enumerate(frames):
        if not isinstance(frame, dict) or not frame.get("name"):
            source.problems.append((f"{label_file} frame {number}", "frame skipped: no image name"))
            continue
        sample = Sample(images / frame["name"], f"{label_file} [{frame['name']}]", [], split)
        for label in frame.get("labels") or []:
            try:
                obj = _object(label, task)
            except (KeyError, TypeError, ValueError) as exc:
                source.problems.append((sample.annotation, f"label skipped: malformed geometry ({exc})"))
                continue
            if obj is None:
                source.dropped[f"no {'box2d' if task == 'detect' else 'poly2d'} (lanes, drivable area)"] += 1
            else:
                sample.objects.append(obj)
        source.samples.append(sample)


def read(src: Path, options: ReadOptions) -> Source:
    """Read a BDD100K folder holding ``images/`` and ``labels/``."""
    require_task("bdd100k", options.task, ("detect", "segment"))
    source = Source([], KNOWN_CLASSES)
    for split in ("train", "val"):
        candidates = [src / pattern.format(split=split) for pattern in LABELS[options.task]]
        label_file = next((p for p in candidates if p.exists()), None)  # a folder there is named as one
        if label_file is not None:
            _frames(label_file, split, src / IMAGES[options.task].format(split=split), options.task, source)
    if not source.samples:
        expected = [pattern.format(split="{train,val}") for pattern in LABELS[options.task]]
        raise UserError(f"{src} is not a bdd100k layout for --task {options.task}: missing {' or '.join(expected)}")
    return source
