"""Road-condition augmentation: the transforms of the recipe's ``augment:`` presets
(:class:`pipeline.recipe.augment.AugmentConfig`) and their preview grid.

:func:`build_augmentations` turns the section into the albumentations list passed as the Ultralytics train argument
``augmentations=``. Every preset is pixel-only (albumentations ``ImageOnlyTransform``), so Ultralytics'
``Albumentations`` wrapper (8.4.190, ``ultralytics/data/augment.py``) takes its non-spatial path and leaves boxes,
polygons and masks untouched.

Neither albumentations nor ultralytics is imported at module import time.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from pipeline.errors import UserError
from pipeline.recipe.augment import AugmentConfig


def _build_preset(name: str) -> Any:
    """Return the albumentations transform for one preset, always applied (``p=1``) once chosen.

    Pixel sizes (drops, flare, blur) are tuned for dash-cam frames at Ultralytics' default 640 px training size,
    where the transforms run (after mosaic and letterbox). Ultralytics feeds BGR images;
    the presets only add grey/white effects or change brightness, so channel order does not matter.
    """
    import albumentations as A

    builders = {
        "rain": lambda: A.RandomRain(slant_range=(-12, 12), drop_length=20, drop_width=1, blur_value=3,
                                     brightness_coefficient=0.8, rain_type="default", p=1.0),
        "fog": lambda: A.Sequential([
            # haze first (washed-out contrast), then RandomFog's soft blobs
            A.RandomBrightnessContrast(brightness_limit=(0.15, 0.3), contrast_limit=(-0.55, -0.4), p=1.0),
            A.RandomFog(fog_coef_range=(0.2, 0.4), alpha_coef=0.08, p=1.0),
        ], p=1.0),
        "night": lambda: A.Sequential([
            A.RandomBrightnessContrast(brightness_limit=(-0.45, -0.25), contrast_limit=(-0.3, -0.1), p=1.0),
            A.RandomGamma(gamma_limit=(120, 160), p=1.0),  # gamma > 1 crushes the shadows, as at night
            A.GaussNoise(std_range=(0.02, 0.05), p=1.0),  # high-ISO sensor noise
        ], p=1.0),
        "glare": lambda: A.RandomSunFlare(flare_roi=(0.0, 0.0, 1.0, 0.5), src_radius=200,
                                          num_flare_circles_range=(4, 8), method="physics_based", p=1.0),
        "motion_blur": lambda: A.MotionBlur(blur_limit=(5, 11), allow_shifted=False, p=1.0),
        "snow": lambda: A.Sequential([
            A.RandomSnow(snow_point_range=(0.15, 0.35), brightness_coeff=1.8, method="bleach", p=1.0),
            A.RandomRain(slant_range=(-3, 3), drop_length=2, drop_width=2, drop_color=(235, 235, 235), blur_value=1,
                         brightness_coefficient=0.95, rain_type="heavy", p=1.0),  # short thick drops read as flakes
        ], p=1.0),
    }
    return builders[name]()


def build_augmentations(cfg: AugmentConfig) -> list:
    """Return the ``augmentations=`` list for Ultralytics training: one of the presets, with probability ``cfg.p``."""
    import albumentations as A

    return [A.OneOf([_build_preset(name) for name in cfg.presets], p=cfg.p)]


def preview(data_yaml: Path, cfg: AugmentConfig, out: Path, n: int = 12, imgsz: int = 640, seed: int = 0) -> Path:
    """Write a grid of ``n`` training images as the trainer builds them with ``cfg`` (boxes drawn) to ``out``.

    Uses Ultralytics' own training dataset and transforms (mosaic off, so each tile is one image) and its
    ``plot_images``, so the grid shows what the model will see.
    """
    import numpy as np
    import torch

    from pipeline.datasets.resolve import resolve_dataset  # synthetic sets are generated on demand there
    from pipeline.ultralytics_api import YOLODataset, build_yolo_dataset, check_det_dataset, get_cfg, plot_images

    if n < 1:
        raise UserError(f"--n must be at least 1, got {n}")
    try:
        data = check_det_dataset(str(resolve_dataset(data_yaml).yaml_path), autodownload=False)
    except (FileNotFoundError, SyntaxError, TypeError, ValueError) as exc:
        raise UserError(f"{data_yaml}: {exc}") from None
    hyp = get_cfg(overrides={"imgsz": imgsz, "mosaic": 0.0, "augmentations": build_augmentations(cfg)})
    dataset = build_yolo_dataset(hyp, data["train"], batch=n, data=data, mode="train")
    # the dataset's transforms draw from the global generators; torch's seeds the albumentations pipeline
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    indices = random.Random(seed).sample(range(len(dataset)), min(n, len(dataset)))
    batch = YOLODataset.collate_fn([dataset[i] for i in indices])
    out.parent.mkdir(parents=True, exist_ok=True)
    plot_images(labels=batch, images=batch["img"], paths=batch["im_file"], fname=out, names=data["names"],
                max_subplots=n, threaded=False)
    return out
