"""Pascal VOC reader: ``Annotations/*.xml`` + ``JPEGImages/``, split by ``ImageSets/Main/{train,val}.txt`` if present.

With those lists, only the images they name are converted (VOC2012 also annotates images of other tasks).
VOC pixel coordinates are 1-based (``xmin=1`` is the first column); they are shifted by one to the 0-based
convention, as Ultralytics' own VOC.yaml conversion does. ``difficult`` objects are dropped unless
``--keep-difficult``. When the file an annotation's ``<filename>`` names is missing, the image with the annotation's
stem is used (and counted in the report).
"""

from __future__ import annotations

import glob
import xml.etree.ElementTree as ET
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
from pipeline.textfile import read_bytes, read_text

KNOWN_CLASSES = ("aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
                 "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train",
                 "tvmonitor")
BY_STEM = "image found by the annotation's stem (<filename> missing)"


def _object(node: ET.Element) -> SourceObject:
    """One ``<object>``: name and 0-based box; ValueError when a field is missing or not a number."""
    name, box = node.findtext("name"), node.find("bndbox")
    if not name or box is None:
        raise ValueError("object without <name> or <bndbox>")
    x1, y1, x2, y2 = (float(box.findtext(k) or "nan") - 1 for k in ("xmin", "ymin", "xmax", "ymax"))
    if any(v != v for v in (x1, y1, x2, y2)):  # NaN: a coordinate tag is missing
        raise ValueError("<bndbox> lacks xmin, ymin, xmax or ymax")
    return SourceObject(name.strip(), box=(x1, y1, x2, y2))


def _image(images: Path, filename: str, stem: str, source: Source) -> Path | None:
    """The image an annotation names; when that file is missing, the one image in ``JPEGImages/`` with the
    annotation's stem (labelling tools write ``x.png`` into the XML of ``x.jpg``). None, reported, when neither."""
    named = images / filename
    if named.is_file():
        return named
    found = sorted(p for p in images.glob(f"{glob.escape(stem)}.*") if is_image(p))
    if len(found) == 1:
        source.recovered[BY_STEM] += 1
        return found[0]
    reason = f"{len(found)} images named {stem}.* ({', '.join(p.name for p in found)})" if found else \
        f"no image named {stem}.*"
    source.problems.append((str(named), f"image skipped: <filename> not in JPEGImages/ and {reason} there"))
    return None


def _sample(xml_file: Path, images: Path, options: ReadOptions, source: Source) -> Sample | None:
    """Parse one annotation file; unusable files and objects are reported."""
    try:  # bytes, not text: an XML file declares its own encoding
        root = ET.fromstring(read_bytes(xml_file, "VOC annotation file"))
    except UserError as exc:
        source.problems.append((str(xml_file), f"annotation skipped: {exc}"))
        return None
    except ET.ParseError as exc:
        source.problems.append((str(xml_file), f"annotation skipped: malformed XML ({exc})"))
        return None
    image = _image(images, (root.findtext("filename") or f"{xml_file.stem}.jpg").strip(), xml_file.stem, source)
    if image is None:
        return None
    objects = []
    for i, node in enumerate(root.iter("object")):
        if node.findtext("difficult", "0").strip() == "1" and not options.keep_difficult:
            source.dropped["difficult"] += 1
            continue
        try:
            objects.append(_object(node))
        except ValueError as exc:
            source.problems.append((f"{xml_file} object {i}", f"object skipped: {exc}"))
    return Sample(image, str(xml_file), objects)


def _official_split(src: Path) -> dict[str, str]:
    """Image id -> split from ``ImageSets/Main/{train,val}.txt``; empty when those lists are absent."""
    lists = src / "ImageSets" / "Main"
    split = {}
    for name in ("train", "val"):
        if (lists / f"{name}.txt").is_file():
            lines = read_text(lists / f"{name}.txt", "VOC image list").splitlines()
            ids = (line.split()[0] for line in lines if line.strip())
            split |= dict.fromkeys(ids, name)
    return split


def read(src: Path, options: ReadOptions) -> Source:
    """Read a VOC folder (e.g. ``VOCdevkit/VOC2012``)."""
    require_task("voc", options.task, ("detect",))
    require_paths("voc", src, [src / "Annotations", src / "JPEGImages"])
    source = Source([], KNOWN_CLASSES)
    official = _official_split(src)
    for xml_file in require_files("voc", src / "Annotations", "*.xml"):
        if official and xml_file.stem not in official:
            source.dropped["not in ImageSets/Main train/val lists"] += 1
            continue
        sample = _sample(xml_file, src / "JPEGImages", options, source)
        if sample is not None:
            sample.split = official.get(xml_file.stem)
            source.samples.append(sample)
    return source
