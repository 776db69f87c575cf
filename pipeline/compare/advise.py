"""Advice before training: a freeze depth to start a sweep from, by the usual transfer-learning guidance.

Little data and a similar domain: freeze deep (all-but-head). Little data and a different domain: freeze the early
layers only. Much data: freeze little or nothing. "Much" follows Ultralytics' tips for best results (at least
1,500 images and 10,000 instances per class); "similar" means at least half of the dataset's classes are among the
checkpoint's classes (names compared after the COCO -> road class map, so `person` counts as `pedestrian`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from pipeline.checkpoints import read_checkpoint
from pipeline.datasets.classmap import CLASSMAP_DIR, read_classmap
from pipeline.datasets.resolve import Dataset
from pipeline.errors import UserError
from pipeline.recipe.freeze import backbone_length
from pipeline.textfile import read_text

MUCH_IMAGES_PER_CLASS, MUCH_INSTANCES_PER_CLASS = 1500, 10000
SIMILAR_OVERLAP = 0.5


@dataclass
class DatasetStats:
    """Size of a dataset's train split: images, and per class the instances and the images that show it."""

    train_images: int
    instances: dict[str, int]
    images_with: dict[str, int]
    classify: bool = False  # one image is one instance: only the images-per-class bar applies

    @property
    def much_data(self) -> bool:
        return all(self.images_with[c] >= MUCH_IMAGES_PER_CLASS and
                   (self.classify or self.instances[c] >= MUCH_INSTANCES_PER_CLASS) for c in self.instances)


def image_folder_stats(dataset: Dataset) -> DatasetStats:
    """Images per class of a classify image-folder dataset (its sorted train/<class>/ folders)."""
    from pipeline.datasets.images import is_image

    folders = sorted(d for d in dataset.split_dirs("train")[0].iterdir() if d.is_dir())
    counts = {name: sum(1 for p in folder.rglob("*") if is_image(p)) for name, folder in
              zip(dataset.names.values(), folders)}
    return DatasetStats(sum(counts.values()), counts, counts, classify=True)


def dataset_stats(dataset: Dataset) -> DatasetStats:
    """Count train images, and instances and images per class, from the YOLO label files (or the class folders)."""
    if dataset.image_folder:
        return image_folder_stats(dataset)
    images = sum(1 for d in dataset.split_dirs("train") for p in d.rglob("*") if p.suffix.lower() in
                 {".jpg", ".jpeg", ".png", ".bmp", ".webp"})
    instances, images_with = Counter(), Counter()
    for label_dir in dataset.label_dirs("train"):
        for label in label_dir.rglob("*.txt"):
            try:
                classes = [int(line.split()[0]) for line in read_text(label, "label file").splitlines() if line.strip()]
            except ValueError:
                raise UserError(f"{label}: not a YOLO label file (a row starts with no class id); run "
                                "`python -m pipeline.datasets check` on the dataset") from None
            instances.update(classes)
            images_with.update(set(classes))
    names = dataset.names
    return DatasetStats(images, {n: instances[i] for i, n in names.items()},
                        {n: images_with[i] for i, n in names.items()})


def checkpoint_names(path: Path) -> list[str]:
    """Class names a checkpoint was trained on: an Ultralytics checkpoint's or a state-dict file's `names`."""
    obj = read_checkpoint(path)
    names = obj.get("names") if isinstance(obj, dict) else None
    if names is None and isinstance(obj, dict) and hasattr(obj.get("ema") or obj.get("model"), "names"):
        names = (obj.get("ema") or obj["model"]).names
    if names is None:
        raise UserError(f"{path} records no class names: cannot judge the overlap with the dataset")
    return list(names.values()) if isinstance(names, dict) else list(names)


def _canonical(name: str, coco: dict[str, str]) -> str:
    return coco.get(name, name).lower().replace(" ", "_").replace("-", "_")


def class_overlap(dataset_names: list[str], pretrained: list[str]) -> list[str]:
    """The dataset classes the checkpoint knows, after mapping COCO names onto road classes."""
    coco = read_classmap(CLASSMAP_DIR / "coco.yaml").mapping
    known = {_canonical(n, coco) for n in pretrained}
    return [n for n in dataset_names if _canonical(n, coco) in known]


def decide(stats: DatasetStats, overlap: float | None, backbone: int) -> tuple[str, str]:
    """The freeze spec to start from and the reason, by data size and domain similarity."""
    if overlap is None:
        return "none", "no pretrained weights: frozen layers would keep their random values"
    if stats.much_data:
        return "none", "much data: fine-tune everything (or freeze little)"
    if overlap >= SIMILAR_OVERLAP:
        return "all-but-head", "little data, similar domain: keep the pretrained features, train the head"
    return str(backbone // 2), "little data, different domain: freeze the early (generic) layers only"


def advise(recipe_path: Path, overrides: list[str]) -> str:
    """The advice text for a recipe: the figures used, the starting freeze, and that it is a prior."""
    from pipeline.execute.prepare import prepare
    from pipeline.recipe.overrides import cli_paths_absolute
    from pipeline.recipe.schema import load_recipe

    recipe, base, problems = load_recipe(recipe_path, cli_paths_absolute(overrides))
    prepared = prepare(recipe, base, problems)
    stats = dataset_stats(prepared.dataset)
    source = prepared.weights_path or (None if prepared.model_source.endswith((".yaml", ".yml")) else
                                       Path(prepared.model_source))
    lines = [f"dataset {prepared.dataset_source}: {stats.train_images} train images",
             "  per class: " + ", ".join(f"{n} {stats.instances[n]} instances in {stats.images_with[n]} images"
                                         for n in stats.instances),
             f"  much data means >= {MUCH_IMAGES_PER_CLASS} images"
             + ("" if stats.classify else f" and >= {MUCH_INSTANCES_PER_CLASS} instances")
             + f" for every class: {'yes' if stats.much_data else 'no'}"]
    overlap = None
    if source is None:
        lines.append(f"model {recipe.model} is an architecture without `weights:`: there is no pretrained class "
                     "list (and nothing pretrained to keep)")
    else:
        pretrained = checkpoint_names(source)
        shared = class_overlap(list(stats.instances), pretrained)
        overlap = len(shared) / max(len(stats.instances), 1)
        lines.append(f"checkpoint {source.name}: {len(pretrained)} classes; dataset classes it knows: "
                     f"{len(shared)}/{len(stats.instances)} ({', '.join(shared) or 'none'}), similar domain means "
                     f">= {SIMILAR_OVERLAP:.0%}: {'yes' if overlap >= SIMILAR_OVERLAP else 'no'}")
    spec, reason = decide(stats, overlap, backbone_length(prepared.model))
    lines += [f"start from: freeze: {spec}  ({reason})",
              "This is a prior to centre a sweep on, not a result: measure it with a `sweep:` over freeze depths "
              "(e.g. recipes/freeze-sweep.yaml) and python -m pipeline.compare."]
    return "\n".join(lines)
