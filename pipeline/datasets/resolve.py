"""Dataset YAMLs as roadtune reads them: paths resolved, the synthetic set generated on demand."""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from pipeline.datasets.synth import NAMES as SYNTH_NAMES
from pipeline.datasets.synth import SynthSpec, ensure_synth
from pipeline.errors import UserError, brief
from pipeline.records import problems_of
from pipeline.textfile import read_text, read_yaml

CLASS_NAMES_FILE = "classes.yaml"  # readable names of an image-folder dataset's class folders (gtsrb_mini, gtsrb)
VAL_NAMES = ("val", "validation", "valid")  # Ultralytics' check_cls_dataset looks for these, in this order


@dataclass
class Dataset:
    """A dataset ready for Ultralytics: the YAML to pass, its root folder and class names."""

    yaml_path: Path
    root: Path
    names: dict[int, str]
    config: dict[str, Any]
    image_folder: bool = False  # a classification root (train/<class>/*): `yaml_path` is that folder itself

    def split_dirs(self, split: str) -> list[Path]:
        """Image folders (or image-list files) of a split, absolute, as Ultralytics 8.4.190 ``check_det_dataset``
        resolves them: against the root, a missing ``../x`` entry retried as ``x``."""
        entries = self.config.get(split) or []
        if isinstance(entries, str):
            path = (self.root / entries).resolve()
            if not path.exists() and entries.startswith("../"):
                path = (self.root / entries[3:]).resolve()
            return [path]
        return [(self.root / e).resolve() for e in entries]

    def label_dirs(self, split: str) -> list[Path]:
        """Label folders of a split's image folders, by Ultralytics 8.4.190 ``img2label_paths`` (last ``/images/``)."""
        from pipeline.ultralytics_api import img2label_paths

        # map a file inside the folder, not the folder: img2label_paths strips the last "." suffix of its input
        return [Path(label).parent for label in img2label_paths([d / "x.jpg" for d in self.split_dirs(split)])]

    def image_files(self, split: str) -> list[Path]:
        """The images of a split that training reads (see :func:`pipeline.datasets.images.image_files`)."""
        from pipeline.datasets.images import image_files

        entries = [entry for entry in self.split_dirs(split) if entry.exists()]
        return sorted(p for entry in entries for p in image_files(entry, prefix=f"{split}: "))


def read_dataset_yaml(path: Path) -> dict[str, Any]:
    """Parse a dataset YAML; missing or malformed files are UserErrors."""
    config = read_yaml(path, "dataset file")
    if not isinstance(config, dict) or "names" not in config or "train" not in config:
        raise UserError(f"dataset YAML {path} needs at least `train`, `val` and `names` keys")
    return config


def _class_names(path: Path, names: Any) -> dict[int, str]:
    """A dataset YAML's `names` (a list, or a mapping of integer ids) as id -> name; any other shape is refused."""
    if isinstance(names, list):
        return dict(enumerate(names))
    if isinstance(names, dict) and all(re.fullmatch(r"\d+", str(k)) for k in names):
        return {int(k): str(v) for k, v in names.items()}
    raise UserError(f"{path}: `names` must be a list of class names or a mapping of class id -> name, "
                    f"got {brief(names)}")


def _readable_names(path: Path, folders: dict[int, str]) -> dict[int, str]:
    """Readable class names from a classes.yaml (`names`: index -> name, index = position of the sorted folder)."""
    raw = read_yaml(path, "class names file")
    names = raw.get("names") if isinstance(raw, dict) else None
    names = dict(enumerate(names)) if isinstance(names, list) else names
    keys = [str(k) for k in names] if isinstance(names, dict) else []
    if sorted(int(k) for k in keys if k.isdigit()) != list(folders):
        raise UserError(f"{path}: `names` must give a name to each of the {len(folders)} class folders "
                        f"(indices 0..{len(folders) - 1}, in sorted folder order)")
    return {int(k): str(v) for k, v in sorted(names.items(), key=lambda kv: int(kv[0]))}


def resolve_image_folder(root: Path) -> Dataset:
    """An image-folder classification dataset (train/<class>/*, val/<class>/*). Classes are the sorted train folder
    names, as Ultralytics reads them, shown by their readable names when a `classes.yaml` lies beside them.
    """
    train = root / "train"
    folders = sorted(d.name for d in train.iterdir() if d.is_dir()) if train.is_dir() else []
    if not folders:
        raise UserError(f"{root}: an image-folder dataset needs train/<class>/ folders of images (and val/<class>/)")
    names = dict(enumerate(folders))
    if (root / CLASS_NAMES_FILE).exists():  # one that cannot be read is an error, not ignored
        names = _readable_names(root / CLASS_NAMES_FILE, names)
    val = next((n for n in VAL_NAMES if (root / n).is_dir()), None)
    config = {"train": "train", "val": val, "names": names}
    return Dataset(root.resolve(), root.resolve(), names, config, image_folder=True)


def resolve_dataset(path: Path) -> Dataset:
    """Resolve a dataset YAML, or an image-folder root for classify. A `roadtune_synth` section is generated (once,
    cached) and a resolved YAML with an absolute `path:` is written beside the generated data, so Ultralytics reads
    it from any folder.
    """
    if path.is_dir():
        return resolve_image_folder(path)
    config = read_dataset_yaml(path)
    names = _class_names(path, config["names"])
    if "roadtune_synth" in config:
        # every check before generating: a refused YAML must not leave a generated set in the cache
        if names != SYNTH_NAMES:
            raise UserError(f"{path}: a `roadtune_synth` dataset's names are fixed: {SYNTH_NAMES} (got {names}); "
                            "copy them from datasets/synth-road.yaml")
        try:
            spec = SynthSpec.model_validate(config.pop("roadtune_synth") or {})
        except ValidationError as exc:
            raise UserError(f"{path}: bad `roadtune_synth` section: {problems_of(exc)}") from None
        root = ensure_synth(spec)
        resolved = root / f"{path.stem}.yaml"
        config["path"] = str(root)
        if not resolved.is_file():
            resolved.write_text(yaml.safe_dump(config, sort_keys=False))
        return Dataset(resolved, root, names, config)
    return Dataset(path.resolve(), dataset_root(config, path), names, config)


def dataset_root(config: dict[str, Any], yaml_path: Path) -> Path:
    """The folder split entries are relative to, by Ultralytics 8.4.190 ``check_det_dataset``: ``path:`` as given
    (relative to the working directory, else under DATASETS_DIR), or without it the YAML's own folder."""
    from pipeline.ultralytics_api import DATASETS_DIR

    root = Path(config["path"]) if config.get("path") else yaml_path.resolve().parent
    if not root.exists() and not root.is_absolute():
        root = DATASETS_DIR / root
    return root.resolve()


def has_segment_labels(dataset: Dataset) -> bool:
    """True when the train labels carry polygons (class plus at least 3 points), as segment training needs.
    Reads the label files training reads: Ultralytics 8.4.190 ``img2label_paths`` of the split's images."""
    from pipeline.ultralytics_api import img2label_paths

    labels = (Path(p) for p in img2label_paths(dataset.image_files("train")))
    for label in islice((p for p in labels if p.is_file()), 200):
        try:
            lines = read_text(label, "label file").splitlines()
        except UserError:
            continue  # the dataset check reports it
        for line in lines:
            if len(line.split()) > 6:  # Ultralytics 8.4.190 verify_image_label: over 6 values is a segment
                return True
    return False
