"""Write an Ultralytics YOLO dataset (images/{train,val}, labels/{train,val}, data.yaml) from a format reader.

The readers (``convert_<format>.py``) turn a source layout into pixel-space :class:`Sample` objects; this module
assigns splits, applies the class map, clips and checks every object, links or copies the images (never modifying
them) and writes the labels, a ``data.yaml`` and ``convert_report.json`` listing everything skipped and why.
"""

from __future__ import annotations

import importlib
import json
import os
import random
import shutil
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml

from pipeline.datasets import FORMATS
from pipeline.datasets.classmap import CLASSMAP_DIR, ClassMap, resolve_classmap
from pipeline.datasets.images import ImageInfo, inspect_image
from pipeline.datasets.source import ReadOptions, Sample, SkipObject, Source, yolo_values
from pipeline.errors import UserError

REPORT_NAME = "convert_report.json"  # also marks a folder this tool wrote, which --overwrite may replace
SPLITS = ("train", "val")
# A conversion whose class map drops more than this share of the annotations stops (exit 2) before writing anything:
# a dataset that is mostly background trains nothing. `--allow-unmapped` converts anyway.
UNMAPPED_LIMIT = 0.9


@dataclass
class ConvertReport:
    """Counts per split and class, and every object or image left out with its reason."""

    out: Path
    names: tuple[str, ...]
    images: Counter = field(default_factory=Counter)
    instances: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    clipped: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    dropped: Counter = field(default_factory=Counter)
    unmapped: Counter = field(default_factory=Counter)
    recovered: Counter = field(default_factory=Counter)
    skipped_objects: Counter = field(default_factory=Counter)  # SkipObject kind -> count (each one is in `skipped`)

    def table(self) -> pd.DataFrame:
        """Images and instances per class (rows) and split (columns)."""
        rows = {"images": {s: self.images[s] for s in SPLITS}}
        rows |= {name: {s: self.instances[s][name] for s in SPLITS} for name in self.names}
        frame = pd.DataFrame.from_dict(rows, orient="index", columns=list(SPLITS))
        return frame.assign(total=frame.sum(axis=1))

    def to_dict(self) -> dict:
        """JSON-ready summary (written to ``convert_report.json``)."""
        return {"complete": True, "names": list(self.names), "counts": self.table().to_dict(orient="index"),
                "clipped": self.clipped, "dropped": dict(self.dropped), "not_in_class_map": dict(self.unmapped),
                "recovered": dict(self.recovered), "skipped_objects": dict(self.skipped_objects),
                "skipped": [{"file": f, "reason": r} for f, r in self.skipped]}

    def render(self, limit: int = 20) -> str:
        """Human-readable summary; at most ``limit`` skipped items are listed (all are in the JSON report)."""
        lines = [f"wrote {self.out / 'data.yaml'}", self.table().to_string(),
                 f"boxes/polygons clipped to the image: {self.clipped}"]
        if self.dropped:
            lines.append("dropped by design: " + ", ".join(f"{k} {v}" for k, v in sorted(self.dropped.items())))
        for title, counts in (("not in the class map", self.unmapped), ("recovered", self.recovered),
                              ("objects skipped", self.skipped_objects)):
            if counts:
                lines.append(f"{title}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
        lines.append(f"skipped: {len(self.skipped)}" + (f" (all in {self.out / REPORT_NAME})" if self.skipped else ""))
        lines += [f"  {f}: {r}" for f, r in self.skipped[:limit]]
        if len(self.skipped) > limit:
            lines.append(f"  ... and {len(self.skipped) - limit} more")
        return "\n".join(lines)


def prepare_out(out: Path, src: Path, overwrite: bool) -> None:
    """Refuse a non-empty destination unless ``overwrite`` and it holds an earlier conversion; clear that one."""
    out, src = out.resolve(), src.resolve()
    if out == src or src.is_relative_to(out):
        raise UserError(f"--out {out} must not be the source folder or contain it")
    if out.is_file():
        raise UserError(f"--out {out} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise UserError(f"--out {out} is not empty; pass --overwrite to replace an earlier conversion there")
        if not (out / REPORT_NAME).is_file():
            raise UserError(f"--out {out} is not empty and holds no earlier conversion ({REPORT_NAME}); "
                            "refusing to delete anything there, choose an empty folder")
        for name in ("images", "labels"):
            shutil.rmtree(out / name, ignore_errors=True)
        for name in ("data.yaml", REPORT_NAME):
            (out / name).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    # mark the folder as ours at once, so an interrupted conversion can be replaced with --overwrite
    (out / REPORT_NAME).write_text('{"complete": false}\n')


def assign_splits(samples: list[Sample], val_fraction: float, seed: int) -> None:
    """Keep an official train/val split; without one, draw a seeded validation split by image."""
    if not any(s.split == "val" for s in samples):
        for sample in samples:
            sample.split = None  # no official validation images: split the lot
    pending = sorted((s for s in samples if s.split is None), key=lambda s: str(s.image))
    random.Random(seed).shuffle(pending)
    n_val = max(1, round(len(pending) * val_fraction)) if len(pending) > 1 else 0
    for i, sample in enumerate(pending):
        sample.split = "val" if i < n_val else "train"


def _place_image(image: Path, dst: Path, link: bool) -> None:
    """Symlink (absolute) or copy the image; the source file is never modified."""
    if link:
        os.symlink(image.resolve(), dst)
    else:
        shutil.copy2(image, dst)


def _readable(samples: list[Sample], report: ConvertReport) -> list[tuple[Sample, ImageInfo]]:
    """Decode every image once (before splitting, so no split ends up with only broken images); report the rest."""
    from pipeline.ultralytics_api import TQDM

    readable = []
    for sample in TQDM(samples, desc="read images"):
        try:
            readable.append((sample, inspect_image(sample.image, decode=True)))
        except ValueError as exc:
            report.skipped.append((str(sample.image), f"image skipped: {exc}"))
    return readable


def _write_sample(sample: Sample, info: ImageInfo, classmap: ClassMap, out: Path, task: str, link: bool,
                  report: ConvertReport) -> None:
    """Convert the objects of one image, place the image and write its label file; record every skip."""
    dst = out / "images" / sample.split / sample.image.name
    label = out / "labels" / sample.split / f"{dst.stem}.txt"
    if label.exists():  # labels are matched to images by stem: a.jpg and a.png cannot share a split
        report.skipped.append((str(sample.image), f"image skipped: another {sample.split} image is named {dst.stem}.*"))
        return
    rows = []
    for obj in sample.objects:
        cls = classmap.index(obj.label)
        if cls is None:
            report.unmapped[obj.label] += 1
            continue
        try:
            values, clipped = yolo_values(obj, info.width, info.height, task)
        except SkipObject as exc:
            report.skipped.append((sample.annotation, f"{obj.label}: {exc}"))
            report.skipped_objects[exc.kind] += 1
            continue
        report.clipped += clipped
        report.instances[sample.split][classmap.names[cls]] += 1
        rows.append(" ".join([str(cls), *(f"{v:.6f}" for v in values)]))
    _place_image(sample.image, dst, link)
    label.write_text("".join(f"{row}\n" for row in rows), encoding="utf-8")
    report.images[sample.split] += 1


def require_images(found: bool, fmt: str, src: Path, skipped: list[tuple[str, str]], dropped: Counter) -> None:
    """A conversion that would write no image at all is an error, naming the first reasons images were left out."""
    if not found:
        shown = [f"{file}: {reason}" for file, reason in skipped[:5]]
        shown += [f"... and {len(skipped) - 5} more skipped"] if len(skipped) > 5 else []
        shown += [f"dropped: {what} ({count})" for what, count in sorted(dropped.items())]
        raise UserError(f"no image of {src} could be converted ({fmt}, {len(skipped)} skipped); nothing written",
                        shown)


def require_mapped(labels: Counter, classmap: ClassMap, fmt: str, spec: str, allow: bool) -> None:
    """Stop a conversion whose class map would drop more than UNMAPPED_LIMIT of the annotations (`labels`: source
    label -> count), naming each dropped label with its count and the ways out; `allow` (--allow-unmapped) converts
    anyway."""
    total = sum(labels.values())
    unmapped = {label: n for label, n in labels.items() if classmap.index(label) is None}
    dropped = sum(unmapped.values())
    if allow or not total or dropped <= UNMAPPED_LIMIT * total:
        return
    problems = [f"not in the class map: {label} ({n:,})" for label, n in sorted(unmapped.items(), key=lambda x: -x[1])]
    problems += ["to keep every source class under its own name: --classes all",
                 f"to map them onto your classes: copy {CLASSMAP_DIR / f'{fmt}.yaml'}, add them under `map`, "
                 "and pass --classes YOUR_MAP.yaml",
                 "to convert anyway and drop them: --allow-unmapped"]
    raise UserError(f"the class map (--classes {spec}) drops {dropped:,} of {total:,} annotations, more than "
                    f"{UNMAPPED_LIMIT:.0%}: the dataset would be mostly background; nothing written", problems)


def read_source(fmt: str, src: Path, options: ReadOptions) -> Source:
    """Run the format's reader (``pipeline.datasets.convert_<fmt>.read``)."""
    if fmt not in FORMATS:
        raise UserError(f"unknown format {fmt!r}; valid formats: {', '.join(FORMATS)}")
    if not src.is_dir():
        raise UserError(f"source folder not found: {src}")
    return importlib.import_module(f"pipeline.datasets.convert_{fmt}").read(src, options)


def convert(fmt: str, src: Path, out: Path, classes: str = "road", val_fraction: float = 0.2, seed: int = 0,
            link: bool = False, overwrite: bool = False, options: ReadOptions = ReadOptions(),
            allow_unmapped: bool = False) -> ConvertReport:
    """Convert ``src`` in format ``fmt`` into a YOLO dataset at ``out`` and return the report (also saved there).
    A class map that drops more than UNMAPPED_LIMIT of the annotations stops it, unless ``allow_unmapped``."""
    from pipeline.ultralytics_api import TQDM

    if options.task not in ("detect", "segment"):
        raise UserError(f"--task must be detect or segment, got {options.task!r}")
    if not 0.0 < val_fraction < 1.0:
        raise UserError(f"--val-fraction must be between 0 and 1 (exclusive), got {val_fraction}")
    source = read_source(fmt, src, options)
    classmap = resolve_classmap(classes, fmt, source.known_classes,
                                (o.label for s in source.samples for o in s.objects))
    labels = Counter(o.label for s in source.samples for o in s.objects)
    require_mapped(labels, classmap, fmt, classes, allow_unmapped)
    report = ConvertReport(out, classmap.names, skipped=list(source.problems), dropped=source.dropped,
                           recovered=source.recovered)
    readable = _readable(source.samples, report)
    require_images(bool(readable), fmt, src, report.skipped, report.dropped)  # before anything is written to `out`
    prepare_out(out, src, overwrite)
    assign_splits([sample for sample, _ in readable], val_fraction, seed)
    for split in SPLITS:
        (out / "images" / split).mkdir(parents=True, exist_ok=True)
        (out / "labels" / split).mkdir(parents=True, exist_ok=True)
    for sample, info in TQDM(readable, desc=f"write {fmt}"):
        _write_sample(sample, info, classmap, out, options.task, link, report)
    # No `path:` key: Ultralytics then resolves train/val against this file's folder, wherever it is moved.
    data = {"train": "images/train", "val": "images/val", "names": dict(enumerate(classmap.names))}
    (out / "data.yaml").write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    (out / REPORT_NAME).write_text(json.dumps(report.to_dict(), indent=1), encoding="utf-8")
    return report
