"""The teacher's labels of unlabelled frames: predictions cached and resumed, per-class F1 thresholds, uncertain
boxes painted out, and the refusals of bad pools before any work."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest
from conftest import distill_recipe

from pipeline.datasets.resolve import resolve_dataset
from pipeline.distill.teacher_labels import (
    IGNORE_FILL,
    cache_file,
    class_thresholds,
    predict_frames,
    teacher_imgsz,
    write_labels,
)


def test_boxes_become_labels_by_class_threshold_uncertain_ones_painted_grey(tmp_path):
    images, labels = tmp_path / "images", tmp_path / "labels"
    images.mkdir()
    frame = np.full((100, 200, 3), 30, np.uint8)
    cv2.imwrite(str(images / "f.png"), frame)  # PNG: pixel values survive the round trip exactly
    boxes = {"f.png": [[0, 0.90, 0.25, 0.5, 0.2, 0.4],    # car, sure: a label
                       [1, 0.40, 0.75, 0.5, 0.2, 0.4],    # pedestrian at 0.4 < its 0.5 threshold: uncertain
                       [0, 0.30, 0.30, 0.5, 0.2, 0.4],    # car at 0.3 < 0.6, overlapping the sure car: uncertain
                       [1, 0.02, 0.50, 0.1, 0.1, 0.1]]}   # below ignore_conf: background
    painted = write_labels(boxes, {0: 0.6, 1: 0.5}, 0.1, images, labels)
    assert painted == 2
    assert (labels / "f.txt").read_text() == "0 0.250000 0.500000 0.200000 0.400000\n"
    out = cv2.imread(str(images / "f.png"))
    assert (out[35:65, 135:165] == IGNORE_FILL).all(), "the uncertain pedestrian is grey"
    assert (out[35:65, 35:65] == 30).all(), "the sure car is restored over the uncertain car that overlaps it"
    assert (out[35:65, 71:79] == IGNORE_FILL).all(), "the part of the uncertain car outside the sure one is grey"
    assert (out[2:8, 95:105] == 30).all(), "a box below ignore_conf is left alone"
    write_labels(boxes, {0: 0.6, 1: 0.5}, None, images, labels)
    assert (labels / "f.txt").read_text() == "0 0.250000 0.500000 0.200000 0.400000\n"


@pytest.mark.slow
def test_predictions_are_cached_and_an_interrupted_labelling_resumes(tmp_path, synth_data, teacher_pt, monkeypatch):
    monkeypatch.setenv("ROADTUNE_CACHE", str(tmp_path / "cache"))
    frames = sorted((synth_data.parent / "images" / "train").glob("*"))[:5]
    cache = cache_file(teacher_pt, frames[:1], 1, 64, 1e-4)
    assert cache.parent == tmp_path / "cache" / "teacher-labels"
    first = predict_frames(teacher_pt, frames, 64, 1e-4, cache)
    assert sorted(first["boxes"]) == sorted(f.name for f in frames) and first["seconds"] > 0
    assert any(first["boxes"].values()), "the 1-epoch teacher says something above 1e-4"
    lines = cache.read_text().splitlines()
    cache.write_text("\n".join(lines[:2]) + "\n" + lines[2][:20])  # killed while writing the third frame
    again = predict_frames(teacher_pt, frames, 64, 1e-4, cache)
    assert again["boxes"] == first["boxes"]
    names = [json.loads(line)["frame"] for line in cache.read_text().splitlines()[3:]]
    assert sorted(names) == sorted(f.name for f in frames[2:]), "only the frames not yet cached are predicted"
    assert cache_file(teacher_pt, frames[:1], 1, 96, 1e-4) != cache, "another size is another cache"


@pytest.mark.slow
def test_f1_thresholds_come_from_the_teachers_validation(tmp_path, synth_yaml, teacher_pt):
    dataset = resolve_dataset(synth_yaml)
    fixed = class_thresholds(0.3, teacher_pt, dataset.yaml_path, 64, dataset.names, tmp_path / "val")
    assert fixed == dict.fromkeys(dataset.names, 0.3) and not (tmp_path / "val").exists()
    f1 = class_thresholds("f1", teacher_pt, dataset.yaml_path, 64, dataset.names, tmp_path / "val")
    assert set(f1) == set(dataset.names) and all(0 <= t <= 1 for t in f1.values())
    assert (tmp_path / "val").is_dir(), "the teacher's validation stays in the given folder"
    assert teacher_imgsz(teacher_pt, None, 320) == 64, "the size the teacher was trained at"
    assert teacher_imgsz(teacher_pt, 480, 320) == 480


@pytest.mark.parametrize("case", ["unreadable image", "empty video", "conf out of range", "ignore above conf"])
def test_bad_pools_and_thresholds_stop_before_any_work(case, synth_yaml, synth_data, teacher_pt, write_recipe,
                                                       tmp_path, capsys):
    from pipeline.run import main

    pool = tmp_path / "pool"
    pool.mkdir()
    for image in sorted((synth_data.parent / "images" / "train").glob("*"))[:2]:
        shutil.copyfile(image, pool / image.name)
    extra = {}
    if case == "unreadable image":
        (pool / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    elif case == "empty video":
        (tmp_path / "clip.mp4").write_bytes(b"")
    elif case == "conf out of range":
        extra = {"conf": 1.5}
    else:
        extra = {"conf": 0.2, "ignore_conf": 0.3}
    sources = [str(tmp_path / "clip.mp4")] if case == "empty video" else [str(pool)]
    recipe = distill_recipe(synth_yaml, str(teacher_pt), unlabeled=sources, method="none", **extra)
    runs = tmp_path / "runs"
    assert main([str(write_recipe(recipe)), "--runs-dir", str(runs)]) == 2
    err = capsys.readouterr().err
    expected = {"unreadable image": f"unreadable images in {pool}: broken.jpg",
                "empty video": f"a video that yields no frame (empty, or not a video OpenCV decodes): {tmp_path}",
                "conf out of range": "distill.conf",
                "ignore above conf": "ignore_conf 0.3 must be below conf 0.2"}[case]
    assert expected in err, err
    assert "Traceback" not in err and not runs.exists()
