"""What a dataset check found (:class:`DatasetReport`), and the checks every task shares: image headers,
Ultralytics' own verdict on an image, duplicates. :mod:`pipeline.datasets.check` (detect, segment) and
:mod:`pipeline.datasets.check_classify` both build on it.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections import Counter
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pipeline.datasets.images import ImageInfo, inspect_image


@dataclass
class SplitStats:
    """Counts of one split. For classify, ``instances`` counts images per class."""

    images: int = 0
    instances: Counter = field(default_factory=Counter)
    sizes: Counter = field(default_factory=Counter)
    empty: int = 0
    missing_labels: int = 0


@dataclass
class DatasetReport:
    """What :func:`check_dataset` found; ``ok`` is False when there is any error."""

    data: str
    task: str
    names: dict[int, str]
    splits: dict[str, SplitStats] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing blocks training (warnings allowed)."""
        return not self.errors

    def to_dict(self) -> dict:
        """JSON-ready dict (class counts keyed by class name)."""
        splits = {name: {**asdict(s), "instances": {self.names.get(k, str(k)): v for k, v in s.instances.items()},
                         "sizes": dict(s.sizes)} for name, s in self.splits.items()}
        return {"data": self.data, "task": self.task, "ok": self.ok, "names": self.names, "splits": splits,
                "errors": self.errors, "warnings": self.warnings}

    def render(self, limit: int = 20) -> str:
        """Human-readable tables (per split, per class) followed by errors and warnings (``limit`` of each)."""
        import pandas as pd  # here only: every run checks its dataset, and only the CLI prints the tables

        unit = "images" if self.task == "classify" else "instances"
        rows = {name: {"images": s.images, unit: sum(s.instances.values()), "empty": s.empty,
                       "no label": s.missing_labels, **{k: s.sizes[k] for k in ("small", "medium", "large")}}
                for name, s in self.splits.items()}
        per_split = pd.DataFrame.from_dict(rows, orient="index")
        if self.task == "classify":
            per_split = per_split[["images"]]
        per_class = pd.DataFrame({s: [st.instances[i] for i in self.names] for s, st in self.splits.items()},
                                 index=list(self.names.values()))
        lines = [f"{self.data} ({self.task}, {len(self.names)} classes)", per_split.to_string(), "",
                 f"{unit} per class:", per_class.to_string()]
        for title, items in (("errors", self.errors), ("warnings", self.warnings)):
            lines.append(f"{title}: {len(items)}")
            lines += [f"  - {item}" for item in items[:limit]]
            if len(items) > limit:
                lines.append(f"  ... and {len(items) - limit} more (see --json)")
        lines.append("OK" if self.ok else "FAILED: fix the errors above before training")
        return "\n".join(lines)

    def write_json(self, path: Path) -> None:
        """Save :meth:`to_dict` as JSON."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=1), encoding="utf-8")


def scan_image(path: Path, report: DatasetReport, digests: dict[str, list[str]]) -> ImageInfo | None:
    """Read one image header (records an error when unreadable) and remember its hash for duplicate detection."""
    try:
        info = inspect_image(path, decode=False)
    except ValueError as exc:
        report.errors.append(f"{path}: {exc}")
        return None
    digests[info.digest].append(str(path))
    return info


def _ultralytics_verdict(image: Path, label: Path | None, nc: int, unterminated: bool) -> str | None:
    """Why Ultralytics' own verification drops this image (with its label file, when given) from training, or None.

    Ultralytics 8.4.190 ``verify_image_label`` (``verify_image`` without a label), both through ``check_image``,
    which re-saves a JPEG lacking its end marker in place: such a file is verified on a temporary copy, so the
    dataset is never written to.
    """
    from pipeline.ultralytics_api import verify_image, verify_image_label

    with tempfile.TemporaryDirectory(prefix="roadtune-check-") if unterminated else nullcontext() as tmp:
        im_file = str(shutil.copy(image, Path(tmp) / image.name) if tmp else image)
        if label is None:
            _, _, corrupt, msg = verify_image(((im_file, 0), ""))
        else:
            *_, corrupt, msg = verify_image_label((im_file, str(label), "", False, nc, 0, 0, False))
    return msg.split("ignoring corrupt image/label: ", 1)[-1] if corrupt else None


def add_verdict(report: DatasetReport, image: Path, info: ImageInfo, label: Path | None = None) -> bool:
    """Record Ultralytics' verdict on a readable image as an error (dropped) or warning (re-saved); True if kept."""
    reason = _ultralytics_verdict(image, label, len(report.names), info.jpeg_unterminated)
    if reason:
        report.errors.append(f"{image}: Ultralytics drops it from training ({reason})")
    elif info.jpeg_unterminated:
        report.warnings.append(f"{image}: JPEG without end marker; Ultralytics will re-save it on first load")
    return reason is None


def add_duplicate_warnings(report: DatasetReport, digests: dict[str, list[str]]) -> None:
    """One warning per group of byte-identical images (those spanning splits leak into validation)."""
    for files in digests.values():
        if len(files) > 1:
            report.warnings.append(f"{len(files)} identical images: {', '.join(files)}")
