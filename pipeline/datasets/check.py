"""Dataset check: counts per split and class, and every problem that would silently cost training data.

Errors (exit 1, and ``pipeline.run`` stops): unreadable images, malformed label rows, values that are not finite
numbers, class ids out of range, coordinates out of [0, 1], degenerate boxes, polygons with fewer than 3 points or no
area, box rows in a segment dataset, files mixing boxes and polygons, splits without images, missing labels folders,
and anything else Ultralytics' own verification would drop from training (e.g. a truncated JPEG). Warnings
(reported, not failing): missing or empty label files (background images), duplicate images, boxes reaching past the
image edge, JPEGs Ultralytics re-saves, classes without training instances.
Box sizes are binned as COCO does: small < 32², medium < 96² pixels of area, large above.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from pipeline.datasets.check_report import DatasetReport, SplitStats, add_duplicate_warnings, add_verdict, scan_image
from pipeline.datasets.images import ImageInfo, image_files
from pipeline.errors import UserError
from pipeline.textfile import read_text

TASKS = ("detect", "segment", "classify")
SPLITS = ("train", "val", "test")
SMALL, MEDIUM = 32**2, 96**2  # COCO area thresholds in pixels
EPS = 1e-6  # float noise of label writers (e.g. 1.0000001) is not an error


def _row(parts: list[str], nc: int, task: str) -> tuple[int, np.ndarray, bool]:
    """Parse one label row into (class id, normalised xy points, is_box); ValueError with the reason."""
    try:
        values = [float(v) for v in parts]
    except ValueError:
        raise ValueError(f"not all numbers: {' '.join(parts)}") from None
    if not np.isfinite(values).all():  # Ultralytics drops the image as corrupt
        raise ValueError(f"not all finite numbers (nan or inf): {' '.join(parts)}")
    cls, coords = values[0], np.asarray(values[1:])
    if cls != int(cls) or not 0 <= cls < nc:
        raise ValueError(f"class id {parts[0]} out of range 0-{nc - 1}")
    if len(coords) % 2:
        raise ValueError(f"odd number of coordinates ({len(coords)})")
    is_box = len(coords) == 4
    if is_box and task == "segment":  # a box-only label file makes Ultralytics drop every mask of the split
        raise ValueError("box row (class cx cy w h): detect-only labels given to task: segment, which needs a polygon "
                         "(class x1 y1 x2 y2 x3 y3 ...) on every row")
    if not is_box and len(coords) < 6:
        raise ValueError(f"polygon with fewer than 3 points ({len(coords) // 2})")
    if coords.min() < -EPS or coords.max() > 1 + EPS:
        raise ValueError(f"coordinates out of [0, 1] (min {coords.min():g}, max {coords.max():g})")
    if is_box and (coords[2] <= 0 or coords[3] <= 0):
        raise ValueError(f"degenerate box (width {coords[2]:g}, height {coords[3]:g})")
    return int(cls), coords.reshape(-1, 2), is_box


def _check_labels(label: Path, info: ImageInfo, task: str, stats: SplitStats, report: DatasetReport) -> bool:
    """Check one label file, adding to ``stats``; returns True when a box reaches past the image edge."""
    try:
        lines = read_text(label, "label file").splitlines()
    except UserError as exc:
        report.errors.append(str(exc))
        return False
    rows = [(number, line.split()) for number, line in enumerate(lines, start=1) if line.strip()]
    stats.empty += not rows
    kinds, outside = set(), False
    for number, parts in rows:
        try:
            cls, xy, is_box = _row(parts, len(report.names), task)
        except ValueError as exc:
            report.errors.append(f"{label}:{number}: {exc}")
            continue
        pixels = xy * (info.width, info.height)
        if is_box:
            (cx, cy), (w, h) = xy
            outside |= min(cx - w / 2, cy - h / 2) < -EPS or max(cx + w / 2, cy + h / 2) > 1 + EPS
            area = pixels[1, 0] * pixels[1, 1]
        else:
            area = cv2.contourArea(pixels.astype(np.float32))
            if area <= 0:
                report.errors.append(f"{label}:{number}: zero-area polygon")
                continue
        kinds.add(is_box)
        stats.instances[cls] += 1
        stats.sizes["small" if area < SMALL else "medium" if area < MEDIUM else "large"] += 1
    if len(kinds) > 1:
        report.errors.append(f"{label}: mixes box rows and polygon rows (Ultralytics drops such images)")
    return outside


def list_images(entries: list[Path], split: str, report: DatasetReport) -> list[Path]:
    """Images of a split, listed as training lists them (folders and/or image-list files)."""
    images = []
    for entry in entries:
        if entry.exists():
            images += image_files(entry, prefix=f"{split}: ")
        else:
            report.errors.append(f"{split}: {entry} does not exist")
    return sorted(images)


def split_files(entries: list[Path], split: str, report: DatasetReport) -> tuple[list[Path], list[Path]]:
    """A split's images, listed as training lists them, and the label file Ultralytics reads for each."""
    from pipeline.ultralytics_api import img2label_paths  # Ultralytics' own images -> labels rule

    images = list_images(entries, split, report)
    return images, [Path(p) for p in img2label_paths(images)]


