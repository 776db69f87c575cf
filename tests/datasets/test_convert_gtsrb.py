"""GTSRB to image folders: both training layouts read (official GT-*.csv with PPM, Kaggle Train.csv with PNG), the
split drawn by track (a track never in both splits, seeded), folders numbered in the class map's order with
readable names in classes.yaml, ROI crops, images left out with their reason. Tiny sets written here."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from pipeline.datasets.convert_gtsrb import SignImage, convert_gtsrb, read_gtsrb, split_by_track
from pipeline.errors import UserError

ROI_HEADER = ["Width", "Height", "Roi.X1", "Roi.Y1", "Roi.X2", "Roi.Y2", "ClassId"]


def sign_image(path: Path, seed: int, size=(40, 30)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.random.default_rng(seed).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))
    return path


def kaggle(root: Path, tracks: dict[int, int], frames: int = 2, roi=(5, 5, 35, 25)) -> Path:
    """Train/<class>/<class>_<track>_<frame>.png and Train.csv: `tracks` is class id -> number of tracks."""
    rows = [",".join([*ROI_HEADER, "Path"])]
    for class_id, n in tracks.items():
        for track in range(n):
            for frame in range(frames):
                rel = f"Train/{class_id}/{class_id:05d}_{track:05d}_{frame:05d}.png"
                sign_image(root / rel, seed=len(rows))
                rows.append(",".join(map(str, [40, 30, *roi, class_id, rel])))
    (root / "Train.csv").write_text("\n".join(rows) + "\n")
    return root


def official(root: Path, class_id: int, names_rois: dict[str, tuple[int, int, int, int]]) -> Path:
    """Final_Training/Images/<class>/<track>_<frame>.ppm with GT-<class>.csv (semicolons)."""
    folder = root / "Final_Training" / "Images" / f"{class_id:05d}"
    rows = [";".join(["Filename", *ROI_HEADER])]
    for i, (name, roi) in enumerate(names_rois.items()):
        sign_image(folder / name, seed=i)
        rows.append(";".join(map(str, [name, 40, 30, *roi, class_id])))
    (folder / f"GT-{class_id:05d}.csv").write_text("\n".join(rows) + "\n")
    return root


def files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_the_kaggle_layout_is_read_with_track_frame_and_roi(tmp_path):
    signs = read_gtsrb(kaggle(tmp_path / "src", {14: 1}, frames=2, roi=(1, 2, 30, 20)))
    assert signs == [SignImage(tmp_path / "src/Train/14/00014_00000_00000.png", 14, "00000", "00000", (1, 2, 30, 20)),
                     SignImage(tmp_path / "src/Train/14/00014_00000_00001.png", 14, "00000", "00001", (1, 2, 30, 20))]


def test_the_official_layout_is_read_from_each_class_csv(tmp_path):
    src = official(tmp_path / "src", 13, {"00002_00007.ppm": (5, 5, 35, 25), "loose.ppm": (0, 0, 40, 30)})
    official(src, 14, {"00000_00000.ppm": (5, 5, 35, 25)})
    (src / "GT-final_test.csv").write_text("not a training file")  # the test set's CSV is not read
    signs = read_gtsrb(src)
    assert [(s.class_id, s.track, s.frame, s.path.name) for s in signs] == [
        (13, "00002", "00007", "00002_00007.ppm"), (13, "loose", "0", "loose.ppm"), (14, "00000", "00000",
                                                                                     "00000_00000.ppm")]


def test_the_split_is_by_track_seeded_and_keeps_a_single_track_class_in_train():
    signs = [SignImage(Path(f"{c}_{t}_{f}.png"), c, str(t), str(f), (0, 0, 1, 1))
             for c, n in ((1, 10), (2, 2), (3, 1)) for t in range(n) for f in range(3)]
    splits = split_by_track(signs, 0.2, seed=0)
    by_track = {}
    for sign, split in splits.items():
        by_track.setdefault((sign.class_id, sign.track), set()).add(split)
    assert all(len(s) == 1 for s in by_track.values())  # every frame of a track in one split
    val_tracks = {c: sum(s == {"val"} for (k, _), s in by_track.items() if k == c) for c in (1, 2, 3)}
    assert val_tracks == {1: 2, 2: 1, 3: 0}  # 20 % of 10, at least one of 2, none of a class's only track
    assert split_by_track(signs, 0.2, seed=0) == splits
    assert split_by_track(list(reversed(signs)), 0.2, seed=0) == splits  # the order signs come in does not matter


def test_a_kaggle_set_converts_to_numbered_folders_in_the_maps_order(tmp_path):
    src = kaggle(tmp_path / "src", {14: 3, 13: 1})
    report = convert_gtsrb(src, tmp_path / "out", val_fraction=0.34)
    out = tmp_path / "out"
    assert report.names == ("Yield", "Stop")  # the class map's order, not the ids'
    assert yaml.safe_load((out / "classes.yaml").read_text()) == {"nc": 2, "names": {0: "Yield", 1: "Stop"}}
    written = files(out)
    assert [f for f in written if f.startswith("val/")] == ["val/01/00014_00001_00000.png",
                                                            "val/01/00014_00001_00001.png"]
    assert len([f for f in written if f.startswith("train/01/")]) == 4 and len(
        [f for f in written if f.startswith("train/00/")]) == 2
    copied = out / "train/00/00013_00000_00000.png"
    assert copied.read_bytes() == (src / "Train/13/00013_00000_00000.png").read_bytes()  # a PNG is copied as is
    saved = json.loads((out / "convert_report.json").read_text())
    assert saved["counts"]["Stop"] == {"train images": 4, "train tracks": 2, "val images": 2, "val tracks": 1}
    assert saved["skipped"] == [] and saved["not_in_class_map"] == {}


def test_roi_crops_and_ppm_reencoding_and_what_is_skipped(tmp_path):
    src = official(tmp_path / "src", 14, {"00000_00000.ppm": (5, 4, 35, 24), "00001_00000.ppm": (30, 5, 50, 25),
                                          "00002_00000.ppm": (0, 0, 40, 30)})
    (src / "Final_Training/Images/00014/00002_00000.ppm").unlink()
    report = convert_gtsrb(src, tmp_path / "out", crop_roi=True, val_fraction=0.5)
    assert sorted(reason for _, reason in report.skipped) == [
        "ROI (30, 5, 50, 25) is empty or outside the 40x30 image", "listed in the CSV but missing"]
    (written,) = [p for p in (tmp_path / "out").rglob("*.png")]
    assert written.name == "00014_00000_00000.png" and cv2.imread(str(written)).shape == (20, 30, 3)


def test_all_keeps_class_ids_as_names_and_link_makes_symlinks(tmp_path):
    src = kaggle(tmp_path / "src", {7: 1, 2: 1})
    report = convert_gtsrb(src, tmp_path / "out", classes="all", link=True)
    assert report.names == ("2", "7")
    assert all(p.is_symlink() for p in (tmp_path / "out" / "train").rglob("*.png"))


@pytest.mark.parametrize("setup, message", [
    (lambda src: None, "is not a GTSRB training folder"),
    (lambda src: (src / "Train.csv").write_text("Path,ClassId\nTrain/1/a.png,1\n"), "lacks the columns"),
])
def test_a_folder_that_is_no_gtsrb_training_set_is_one_clear_error(tmp_path, setup, message):
    src = tmp_path / "src"
    src.mkdir()
    setup(src)
    with pytest.raises(UserError, match=message):
        convert_gtsrb(src, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.2])
def test_the_val_fraction_is_strictly_between_0_and_1(tmp_path, fraction):
    with pytest.raises(UserError, match="--val-fraction must be between 0 and 1"):
        convert_gtsrb(kaggle(tmp_path / "src", {14: 2}), tmp_path / "out", val_fraction=fraction)
