"""Check of a classification dataset: an image-folder root with ``train/<class>/`` and ``val/<class>/`` folders.

Errors: unreadable images and any image Ultralytics' own verification drops (e.g. a truncated JPEG), a training
class without images, class folders in val/test that train lacks (Ultralytics takes the class list from ``train/``).
Warnings: no validation folder, empty validation classes, duplicate images, and class imbalance (largest training
class more than ``IMBALANCE_RATIO`` times the smallest).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from pipeline.datasets.check_report import DatasetReport, SplitStats, add_duplicate_warnings, add_verdict, scan_image
from pipeline.datasets.images import is_image
from pipeline.datasets.resolve import VAL_NAMES
from pipeline.errors import UserError

IMBALANCE_RATIO = 10


def _check_split(split: str, folder: Path, report: DatasetReport, digests: dict) -> None:
    """Count readable images per class folder of one split."""
    from pipeline.ultralytics_api import TQDM

    stats = report.splits[split] = SplitStats()
    extra = sorted({d.name for d in folder.iterdir() if d.is_dir()} - set(report.names.values()))
    if extra:
        report.errors.append(f"{split}: class folders not in train/: {', '.join(extra)}")
    for cls, name in TQDM(list(report.names.items()), desc=f"check {split}"):
        # the files Ultralytics 8.4.190 ClassificationDataset reads (torchvision ImageFolder, IMG_FORMATS suffixes)
        for image in sorted(p for p in (folder / name).rglob("*") if p.is_file() and is_image(p)):
            info = scan_image(image, report, digests)
            if info is not None and add_verdict(report, image, info):
                stats.images += 1
                stats.instances[cls] += 1
        if not stats.instances[cls]:
            message = f"{split}: class {name} has no readable images"
            (report.errors if split == "train" else report.warnings).append(message)


def check_classify(root: Path) -> DatasetReport:
    """Check an Ultralytics classification folder and return the report."""
    train = root / "train"
    if not root.is_dir() or not train.is_dir():
        raise UserError(f"classification data must be a folder holding train/<class>/ image folders: {root}")
    classes = sorted(d.name for d in train.iterdir() if d.is_dir())
    if not classes:
        raise UserError(f"{train} holds no class folders")
    report = DatasetReport(str(root), "classify", dict(enumerate(classes)))
    digests: dict[str, list[str]] = defaultdict(list)
    _check_split("train", train, report, digests)
    val = next((root / n for n in VAL_NAMES if (root / n).is_dir()), None)
    if val is None:
        report.warnings.append(f"{root}: no val/ folder; training will have nothing to validate on")
    else:
        _check_split("val", val, report, digests)
    if (root / "test").is_dir():
        _check_split("test", root / "test", report, digests)
    add_duplicate_warnings(report, digests)
    train = report.splits["train"].instances
    counts = sorted((train[i], name) for i, name in report.names.items() if train[i])  # empty: already an error
    if counts and counts[-1][0] > IMBALANCE_RATIO * counts[0][0]:
        (few, smallest), (many, largest) = counts[0], counts[-1]
        report.warnings.append(f"train: class imbalance, {largest} has {many} images, {smallest} only {few} "
                               f"(ratio above {IMBALANCE_RATIO})")
    return report