def _summary(split: str, what: str, files: list[str]) -> str:
    """One aggregated warning line naming the first few files."""
    shown = ", ".join(files[:3]) + (f", ... ({len(files) - 3} more)" if len(files) > 3 else "")
    return f"{split}: {len(files)} images {what}: {shown}"


def _missing_label_folders(split: str, images: list[Path], labels: list[Path], report: DatasetReport) -> set[Path]:
    """One error per labels folder training would read that does not exist (Ultralytics would then train on no
    labels at all); returns those folders."""
    folders: dict[Path, Path] = {}
    for image, label in zip(images, labels):
        folders.setdefault(label.parent, image.parent)
    missing = {folder for folder in folders if not folder.is_dir()}
    for folder in sorted(missing):
        report.errors.append(f"{split}: labels folder {folder} not found (Ultralytics reads the labels of the "
                             f"images in {folders[folder]} from there: last /images/ -> /labels/)")
    return missing


def _check_split(split: str, entries: list[Path], task: str, report: DatasetReport, digests: dict) -> None:
    """Check every image and label file of one split."""
    from pipeline.ultralytics_api import TQDM

    stats = report.splits[split] = SplitStats()
    images, labels = split_files(entries, split, report)
    if not images:
        report.errors.append(f"{split}: no images found in {', '.join(map(str, entries))}")
    no_folder = _missing_label_folders(split, images, labels, report)
    missing, edge = [], []
    for image, label in TQDM(list(zip(images, labels)), desc=f"check {split}"):
        info = scan_image(image, report, digests)
        if info is None:
            continue
        stats.images += 1
        errors = len(report.errors)
        if not label.is_file():
            stats.missing_labels += 1
            missing += [] if label.parent in no_folder else [image.name]  # a missing folder is already an error
        elif _check_labels(label, info, task, stats, report):
            edge.append(image.name)
        add_verdict(report, image, info, label if len(report.errors) == errors else None)  # backstop, no repeats
    if missing:
        report.warnings.append(_summary(split, "without a label file (trained as background)", missing))
    if stats.empty:
        report.warnings.append(f"{split}: {stats.empty} images with an empty label file (trained as background)")
    if edge:
        report.warnings.append(_summary(split, "with boxes past the image edge (Ultralytics clips them)", edge))


def check_dataset(data_yaml: Path, task: str) -> DatasetReport:
    """Check a detect/segment dataset YAML, or a classify image-folder root, and return the report."""
    if task not in TASKS:
        raise UserError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    if task == "classify":
        from pipeline.datasets.check_classify import check_classify

        return check_classify(Path(data_yaml))
    from pipeline.datasets.resolve import resolve_dataset  # synthetic sets are generated on demand there

    dataset = resolve_dataset(Path(data_yaml))
    report = DatasetReport(str(data_yaml), task, dataset.names)
    digests: dict[str, list[str]] = defaultdict(list)
    for split in SPLITS:
        if dataset.config.get(split):
            _check_split(split, dataset.split_dirs(split), task, report, digests)
        elif split != "test":
            report.errors.append(f"{data_yaml}: no `{split}:` entry")
    add_duplicate_warnings(report, digests)
    if "train" in report.splits:
        unused = [n for i, n in report.names.items() if not report.splits["train"].instances[i]]
        if unused:
            report.warnings.append(f"train: no instances of {', '.join(unused)}")
    return report
