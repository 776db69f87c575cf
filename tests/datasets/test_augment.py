"""Road-condition presets: validation, effect on pixels and labels through Ultralytics' own Albumentations wrapper,
the preview grid, and a real tiny training run that applies them."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import write_synth_yaml

os.environ["YOLO_OFFLINE"] = "1"

from pipeline.datasets.augment import build_augmentations, preview  # noqa: E402
from pipeline.datasets.synth import SynthSpec, render_scene  # noqa: E402
from pipeline.recipe.augment import PRESETS, AugmentConfig  # noqa: E402

N_TRAIN = 8


@pytest.fixture(scope="module")
def road_data(tmp_path_factory) -> Path:
    """The resolved data.yaml of a tiny synthetic road dataset (8 train, 2 val images at 128x96)."""
    from pipeline.datasets.resolve import resolve_dataset

    return resolve_dataset(write_synth_yaml(tmp_path_factory.mktemp("road"), train=N_TRAIN, val=2)).yaml_path


def ultralytics_albumentations(cfg: AugmentConfig):
    """The transform exactly as training builds it: serialised by the trainer, restored by Albumentations."""
    import albumentations as A
    from ultralytics.data.augment import Albumentations

    return Albumentations(p=1.0, transforms=[A.to_dict(t) for t in build_augmentations(cfg)])


def road_labels() -> dict:
    """A synthetic road image with its boxes as Ultralytics' dataset hands them to the transforms."""
    from ultralytics.utils.instance import Instances

    image, polygons = render_scene(SynthSpec(width=320, height=192), index=3)
    boxes = np.array([[*p.min(0), *p.max(0)] for _, p in polygons], dtype=np.float32)
    instances = Instances(boxes, segments=np.zeros((0, 1000, 2), np.float32), bbox_format="xyxy", normalized=True)
    instances.denormalize(320, 192)
    return {"img": image, "cls": np.array([[c] for c, _ in polygons], np.float32), "instances": instances}


@pytest.mark.parametrize("preset", list(PRESETS))
def test_preset_changes_pixels_and_keeps_labels(preset):
    transform = ultralytics_albumentations(AugmentConfig(presets=[preset], p=1.0))
    labels = road_labels()
    before_img, before_cls = labels["img"].copy(), labels["cls"].copy()
    before_boxes = labels["instances"].bboxes.copy()
    out = transform(labels)
    assert out["img"].shape == before_img.shape and out["img"].dtype == np.uint8
    assert np.abs(out["img"].astype(int) - before_img).mean() > 1.0, f"{preset} barely changed the image"
    assert len(out["cls"]) == len(before_cls) > 0 and (out["cls"] == before_cls).all()
    boxes = out["instances"]
    boxes.convert_bbox("xyxy")
    if boxes.normalized:  # a spatial transform would hand them back normalised
        boxes.denormalize(320, 192)
    np.testing.assert_allclose(boxes.bboxes, before_boxes, atol=1e-3)
    assert (boxes.bboxes >= 0).all() and (boxes.bboxes[:, 2] <= 320).all() and (boxes.bboxes[:, 3] <= 192).all()


def test_probability_zero_leaves_images_alone():
    labels = road_labels()
    before = labels["img"].copy()
    assert (ultralytics_albumentations(AugmentConfig(presets=list(PRESETS), p=0.0))(labels)["img"] == before).all()


def test_preview_grid_shows_the_preset(road_data, tmp_path):
    night = preview(road_data, AugmentConfig(presets=["night"], p=1.0), tmp_path / "night.jpg", n=4, imgsz=96)
    plain = preview(road_data, AugmentConfig(presets=["night"], p=0.0), tmp_path / "plain.jpg", n=4, imgsz=96)
    night_img, plain_img = cv2.imread(str(night)), cv2.imread(str(plain))
    assert night_img is not None and night_img.shape == plain_img.shape and min(night_img.shape[:2]) >= 96
    assert night_img.mean() < plain_img.mean() - 15  # same images and boxes, darker pixels


def test_preview_cli_rejects_unknown_preset(road_data, tmp_path, capsys):
    from pipeline.datasets.__main__ import main

    assert main(["preview", str(road_data), "--augment", "rain,hail", "--out", str(tmp_path / "g.jpg")]) == 2
    assert "valid presets: rain, fog" in capsys.readouterr().err
    assert not (tmp_path / "g.jpg").exists()


@pytest.mark.slow
def test_training_really_applies_the_presets(road_data, tmp_path, monkeypatch):
    """Count RandomFog applications during a real 1-epoch training: once per training image (p=1)."""
    import albumentations as A
    from ultralytics import YOLO

    calls = []
    original = A.RandomFog.apply

    def counting_apply(self, img, *args, **kwargs):
        calls.append(img.shape)
        return original(self, img, *args, **kwargs)

    # patched on the class: the trainer serialises the transforms and the dataset rebuilds new instances
    monkeypatch.setattr(A.RandomFog, "apply", counting_apply)
    YOLO("yolov8n.yaml").train(data=str(road_data), epochs=1, imgsz=64, batch=8, workers=0, device="cpu",
                               augmentations=build_augmentations(AugmentConfig(presets=["fog"], p=1.0)),
                               project=str(tmp_path), name="fog", plots=False, val=False, amp=False, verbose=False)
    assert len(calls) == N_TRAIN
    assert all(shape == (64, 64, 3) for shape in calls)  # applied to the training-size images, after mosaic
