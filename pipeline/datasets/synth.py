"""Deterministic synthetic road scenes: the offline default dataset (boxes and instance polygons).

Each image is a perspective road with lane markings, sky and roadside, and cars, trucks, pedestrians, traffic
signs and lights at varied depth, size, occlusion and lighting. Objects are painted far to near into an
instance-id map, so each label is the *visible* part: the polygon of its visible mask and the box around it.

>>> from pipeline.datasets.synth import SynthSpec, render_scene
>>> image, labels = render_scene(SynthSpec(), index=0)
>>> image.shape, all(0 <= c < 5 for c, _ in labels)
((192, 320, 3), True)
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from pipeline.cache import SYNTH, cache_root

NAMES = {0: "car", 1: "truck", 2: "pedestrian", 3: "traffic_sign", 4: "traffic_light"}
MIN_VISIBLE_PX = 24  # smaller visible remnants are unlabelled clutter, as in real annotation guides


class SynthSpec(BaseModel):
    """Parameters of a synthetic set; the cache folder is keyed by them, so a change regenerates."""

    model_config = ConfigDict(extra="forbid")
    version: int = 1
    train: int = Field(96, gt=0)
    val: int = Field(32, gt=0)
    width: int = Field(320, ge=64)
    height: int = Field(192, ge=64)
    seed: int = 0

    def key(self) -> str:
        return hashlib.sha1(self.model_dump_json().encode()).hexdigest()[:10]


def _sky_and_ground(rng: np.random.Generator, w: int, h: int, light: float) -> tuple[np.ndarray, int]:
    """Sky gradient, roadside ground, perspective road with dashed lanes. Returns the image and horizon row."""
    horizon = int(h * rng.uniform(0.33, 0.45))
    img = np.zeros((h, w, 3), np.float32)
    top, bottom = np.array([200, 150, 90]) * light, np.array([235, 215, 190]) * light
    t = np.linspace(0, 1, horizon)[:, None, None]
    img[:horizon] = top * (1 - t) + bottom * t
    img[horizon:] = np.array(rng.choice([[70, 110, 80], [110, 120, 125], [80, 95, 100]])) * light
    vx = int(w * rng.uniform(0.4, 0.6))
    road = np.array([[vx - 4, horizon], [vx + 4, horizon], [w + w // 3, h], [-w // 3, h]], np.int32)
    cv2.fillPoly(img, [road], tuple(float(c) for c in np.array([85, 85, 88]) * light))
    for lane in (-1 / 3, 0.0, 1 / 3):
        x_bottom = w / 2 + lane * w * 1.4
        for s in np.arange(0.0, 1.0, 0.12):
            p0 = (vx + (x_bottom - vx) * s, horizon + (h - horizon) * s)
            p1 = (vx + (x_bottom - vx) * (s + 0.06), horizon + (h - horizon) * (s + 0.06))
            width = max(1, int(4 * (s + 0.06)))
            cv2.line(img, tuple(map(int, p0)), tuple(map(int, p1)), (230 * light,) * 3, width)
    return img, horizon


def _draw_car(img, ids, iid, x, y, s, rng, truck: bool) -> None:
    """A car (or truck) whose bottom centre is (x, y) at scale s (pixels per metre-ish)."""
    color = tuple(float(c) for c in rng.integers(20, 235, 3))
    w, hgt = (2.6 * s, 3.2 * s) if truck else (1.9 * s, 1.5 * s)
    body = np.array([[x - w / 2, y - hgt * 0.55], [x + w / 2, y - hgt * 0.55], [x + w / 2, y], [x - w / 2, y]])
    top_w = w * (0.95 if truck else 0.7)
    cabin = np.array([[x - top_w / 2, y - hgt], [x + top_w / 2, y - hgt], [x + w / 2, y - hgt * 0.5],
                      [x - w / 2, y - hgt * 0.5]])
    for poly, col in ((cabin, color), (body, color)):
        cv2.fillPoly(img, [poly.astype(np.int32)], col)
        cv2.fillPoly(ids, [poly.astype(np.int32)], iid)
    glass = cabin * [1, 1] + [[0, hgt * 0.12], [0, hgt * 0.12], [0, -hgt * 0.05], [0, -hgt * 0.05]]
    glass[:, 0] = x + (glass[:, 0] - x) * 0.85
    cv2.fillPoly(img, [glass.astype(np.int32)], (60.0, 50.0, 40.0))
    for wx in (x - w * 0.32, x + w * 0.32):
        cv2.ellipse(img, (int(wx), int(y)), (max(1, int(s * 0.3)), max(1, int(s * 0.15))), 0, 0, 360, (20.0,) * 3, -1)


def _draw_pedestrian(img, ids, iid, x, y, s, rng) -> None:
    """A pedestrian standing at (x, y): legs, torso, head."""
    hgt, cloth = 1.75 * s, tuple(float(c) for c in rng.integers(10, 200, 3))
    leg = max(1, int(s * 0.12))
    for dx in (-0.1 * s, 0.1 * s):
        for target, val in ((img, (40.0, 40.0, 60.0)), (ids, iid)):
            cv2.line(target, (int(x + dx), int(y)), (int(x), int(y - hgt * 0.48)), val, leg)
    torso = np.array([[x - 0.22 * s, y - hgt * 0.82], [x + 0.22 * s, y - hgt * 0.82], [x + 0.2 * s, y - hgt * 0.45],
                      [x - 0.2 * s, y - hgt * 0.45]]).astype(np.int32)
    head = (int(x), int(y - hgt * 0.9))
    r = max(1, int(0.12 * s))
    for target, val, skin in ((img, cloth, (150.0, 170.0, 210.0)), (ids, iid, iid)):
        cv2.fillPoly(target, [torso], val)
        cv2.circle(target, head, r, skin, -1)


def _draw_pole_object(img, ids, iid, x, y, s, rng, light_kind: bool) -> None:
    """A traffic sign (round or triangular plate) or a traffic light on a pole; the label is the plate or box."""
    top = y - 3.0 * s
    cv2.line(img, (int(x), int(y)), (int(x), int(top)), (120.0,) * 3, max(1, int(s * 0.08)))
    if light_kind:
        box = np.array([[x - 0.2 * s, top - 0.9 * s], [x + 0.2 * s, top - 0.9 * s], [x + 0.2 * s, top],
                        [x - 0.2 * s, top]]).astype(np.int32)
        cv2.fillPoly(img, [box], (25.0, 25.0, 25.0))
        cv2.fillPoly(ids, [box], iid)
        lit = int(rng.integers(0, 3))
        for k, col in enumerate([(40.0, 40.0, 230.0), (40.0, 200.0, 230.0), (60.0, 220.0, 60.0)]):
            c = col if k == lit else tuple(v * 0.25 for v in col)
            cv2.circle(img, (int(x), int(top - 0.75 * s + k * 0.3 * s)), max(1, int(0.1 * s)), c, -1)
        return
    if rng.random() < 0.5:
        r = max(2, int(0.35 * s))
        center = (int(x), int(top - r))
        cv2.circle(img, center, r, (30.0, 30.0, 210.0), -1)
        cv2.circle(img, center, max(1, int(r * 0.7)), (240.0, 240.0, 240.0), -1)
        cv2.circle(ids, center, r, iid, -1)
    else:
        tri = np.array([[x, top - 0.7 * s], [x + 0.4 * s, top], [x - 0.4 * s, top]]).astype(np.int32)
        cv2.fillPoly(img, [tri], (30.0, 30.0, 210.0))
        cv2.fillPoly(ids, [tri], iid)


def _place(rng: np.random.Generator, w: int, h: int, horizon: int) -> list[tuple[int, float, float, float]]:
    """Random objects as (class, x, y_bottom, scale), sorted far to near so nearer ones occlude."""
    objects = []
    for _ in range(int(rng.integers(3, 9))):
        cls = int(rng.choice(5, p=[0.42, 0.12, 0.22, 0.12, 0.12]))
        depth = rng.uniform(0.08, 1.0) ** 1.3
        y = horizon + depth * (h - horizon)
        s = max(2.0, depth * h * 0.18)
        spread = 0.35 if cls in (0, 1) else 0.55
        side = rng.uniform(-spread, spread) if cls in (0, 1) else rng.choice([-1, 1]) * rng.uniform(0.3, spread)
        objects.append((cls, w / 2 + side * w * depth * 1.3, y, s))
    return sorted(objects, key=lambda o: o[2])


def render_scene(spec: SynthSpec, index: int) -> tuple[np.ndarray, list[tuple[int, np.ndarray]]]:
    """Render scene `index`: a BGR uint8 image and its labels as (class, polygon Nx2 normalised to [0, 1])."""
    rng = np.random.default_rng([spec.seed, index])
    w, h = spec.width, spec.height
    light = rng.uniform(0.35, 1.15)  # night to bright day
    img, horizon = _sky_and_ground(rng, w, h, light)
    ids = np.zeros((h, w), np.int32)
    objects = _place(rng, w, h, horizon)
    for iid, (cls, x, y, s) in enumerate(objects, start=1):
        if cls in (0, 1):
            _draw_car(img, ids, iid, x, y, s, rng, truck=cls == 1)
        elif cls == 2:
            _draw_pedestrian(img, ids, iid, x, y, s, rng)
        else:
            _draw_pole_object(img, ids, iid, x, y, s, rng, light_kind=cls == 4)
    gamma = rng.uniform(0.8, 1.25)
    img = 255.0 * (np.clip(img, 0, 255) / 255.0) ** gamma + rng.normal(0, rng.uniform(2, 8), img.shape)
    image = np.clip(img, 0, 255).astype(np.uint8)
    return image, _visible_polygons(ids, objects, w, h)


def _visible_polygons(ids: np.ndarray, objects: list, w: int, h: int) -> list[tuple[int, np.ndarray]]:
    """The largest visible contour of each instance, simplified and normalised; tiny remnants dropped."""
    labels = []
    for iid, (cls, *_rest) in enumerate(objects, start=1):
        mask = (ids == iid).astype(np.uint8)
        if mask.sum() < MIN_VISIBLE_PX:
            continue
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        contour = cv2.approxPolyDP(max(contours, key=cv2.contourArea), 1.0, True).reshape(-1, 2)
        if len(contour) >= 3:
            labels.append((cls, contour.astype(np.float64) / [w, h]))
    return labels


def write_split(root: Path, split: str, spec: SynthSpec, start: int, count: int) -> None:
    """Write `count` scenes of one split as JPEG images and YOLO polygon labels."""
    (root / "images" / split).mkdir(parents=True, exist_ok=True)
    (root / "labels" / split).mkdir(parents=True, exist_ok=True)
    for index in range(start, start + count):
        image, labels = render_scene(spec, index)
        cv2.imwrite(str(root / "images" / split / f"{index:05d}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 92])
        lines = [f"{c} " + " ".join(f"{v:.6f}" for v in poly.clip(0, 1).ravel()) for c, poly in labels]
        (root / "labels" / split / f"{index:05d}.txt").write_text("\n".join(lines) + ("\n" if lines else ""))


def ensure_synth(spec: SynthSpec) -> Path:
    """Generate the set once into the cache (atomic: a half-written set is never used); return its folder."""
    root = cache_root() / f"{SYNTH}-{spec.key()}"
    if (root / "spec.json").is_file():
        return root
    tmp = root.with_name(root.name + f".tmp{os.getpid()}")
    write_split(tmp, "train", spec, 0, spec.train)
    write_split(tmp, "val", spec, spec.train, spec.val)
    (tmp / "spec.json").write_text(json.dumps(spec.model_dump(), indent=2))
    try:
        tmp.rename(root)
    except OSError:  # another process finished first; its copy is identical
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return root
