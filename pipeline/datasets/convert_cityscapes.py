"""Cityscapes reader: ``gtFine/{train,val}/<city>/*_gtFine_polygons.json`` + ``leftImg8bit/{train,val}/<city>/``.

Only the instance classes (and their ``*group`` polygons, which a class map may keep) are read: stuff classes such
as road or sky, and objects marked deleted, are dropped as a whole and counted. ``--task segment`` writes each
polygon vertex by vertex, ``--task detect`` its bounds; both skip (and count) the same objects, e.g. polygons with
fewer than 3 points. The official train/val split is kept; the test split has no public labels and is not read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.datasets.source import ReadOptions, Sample, Source, SourceObject, require_files, require_paths
from pipeline.errors import UserError
from pipeline.textfile import read_json

KNOWN_CLASSES = ("person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle")
POLYGON_SUFFIX = "_gtFine_polygons.json"


def _sample(json_file: Path, split: str, images: Path, source: Source) -> Sample | None:
    """Parse one polygon file into a sample with the instance polygons."""
    try:
        objects = read_json(json_file, "Cityscapes polygon file")["objects"]
        objects = [obj for obj in objects if isinstance(obj, dict)]
    except UserError as exc:
        source.problems.append((str(json_file), f"annotation skipped: {exc}"))
        return None
    except (KeyError, TypeError) as exc:
        source.problems.append((str(json_file), f"annotation skipped: not a Cityscapes polygon file ({exc!r})"))
        return None
    stem = json_file.name.removesuffix(POLYGON_SUFFIX)
    image = images / split / json_file.parent.name / f"{stem}_leftImg8bit.png"
    sample = Sample(image, str(json_file), [], split)
    for obj in objects:
        label = str(obj.get("label", ""))
        if obj.get("deleted"):  # removed in the annotation tool but kept in the file
            source.dropped["deleted objects"] += 1
        elif label.removesuffix("group") not in KNOWN_CLASSES:
            source.dropped["non-instance classes"] += 1
        else:
            try:
                polygon = np.asarray(obj.get("polygon") or [], dtype=np.float64).reshape(-1, 2)
            except (TypeError, ValueError) as exc:  # not a list of [x, y] numbers: skip the object, not the file
                source.problems.append((str(json_file), f"{label}: object skipped: malformed polygon ({exc})"))
                continue
            sample.objects.append(SourceObject(label, polygon=polygon))
    return sample


def read(src: Path, options: ReadOptions) -> Source:
    """Read a Cityscapes folder (``gtFine/`` + ``leftImg8bit/``): polygons for segment, their boxes for detect."""
    require_paths("cityscapes", src, [src / "gtFine", src / "leftImg8bit"])
    source = Source([], KNOWN_CLASSES)
    for split in ("train", "val"):
        for json_file in sorted((src / "gtFine" / split).glob(f"*/*{POLYGON_SUFFIX}")):
            sample = _sample(json_file, split, src / "leftImg8bit", source)
            if sample is not None:
                source.samples.append(sample)
    if not source.samples:
        require_files("cityscapes", src / "gtFine", f"*/*/*{POLYGON_SUFFIX}")  # raises, naming the pattern
    return source
