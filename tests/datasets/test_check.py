"""Dataset check: a clean set passes, every planted problem is found, the shared real sets pass with known counts."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import shared_path

os.environ["YOLO_OFFLINE"] = "1"

from pipeline.datasets.__main__ import main  # noqa: E402
from pipeline.datasets.check import check_dataset  # noqa: E402
from pipeline.errors import UserError  # noqa: E402

S = 200  # fixture images are 200x200: a 0.1 box is 20x20 px (small), 0.25 is 50x50 (medium), 0.6 is 120x120 (large)


def write_image(path: Path, seed: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.random.default_rng(seed).integers(0, 255, (S, S, 3), dtype=np.uint8))
    return path


def make_dataset(root: Path, labels: dict[str, str], names: tuple[str, ...] = ("car", "pedestrian")) -> Path:
    """A YOLO dataset: ``labels`` maps ``split/stem`` to label text (None: no label file)."""
    for i, (key, text) in enumerate(labels.items()):
        split, stem = key.split("/")
        write_image(root / "images" / split / f"{stem}.jpg", seed=i)
        if text is not None:
            (root / "labels" / split).mkdir(parents=True, exist_ok=True)
            (root / "labels" / split / f"{stem}.txt").write_text(text)
    names_yaml = "".join(f"  {i}: {n}\n" for i, n in enumerate(names))
    (root / "data.yaml").write_text(f"train: images/train\nval: images/val\nnames:\n{names_yaml}")
    return root / "data.yaml"


CLEAN = {
    "train/a": "0 0.5 0.5 0.1 0.1\n1 0.3 0.3 0.25 0.25\n",
    "train/b": "0 0.5 0.5 0.6 0.6\n",
    "val/c": "1 0.2 0.2 0.1 0.1\n",
}


def test_clean_set_passes_with_counts_and_sizes(tmp_path, capsys):
    data = make_dataset(tmp_path, CLEAN)
    assert main(["check", str(data), "--json", str(tmp_path / "r.json")]) == 0
    out = capsys.readouterr().out
    assert "errors: 0" in out and "warnings: 0" in out and "OK" in out
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["ok"] and report["task"] == "detect"
    train, val = report["splits"]["train"], report["splits"]["val"]
    assert train["images"] == 2 and train["instances"] == {"car": 2, "pedestrian": 1}
    assert train["sizes"] == {"small": 1, "medium": 1, "large": 1}
    assert val["images"] == 1 and val["instances"] == {"pedestrian": 1} and val["sizes"] == {"small": 1}


def test_every_planted_problem_is_found(tmp_path):
    data = make_dataset(tmp_path, {
        **CLEAN,
        "train/range": "2 0.5 0.5 0.1 0.1\n",
        "train/coords": "0 1.2 0.5 0.1 0.1\n",
        "train/degenerate": "0 0.5 0.5 0.0 0.1\n",
        "train/odd": "0 0.1 0.1 0.2 0.2 0.3\n",
        "train/mixed": "0 0.1 0.1 0.5 0.1 0.3 0.6\n0 0.1 0.1 0.2 0.2\n",
        "train/text": "car 0.5 0.5 0.1 0.1\n",
        "train/zeroarea": "1 0.1 0.1 0.2 0.2 0.3 0.3\n",
        "train/nolabel": None,
        "train/empty": "",
        "train/edge": "0 0.95 0.5 0.2 0.2\n",
        "val/corrupt": "0 0.5 0.5 0.1 0.1\n",
    })
    (tmp_path / "images" / "val" / "corrupt.jpg").write_bytes(b"\xff\xd8 broken")
    shutil.copy(tmp_path / "images" / "train" / "a.jpg", tmp_path / "images" / "val" / "copy_of_a.jpg")
    report = check_dataset(data, "detect")
    errors = "\n".join(report.errors)
    assert not report.ok and len(report.errors) == 8, errors
    for expected in ("range.txt:1: class id 2 out of range 0-1", "coords.txt:1: coordinates out of [0, 1]",
                     "degenerate.txt:1: degenerate box", "odd.txt:1: odd number of coordinates",
                     "mixed.txt: mixes box rows and polygon rows", "text.txt:1: not all numbers",
                     "zeroarea.txt:1: zero-area polygon", "corrupt.jpg: not a readable image"):
        assert expected in errors
    warnings = "\n".join(report.warnings)
    assert "train: 1 images without a label file (trained as background): nolabel.jpg" in warnings
    assert "train: 1 images with an empty label file" in warnings
    assert "with boxes past the image edge (Ultralytics clips them): edge.jpg" in warnings
    assert "2 identical images:" in warnings and "copy_of_a.jpg" in warnings
    assert report.splits["train"].missing_labels == 1 and report.splits["val"].images == 2


DETECT_ONLY = ("box row (class cx cy w h): detect-only labels given to task: segment, which needs a polygon "
               "(class x1 y1 x2 y2 x3 y3 ...) on every row")
POLYGON = "0 0.1 0.1 0.5 0.1 0.3 0.6\n"


def test_segment_task_needs_polygons(tmp_path):
    data = make_dataset(tmp_path, {"train/a": "0 0.1 0.1 0.5 0.1 0.3 0.6\n0 0.1 0.1 0.2 0.2\n",
                                   "val/b": "1 0.1 0.1 0.2 0.2 0.3\n"})
    report = check_dataset(data, "segment")
    assert [e.split("/")[-1] for e in report.errors] == [f"a.txt:2: {DETECT_ONLY}",
                                                         "b.txt:1: odd number of coordinates (5)"]
    assert report.splits["train"].instances == {0: 1} and report.splits["train"].sizes == {"medium": 1}


def segment_errors(tmp_path: Path, capsys, label: str) -> list[str]:
    """The errors `check --task segment` prints (exit 1, no traceback) for a segment set with this train label
    file, `bad.txt`, each as `file:line: reason`, shortened to the file name."""
    data = make_dataset(tmp_path, {"train/a": POLYGON, "train/bad": label, "val/c": POLYGON})
    assert main(["check", str(data), "--task", "segment", "--json", str(tmp_path / "r.json")]) == 1
    out, err = capsys.readouterr()
    assert "FAILED" in out and "Traceback" not in out + err
    errors = json.loads((tmp_path / "r.json").read_text())["errors"]
    assert all(f"  - {e}" in out.splitlines() for e in errors)  # every problem listed
    return [e.removeprefix(str(tmp_path / "labels" / "train") + "/") for e in errors]


def test_segment_box_only_file_is_detect_only_labels(tmp_path, capsys):
    assert segment_errors(tmp_path, capsys, "0 0.5 0.5 0.1 0.1\n1 0.3 0.3 0.2 0.2\n") == [
        f"bad.txt:1: {DETECT_ONLY}", f"bad.txt:2: {DETECT_ONLY}"]


def test_segment_auto_task_finds_box_rows_among_polygons(tmp_path, capsys):
    data = make_dataset(tmp_path, {"train/a": POLYGON, "train/bad": "0 0.5 0.5 0.1 0.1\n", "val/c": POLYGON})
    assert main(["check", str(data)]) == 1  # --task auto: polygons in train make it a segment set
    out = capsys.readouterr().out
    assert "(segment, 2 classes)" in out and f"bad.txt:1: {DETECT_ONLY}" in out


@pytest.mark.parametrize("label, errors", [
    ("0 0.1 0.1\n1\n", ["bad.txt:1: polygon with fewer than 3 points (1)",
                         "bad.txt:2: polygon with fewer than 3 points (0)"]),
    (POLYGON + "0 0.1 0.1 1.5 0.1 0.3 0.6\n1 0.2 -0.25 0.5 0.1 0.3 0.6\n",
     ["bad.txt:2: coordinates out of [0, 1] (min 0.1, max 1.5)",
      "bad.txt:3: coordinates out of [0, 1] (min -0.25, max 0.6)"]),
])
def test_segment_short_polygons_and_coordinates_out_of_range(tmp_path, capsys, label, errors):
    assert segment_errors(tmp_path, capsys, label) == errors


def test_cli_exit_codes(tmp_path, capsys):
    data = make_dataset(tmp_path, {"train/a": "5 0.5 0.5 0.1 0.1\n", "val/b": "0 0.5 0.5 0.1 0.1\n"})
    assert main(["check", str(data)]) == 1
    assert "FAILED" in capsys.readouterr().out
    assert main(["check", str(tmp_path / "nope.yaml")]) == 2
    assert "dataset file not found" in capsys.readouterr().err
    with pytest.raises(UserError, match="task must be one of"):
        check_dataset(data, "pose")


@pytest.mark.parametrize("name, task, images, instances", [
    ("kitti_mini", "detect", (150, 50), (1079, 339)),
    ("camvid_seg_mini", "segment", (80, 20), (625, 121)),
    ("cctv_traffic_mini", "detect", (81, 20), (378, 85)),
    ("gtsrb_mini", "classify", (688, 172), (688, 172)),
])
def test_shared_real_datasets(name, task, images, instances):
    data = shared_path(f"data/{name}") / ("" if task == "classify" else "data.yaml")
    report = check_dataset(data, task)
    assert report.ok, report.render()
    assert tuple(report.splits[s].images for s in ("train", "val")) == images
    assert tuple(sum(report.splits[s].instances.values()) for s in ("train", "val")) == instances


REPO = Path(__file__).resolve().parents[2]


def cli(args: list[str], cwd: Path, module: str = "pipeline.datasets") -> subprocess.CompletedProcess:
    """``python -m <module> ARGS`` in a fresh process at ``cwd``, importing this checkout's ``pipeline``."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "YOLO_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def test_relative_yaml_without_path_key_from_repo_root():
    shared_path("data/kitti_mini/data.yaml")
    done = cli(["check", "../shared/data/kitti_mini/data.yaml"], cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "does not exist" not in done.stdout and "errors: 0" in done.stdout
    train = next(line.split() for line in done.stdout.splitlines() if line.startswith("train "))
    assert train[1:3] == ["150", "1079"]  # images, instances


def test_labels_are_read_from_the_last_images_folder(tmp_path):
    # the dataset lives under a folder named images/: only the last /images/ of a path maps to /labels/
    root = tmp_path / "images" / "road"
    polygons = "0 0.1 0.1 0.5 0.1 0.3 0.6\n1 0.2 0.2 0.6 0.2 0.4 0.7\n"
    data = make_dataset(root, {"train/a": polygons, "val/b": polygons})
    assert main(["check", str(data), "--json", str(tmp_path / "r.json")]) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["task"] == "segment"  # auto: the polygons were found in root/labels/train
    assert report["splits"]["train"]["instances"] == {"car": 1, "pedestrian": 1} and report["warnings"] == []


def test_non_finite_values_are_errors(tmp_path, capsys):
    data = make_dataset(tmp_path, {**CLEAN, "train/nan": "0 nan 0.5 0.1 0.1\n", "train/inf": "0 0.5 0.5 inf 0.1\n",
                                   "train/clsinf": "inf 0.5 0.5 0.1 0.1\n", "val/clsnan": "nan 0.5 0.5 0.1 0.1\n"})
    assert main(["check", str(data)]) == 1  # no OverflowError traceback for the class `inf`
    out = capsys.readouterr().out
    for stem in ("nan", "inf", "clsinf", "clsnan"):
        assert f"{stem}.txt:1: not all finite numbers (nan or inf)" in out
    assert "errors: 4" in out


def test_truncated_jpeg_is_an_error_and_no_image_is_rewritten(tmp_path):
    data = make_dataset(tmp_path, CLEAN)
    whole = (tmp_path / "images" / "train" / "a.jpg").read_bytes()
    truncated, trailing = tmp_path / "images" / "train" / "a.jpg", tmp_path / "images" / "val" / "c.jpg"
    truncated.write_bytes(whole[: len(whole) // 2])
    trailing.write_bytes(trailing.read_bytes() + b"tail")  # decodable, but no end marker: Ultralytics re-saves it
    before = {p: p.read_bytes() for p in (truncated, trailing)}
    report = check_dataset(data, "detect")
    assert len(report.errors) == 1 and report.errors[0].startswith(f"{truncated}: Ultralytics drops it from training")
    assert f"{trailing}: JPEG without end marker; Ultralytics will re-save it" in "\n".join(report.warnings)
    assert {p: p.read_bytes() for p in before} == before


def test_missing_labels_folder_is_an_error(tmp_path, capsys):
    data = make_dataset(tmp_path, {"train/a": None, "val/b": "0 0.5 0.5 0.1 0.1\n"})
    assert main(["check", str(data)]) == 1
    out = capsys.readouterr().out
    assert f"train: labels folder {tmp_path / 'labels' / 'train'} not found" in out
    assert "without a label file" not in out  # one error for the folder, not a warning per image


def test_run_preflight_stops_on_a_missing_labels_folder(tmp_path):
    data = make_dataset(tmp_path / "data", {"train/a": None, "val/b": None})
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"name: nolabels\ntask: detect\nmodel: yolov8n.yaml\ndata: {data}\nfreeze: none\n"
                      "train: {epochs: 1, imgsz: 64, batch: 2, workers: 0}\n")
    done = cli([str(recipe), "--dry-run", "--runs-dir", str(tmp_path / "runs")], cwd=tmp_path, module="pipeline.run")
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"labels folder {tmp_path / 'data' / 'labels' / 'train'} not found" in done.stderr
    assert "Traceback" not in done.stderr


def test_run_with_task_segment_stops_on_box_rows(tmp_path):
    data = make_dataset(tmp_path / "data", {"train/a": POLYGON, "train/bad": "0 0.5 0.5 0.1 0.1\n", "val/c": POLYGON})
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"name: boxrows\ntask: segment\nmodel: yolov8n-seg.yaml\ndata: {data}\nfreeze: none\n"
                      "train: {epochs: 1, imgsz: 64, batch: 2, workers: 0}\n")
    done = cli([str(recipe), "--dry-run", "--runs-dir", str(tmp_path / "runs")], cwd=tmp_path, module="pipeline.run")
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"data: {tmp_path / 'data' / 'labels' / 'train' / 'bad.txt'}:1: {DETECT_ONLY}" in done.stderr
    assert "Traceback" not in done.stderr


def test_help_is_light_and_lists_the_subcommands(tmp_path):
    done = cli(["--help"], cwd=tmp_path)
    assert done.returncode == 0 and all(c in done.stdout for c in ("convert", "check", "preview"))
    probe = "import sys, pipeline.datasets.__main__ as m; m._parser(); print(sorted({'torch', 'ultralytics', " \
            "'cv2', 'albumentations'} & set(sys.modules)))"
    imported = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)},
                              capture_output=True, text=True, timeout=60)
    assert imported.stdout.strip() == "[]", imported.stdout + imported.stderr
