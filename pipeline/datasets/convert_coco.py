"""COCO reader: ``annotations/instances_<split>.json`` converted by Ultralytics' ``convert_coco``, then class-mapped.

``convert_coco`` does the COCO -> YOLO work (crowd filtering, box centring, polygon joining); this module only
reads its output back as pixel-space objects so the common converter can apply the road class map, clip, check
and place the images like every other format. Images are looked up in ``images/<split>/``, ``<split>/`` or
``images/``. A JSON whose name holds ``val`` is the validation split, one holding ``train`` the training split.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from pipeline.datasets.source import ReadOptions, Sample, Source, SourceObject, require_files, require_task
from pipeline.errors import UserError
from pipeline.textfile import MAX_ANNOTATION_BYTES, check_text, read_json, read_text


def _image_dir(src: Path, stem: str) -> Path:
    """The folder holding the images of one annotation file."""
    candidates = [src / "images" / stem, src / stem, src / "images"]
    found = next((p for p in candidates if p.is_dir()), None)
    if found is None:
        raise UserError(f"{src} is not a coco layout: no image folder for instances_{stem}.json "
                        f"(looked for {', '.join(str(p.relative_to(src)) for p in candidates)})")
    return found


def _objects(label_file: Path, names: dict[int, str], width: int, height: int) -> list[SourceObject]:
    """Read one ``convert_coco`` label file back into pixel-space objects (class id = category_id - 1)."""
    if not label_file.is_file():  # convert_coco writes files for annotated images only
        return []
    objects = []
    for line in read_text(label_file, "label file").splitlines():
        cls, *values = line.split()
        xy = np.asarray(values, dtype=np.float64).reshape(-1, 2) * (width, height)
        label = names[int(cls) + 1]
        if len(xy) == 2:  # box row: centre and size
            (cx, cy), (w, h) = xy
            objects.append(SourceObject(label, box=(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)))
        else:
            objects.append(SourceObject(label, polygon=xy))
    return objects


def _read_json(json_file: Path, yolo_labels: Path, src: Path, source: Source) -> None:
    """Add the images of one annotation file, with the objects ``convert_coco`` wrote for them."""
    data = read_json(json_file, "COCO instances file", MAX_ANNOTATION_BYTES)
    names = {c["id"]: c["name"] for c in data["categories"]}
    source.known_classes += tuple(n for n in names.values() if n not in source.known_classes)
    stem = json_file.stem.removeprefix("instances_")  # the label folder name convert_coco uses
    split = "val" if "val" in stem else "train" if "train" in stem else None
    images = _image_dir(src, stem)
    files = {img["id"]: img["file_name"] for img in data["images"]}
    for ann in data["annotations"]:  # convert_coco drops these silently; report them
        if ann.get("iscrowd"):
            source.dropped["iscrowd"] += 1
        elif ann["bbox"][2] <= 0 or ann["bbox"][3] <= 0:
            source.problems.append((f"{json_file} [{files.get(ann['image_id'])}]",
                                    f"{names.get(ann['category_id'])}: degenerate box {ann['bbox']}"))
    for img in data["images"]:
        label_file = (yolo_labels / stem / img["file_name"]).with_suffix(".txt")
        objects = _objects(label_file, names, img["width"], img["height"])
        source.samples.append(Sample(images / img["file_name"], f"{json_file} [{img['file_name']}]", objects, split))


def read(src: Path, options: ReadOptions) -> Source:
    """Read a COCO folder holding ``annotations/instances_*.json`` and the images."""
    from pipeline.ultralytics_api import convert_coco

    require_task("coco", options.task, ("detect", "segment"))
    json_files = require_files("coco", src / "annotations", "instances_*.json")
    for json_file in json_files:  # Ultralytics' converter reads them first: refuse what is not text before it does
        check_text(json_file, "COCO instances file")
    source = Source([], ())
    with tempfile.TemporaryDirectory(prefix="roadtune-coco-") as tmp:
        for k, json_file in enumerate(json_files):  # one at a time, so that an error names its file
            annotations = Path(tmp) / f"annotations-{k}"  # only this file: convert_coco reads every *.json there
            annotations.mkdir()
            (annotations / json_file.name).symlink_to(json_file.resolve())
            try:
                # cls91to80=False: class id = category_id - 1 for any COCO-style file, not only the official 91 ids
                convert_coco(str(annotations), save_dir=str(Path(tmp) / f"yolo-{k}"),
                             use_segments=options.task == "segment", cls91to80=False)
                _read_json(json_file, Path(tmp) / f"yolo-{k}" / "labels", src, source)
            except (KeyError, TypeError, ValueError) as exc:
                raise UserError(f"{json_file}: not a COCO instances file ({exc!r})") from None
    return source
