"""The synthetic road set: a scene is a pure function of (seed, index); its labels are the visible polygons of the
five classes, inside the image; the set is generated once into the cache, keyed by its parameters."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from pipeline.datasets.synth import NAMES, SynthSpec, ensure_synth, render_scene


def test_a_scene_is_the_same_for_the_same_seed_and_index_only():
    spec = SynthSpec(width=128, height=96)
    image, labels = render_scene(spec, 3)
    again, labels_again = render_scene(spec, 3)
    assert image.shape == (96, 128, 3) and image.dtype == np.uint8
    assert np.array_equal(image, again) and all(
        a == b and np.array_equal(p, q) for (a, p), (b, q) in zip(labels, labels_again))
    assert not np.array_equal(image, render_scene(spec, 4)[0])
    assert not np.array_equal(image, render_scene(SynthSpec(width=128, height=96, seed=1), 3)[0])


def test_labels_are_visible_polygons_of_the_five_classes_inside_the_image():
    spec = SynthSpec(width=160, height=96)
    labels = [label for index in range(12) for label in render_scene(spec, index)[1]]
    assert len(labels) > 12 and {c for c, _ in labels} <= set(NAMES) and len(NAMES) == 5
    for _, polygon in labels:
        assert polygon.ndim == 2 and polygon.shape[1] == 2 and len(polygon) >= 3
        assert polygon.min() >= 0 and polygon.max() <= 1


def test_the_cache_key_follows_every_parameter():
    keys = {SynthSpec().key(), SynthSpec(train=8).key(), SynthSpec(seed=1).key(), SynthSpec(width=64).key()}
    assert len(keys) == 4 and SynthSpec().key() == SynthSpec().key() and len(SynthSpec().key()) == 10


@pytest.mark.parametrize("bad", [{"train": 0}, {"width": 32}, {"heigth": 96}])
def test_bad_parameters_are_refused(bad):
    with pytest.raises(ValidationError):
        SynthSpec(**bad)


def test_the_set_is_generated_once_into_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ROADTUNE_CACHE", str(tmp_path / "cache"))
    spec = SynthSpec(train=3, val=2, width=64, height=64, seed=7)
    root = ensure_synth(spec)
    assert root.is_relative_to(tmp_path / "cache") and json.loads((root / "spec.json").read_text()) == spec.model_dump()
    images = {split: sorted(p.name for p in (root / "images" / split).iterdir()) for split in ("train", "val")}
    assert images == {"train": ["00000.jpg", "00001.jpg", "00002.jpg"], "val": ["00003.jpg", "00004.jpg"]}
    rows = (root / "labels" / "val" / "00004.txt").read_text().splitlines()
    assert len(rows) == len(render_scene(spec, 4)[1])
    assert all(int(r.split()[0]) in NAMES and len(r.split()) % 2 == 1 for r in rows)
    stamp = os.stat(root / "images" / "train" / "00000.jpg").st_mtime_ns
    assert ensure_synth(spec) == root and os.stat(root / "images" / "train" / "00000.jpg").st_mtime_ns == stamp
    assert [p.name for p in Path(tmp_path / "cache").rglob("*.tmp*")] == []  # no half-written copy left
