"""GTSRB (German Traffic Sign Recognition Benchmark) -> an Ultralytics image-folder classification dataset.

Reads the official training layout (``Final_Training/Images/<class>/<track>_<frame>.ppm`` with ``GT-<class>.csv``,
semicolon-separated) or the Kaggle layout (``Train/<class>/<class>_<track>_<frame>.png`` with ``Train.csv``), and
writes ``train/NN/*.png``, ``val/NN/*.png`` (NN = output class id, zero-padded so sorted order is id order),
``classes.yaml`` (readable names, which :func:`pipeline.datasets.resolve.resolve_image_folder` reads) and
``convert_report.json``. All frames of a track show one physical sign, so the split is drawn by track: a track
never lands in both splits. ``crop_roi`` crops each image to its sign's ROI from the CSV.
"""

from __future__ import annotations

import io
import json
import os
import random
import shutil
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import pandas as pd
import yaml

from pipeline.datasets.classmap import ClassMap, resolve_classmap
from pipeline.datasets.convert import REPORT_NAME, prepare_out, require_images, require_mapped
from pipeline.datasets.resolve import CLASS_NAMES_FILE
from pipeline.errors import UserError
from pipeline.textfile import read_text

SPLITS = ("train", "val")
ROI = ["Roi.X1", "Roi.Y1", "Roi.X2", "Roi.Y2"]


@dataclass(frozen=True)
class SignImage:
    """One GTSRB image: file, class id, track and frame (from ``<track>_<frame>``), and the sign's ROI in pixels."""

    path: Path
    class_id: int
    track: str
    frame: str
    roi: tuple[int, int, int, int]


@dataclass
class GtsrbReport:
    """Images and tracks per output class and split, and every image left out with its reason."""

    out: Path
    names: tuple[str, ...]
    images: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    tracks: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    skipped: list[tuple[str, str]] = field(default_factory=list)
    dropped: Counter = field(default_factory=Counter)

    def table(self) -> pd.DataFrame:
        """Images (and tracks) per class (rows) and split (columns)."""
        rows = {name: {f"{s} {kind}": getattr(self, kind)[s][name] for s in SPLITS for kind in ("images", "tracks")}
                for name in self.names}
        return pd.DataFrame.from_dict(rows, orient="index")

    def to_dict(self) -> dict:
        """JSON-ready summary (written to ``convert_report.json``)."""
        return {"names": list(self.names), "counts": self.table().to_dict(orient="index"),
                "not_in_class_map": dict(self.dropped), "skipped": [{"file": f, "reason": r} for f, r in self.skipped]}

    def render(self, limit: int = 20) -> str:
        """Human-readable summary; at most ``limit`` skipped images are listed (all are in the JSON report)."""
        table = self.table()
        lines = [f"wrote {self.out} (image folders; names in {CLASS_NAMES_FILE})", table.to_string(),
                 "total: " + ", ".join(f"{c} {int(table[c].sum())}" for c in table.columns)]
        if self.dropped:
            lines.append("class ids not in the class map: " + ", ".join(f"{k} ({v} images)" for k, v in
                                                                       sorted(self.dropped.items())))
        lines.append(f"skipped: {len(self.skipped)}")
        lines += [f"  {f}: {r}" for f, r in self.skipped[:limit]]
        return "\n".join(lines)


def _read_csv(path: Path, sep: str) -> pd.DataFrame:
    """A GTSRB annotation CSV with its ROI and ClassId columns; a clear error when they are missing."""
    text = read_text(path, "GTSRB annotation CSV")
    try:
        table = pd.read_csv(io.StringIO(text), sep=sep)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise UserError(f"cannot read {path}: {exc}") from None
    missing = [c for c in [*ROI, "ClassId"] if c not in table.columns]
    if missing:
        raise UserError(f"{path} lacks the columns {missing} (found {list(table.columns)})")
    return table


def _sign(path: Path, row: pd.Series) -> SignImage:
    """A CSV row as a SignImage; the track and frame are the last two ``_`` parts of the file name (a name without
    them is a track of its own, which keeps the split track-safe)."""
    *_, track, frame = path.stem.split("_") if "_" in path.stem else (path.stem, "0")
    return SignImage(path, int(row["ClassId"]), track, frame, tuple(int(row[c]) for c in ROI))


def read_gtsrb(src: Path) -> list[SignImage]:
    """Every annotated image of an official (GT-*.csv, ';') or Kaggle (Train.csv, ',') GTSRB training folder."""
    official = sorted(src.rglob("GT-[0-9]*.csv"))  # per-class files; not Final_Test's GT-final_test.csv
    if official:
        return [_sign(csv.parent / row["Filename"], row)
                for csv in official for _, row in _read_csv(csv, ";").iterrows()]
    if (src / "Train.csv").exists():  # one that cannot be read is named, not taken for a missing file
        return [_sign(src / row["Path"], row) for _, row in _read_csv(src / "Train.csv", ",").iterrows()]
    raise UserError(f"{src} is not a GTSRB training folder",
                    ["official layout: Final_Training/Images/<class>/GT-<class>.csv (none found)",
                     "Kaggle layout: Train.csv beside Train/<class>/ (not found)"])


def split_by_track(signs: list[SignImage], val_fraction: float, seed: int) -> dict[SignImage, str]:
    """Per class, a seeded `val_fraction` of the tracks (at least one when the class has two) goes to val."""
    tracks = defaultdict(set)
    for sign in signs:
        tracks[sign.class_id].add(sign.track)
    val = set()
    for class_id, ids in sorted(tracks.items()):
        ordered = sorted(ids)
        random.Random(f"{seed}-{class_id}").shuffle(ordered)
        n_val = min(max(1, round(len(ordered) * val_fraction)), len(ordered) - 1)
        val |= {(class_id, t) for t in ordered[:n_val]}
    return {s: "val" if (s.class_id, s.track) in val else "train" for s in signs}


def _write(sign: SignImage, dst: Path, crop_roi: bool, link: bool) -> None:
    """PNG at `dst`: the ROI crop, a lossless re-encode (PPM, which Ultralytics cannot read), or the file itself."""
    if not crop_roi and sign.path.suffix.lower() == ".png":
        if link:
            os.symlink(sign.path.resolve(), dst)
        else:
            shutil.copy2(sign.path, dst)
        return
    image = cv2.imread(str(sign.path), cv2.IMREAD_COLOR)
    if crop_roi:
        x1, y1, x2, y2 = sign.roi  # GTSRB corners; x2/y2 taken as exclusive, the borders are then symmetric
        image = image[max(y1, 0):y2, max(x1, 0):x2]
    cv2.imwrite(str(dst), image)


def _problem(sign: SignImage, crop_roi: bool) -> str | None:
    """Why an image cannot be converted, or None."""
    if not sign.path.is_file():
        return "listed in the CSV but missing"
    image = cv2.imread(str(sign.path), cv2.IMREAD_COLOR)
    if image is None:
        return "not a readable image"
    x1, y1, x2, y2 = sign.roi
    if crop_roi and not (0 <= x1 < x2 <= image.shape[1] and 0 <= y1 < y2 <= image.shape[0]):
        return f"ROI {sign.roi} is empty or outside the {image.shape[1]}x{image.shape[0]} image"
    return None


def usable_signs(signs: list[SignImage], classmap: ClassMap, crop_roi: bool,
                 report: GtsrbReport) -> list[tuple[SignImage, str]]:
    """The images to convert with their output class name; the rest are recorded in `report` with the reason."""
    from pipeline.ultralytics_api import TQDM

    usable = []
    for sign in TQDM(signs, desc="read gtsrb"):
        reason, cls = _problem(sign, crop_roi), classmap.index(str(sign.class_id))
        if reason:
            report.skipped.append((str(sign.path), reason))
        elif cls is None:
            report.dropped[sign.class_id] += 1
        else:
            usable.append((sign, classmap.names[cls]))
    return usable


def _prepare(out: Path, src: Path, overwrite: bool) -> None:
    """An empty `out`, or an earlier conversion there replaced (``--overwrite``); see convert.prepare_out."""
    prepare_out(out, src, overwrite)
    for split in SPLITS:
        shutil.rmtree(out / split, ignore_errors=True)
    (out / CLASS_NAMES_FILE).unlink(missing_ok=True)


def _write_names(out: Path, names: tuple[str, ...]) -> None:
    header = "# GTSRB readable class names; folder NN under train/ and val/ holds class NN\n"
    text = yaml.safe_dump({"nc": len(names), "names": dict(enumerate(names))}, sort_keys=False, allow_unicode=True)
    (out / CLASS_NAMES_FILE).write_text(header + text, encoding="utf-8")


def convert_gtsrb(src: Path, out: Path, classes: str = "road", val_fraction: float = 0.2, seed: int = 0,
                  crop_roi: bool = False, link: bool = False, overwrite: bool = False,
                  allow_unmapped: bool = False) -> GtsrbReport:
    """Convert a GTSRB training folder into image folders at `out`, split by track; return the report.

    Output classes are the class map's names that received images, in the map's order (folder NN = the NN-th).
    """
    from pipeline.ultralytics_api import TQDM

    if not 0.0 < val_fraction < 1.0:
        raise UserError(f"--val-fraction must be between 0 and 1 (exclusive), got {val_fraction}")
    if not src.is_dir():
        raise UserError(f"source folder not found: {src}")
    signs = read_gtsrb(src)
    seen = sorted({s.class_id for s in signs})
    classmap = resolve_classmap(classes, "gtsrb", [str(i) for i in seen], [])
    require_mapped(Counter(str(s.class_id) for s in signs), classmap, "gtsrb", classes, allow_unmapped)
    report = GtsrbReport(out, ())
    usable = usable_signs(signs, classmap, crop_roi, report)
    unmapped = Counter({f"class id {k} not in the class map": v for k, v in report.dropped.items()})
    require_images(bool(usable), "gtsrb", src, report.skipped, unmapped)  # before anything is written to `out`
    _prepare(out, src, overwrite)
    report.names = tuple(n for n in classmap.names if n in {name for _, name in usable})
    width = max(2, len(str(len(report.names) - 1)))
    splits = split_by_track([sign for sign, _ in usable], val_fraction, seed)
    tracks = set()
    for sign, name in TQDM(usable, desc="write gtsrb"):
        split = splits[sign]
        folder = out / split / f"{report.names.index(name):0{width}d}"
        folder.mkdir(parents=True, exist_ok=True)
        _write(sign, folder / f"{sign.class_id:05d}_{sign.track}_{sign.frame}.png", crop_roi, link)
        report.images[split][name] += 1
        report.tracks[split][name] += (sign.class_id, sign.track, split) not in tracks
        tracks.add((sign.class_id, sign.track, split))
    _write_names(out, report.names)
    (out / REPORT_NAME).write_text(json.dumps(report.to_dict(), indent=1), encoding="utf-8")
    return report
