"""A file that is not what it claims (random bytes, empty, a folder, UTF-16 text) given to any entry point: exit 2,
the file named, no traceback, nothing written outside the folder the command runs in."""

from __future__ import annotations

import importlib
import json
import os
import random
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from conftest import REPO

from pipeline.errors import UserError
from pipeline.textfile import MAX_YAML_NODES, parse_yaml, read_json, read_text, read_yaml

KINDS = ("random", "empty", "folder", "utf16")
KITTI_LINE = "Car 0.00 0 -1.58 10 10 40 30 1.5 1.6 3.9 1 1 10 0\n"


def _image(path: Path, suffix: str = ".jpg") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path.with_suffix(suffix)), np.full((48, 64, 3), 128, np.uint8))
    return path.with_suffix(suffix)


def _recipe(data: str = "data.yaml") -> str:
    return yaml.safe_dump({"name": "bad", "task": "detect", "model": "yolov8n.yaml", "data": data,
                           "train": {"epochs": 1, "imgsz": 64}})


def _data_yaml(root: Path) -> str:
    _image(root / "images" / "train" / "a")
    _image(root / "images" / "val" / "a")
    for split in ("train", "val"):
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split / "a.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    return yaml.safe_dump({"path": str(root), "train": "images/train", "val": "images/val", "names": {0: "car"}})


def _kitti(tmp: Path) -> Path:
    _image(tmp / "kitti" / "training" / "image_2" / "000000", ".png")
    (tmp / "kitti" / "training" / "label_2").mkdir(parents=True)
    return tmp / "kitti" / "training" / "label_2" / "000000.txt"


def _video(path: Path) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))
    for _ in range(3):
        writer.write(np.full((48, 64, 3), 90, np.uint8))
    writer.release()
    return path


def recipe(tmp: Path) -> tuple[list[str], Path, str]:
    return ["pipeline.run", "recipe.yaml", "--dry-run"], tmp / "recipe.yaml", _recipe()


def recipe_data(tmp: Path) -> tuple[list[str], Path, str]:
    (tmp / "recipe.yaml").write_text(_recipe())
    return ["pipeline.run", "recipe.yaml", "--dry-run"], tmp / "data.yaml", _data_yaml(tmp / "set")


def model_arch(tmp: Path) -> tuple[list[str], Path, str]:
    (tmp / "recipe.yaml").write_text(_recipe().replace("yolov8n.yaml", "arch.yaml"))
    (tmp / "data.yaml").write_text(_data_yaml(tmp / "set"))
    return ["pipeline.run", "recipe.yaml", "--dry-run"], tmp / "arch.yaml", "nc: 1\nbackbone: []\nhead: []\n"


def resume(tmp: Path) -> tuple[list[str], Path, str]:
    (tmp / "runs" / "bad" / "1").mkdir(parents=True)
    return ["pipeline.run", "--resume", "runs/bad/1"], tmp / "runs" / "bad" / "1" / "recipe.yaml", _recipe()


def compare(tmp: Path) -> tuple[list[str], Path, str]:
    run = tmp / "runs" / "bad" / "1"
    run.mkdir(parents=True)
    (run / "recipe.yaml").write_text(_recipe())
    metrics = {"frozen_layers": 0, "params_trainable": 1, "params_total": 1, "map50_95": 0.1}
    return ["pipeline.compare", "runs/bad/1", "--out", "report"], run / "metrics.json", json.dumps(metrics)


def advise(tmp: Path) -> tuple[list[str], Path, str]:
    return ["pipeline.compare", "--advise", "recipe.yaml"], tmp / "recipe.yaml", _recipe()


def check(tmp: Path) -> tuple[list[str], Path, str]:
    return ["pipeline.datasets", "check", "data.yaml"], tmp / "data.yaml", _data_yaml(tmp / "set")


def classify_names(tmp: Path) -> tuple[list[str], Path, str]:
    for split in ("train", "val"):
        _image(tmp / "signs" / split / "00" / "a")
    recipe = {"name": "bad", "task": "classify", "model": "yolov8n-cls.yaml", "data": "signs", "train": {"epochs": 1}}
    (tmp / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    return ["pipeline.run", "recipe.yaml", "--dry-run"], tmp / "signs" / "classes.yaml", "names: [stop]\n"


def preview(tmp: Path) -> tuple[list[str], Path, str]:
    return (["pipeline.datasets", "preview", "data.yaml", "--augment", "rain", "--out", "grid.jpg"],
            tmp / "data.yaml", _data_yaml(tmp / "set"))


def class_map(tmp: Path) -> tuple[list[str], Path, str]:
    _kitti(tmp).write_text(KITTI_LINE)
    return (["pipeline.datasets", "convert", "kitti", "kitti", "--out", "out", "--classes", "map.yaml"],
            tmp / "map.yaml", "names: [car]\nmap: {Car: car}\n")


def kitti(tmp: Path) -> tuple[list[str], Path, str]:
    return ["pipeline.datasets", "convert", "kitti", "kitti", "--out", "out"], _kitti(tmp), KITTI_LINE


def voc(tmp: Path) -> tuple[list[str], Path, str]:
    _image(tmp / "voc" / "JPEGImages" / "a")
    (tmp / "voc" / "Annotations").mkdir(parents=True)
    xml = ("<annotation><filename>a.jpg</filename><object><name>car</name><bndbox><xmin>5</xmin><ymin>5</ymin>"
           "<xmax>30</xmax><ymax>30</ymax></bndbox></object></annotation>")
    return ["pipeline.datasets", "convert", "voc", "voc", "--out", "out"], tmp / "voc" / "Annotations" / "a.xml", xml


def coco(tmp: Path) -> tuple[list[str], Path, str]:
    _image(tmp / "coco" / "images" / "train" / "a")
    (tmp / "coco" / "annotations").mkdir(parents=True)
    data = {"images": [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 48}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [5, 5, 20, 20], "iscrowd": 0}],
            "categories": [{"id": 1, "name": "car"}]}
    return (["pipeline.datasets", "convert", "coco", "coco", "--out", "out"],
            tmp / "coco" / "annotations" / "instances_train.json", json.dumps(data))


def bdd100k(tmp: Path) -> tuple[list[str], Path, str]:
    _image(tmp / "bdd" / "images" / "100k" / "train" / "a")
    (tmp / "bdd" / "labels" / "det_20").mkdir(parents=True)
    frames = [{"name": "a.jpg", "labels": [{"category": "car", "box2d": {"x1": 5, "y1": 5, "x2": 30, "y2": 30}}]}]
    return (["pipeline.datasets", "convert", "bdd100k", "bdd", "--out", "out"],
            tmp / "bdd" / "labels" / "det_20" / "det_train.json", json.dumps(frames))


def cityscapes(tmp: Path) -> tuple[list[str], Path, str]:
    _image(tmp / "cs" / "leftImg8bit" / "train" / "city" / "a_leftImg8bit", ".png")
    (tmp / "cs" / "gtFine" / "train" / "city").mkdir(parents=True)
    polygons = {"objects": [{"label": "car", "polygon": [[5, 5], [30, 5], [30, 30]]}]}
    return (["pipeline.datasets", "convert", "cityscapes", "cs", "--out", "out"],
            tmp / "cs" / "gtFine" / "train" / "city" / "a_gtFine_polygons.json", json.dumps(polygons))


def gtsrb(tmp: Path) -> tuple[list[str], Path, str]:
    _image(tmp / "gtsrb" / "Train" / "0" / "0_0_0", ".png")
    csv = "Width,Height,Roi.X1,Roi.Y1,Roi.X2,Roi.Y2,ClassId,Path\n64,48,1,1,40,40,0,Train/0/0_0_0.png\n"
    return ["pipeline.datasets", "convert", "gtsrb", "gtsrb", "--out", "out"], tmp / "gtsrb" / "Train.csv", csv


def video(tmp: Path) -> tuple[list[str], Path, str]:
    (tmp / "model.pt").write_bytes(b"not read: the clip is checked first")
    return ["pipeline.video", "model.pt", "clip.mp4", "--out", "demo"], tmp / "clip.mp4", ""


def video_weights(tmp: Path) -> tuple[list[str], Path, str]:
    _video(tmp / "clip.mp4")
    return ["pipeline.video", "model.pt", "clip.mp4", "--out", "demo", "--device", "cpu"], tmp / "model.pt", ""


ENTRY_POINTS: list[Callable[[Path], tuple[list[str], Path, str]]] = [
    recipe, recipe_data, model_arch, resume, compare, advise, check, classify_names, preview, class_map, kitti, voc,
    coco, bdd100k, cityscapes, gtsrb, video, video_weights]
# Files for which that kind is valid input: an empty KITTI label file is an image without objects, and XML declares
# its own encoding (a UTF-16 annotation with its byte-order mark is well-formed).
VALID = {("kitti", "empty"), ("voc", "utf16")}


def _write(target: Path, kind: str, valid_text: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if kind == "random":
        target.write_bytes(random.Random(0).randbytes(300))
    elif kind == "empty":
        target.write_bytes(b"")
    elif kind == "folder":
        target.mkdir()
    else:
        target.write_bytes(valid_text.encode("utf-16"))


def _repo_files() -> set[str]:
    done = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all", "--ignored"], cwd=REPO,
                          capture_output=True, text=True, check=True)
    return set(done.stdout.splitlines())


MAINS = {"pipeline.run": "pipeline.run", "pipeline.compare": "pipeline.compare.__main__",
         "pipeline.datasets": "pipeline.datasets.__main__", "pipeline.video": "pipeline.video.cli"}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("entry", ENTRY_POINTS, ids=lambda f: f.__name__)
def test_a_file_that_is_not_what_it_claims_is_a_clear_error(tmp_path, monkeypatch, capsys, entry, kind):
    """Each command's `main` as `python -m` calls it (one process per command would cost minutes here: the
    subprocess test below types one of them in a shell)."""
    monkeypatch.chdir(tmp_path)
    argv, target, valid_text = entry(tmp_path)
    _write(target, kind, valid_text)
    before, home = _repo_files(), set(os.listdir(Path.home()))
    code = importlib.import_module(MAINS[argv[0]]).main(argv[1:])
    captured = capsys.readouterr()
    out = captured.out + captured.err
    assert "Traceback" not in out, out[-3000:]
    assert _repo_files() == before and set(os.listdir(Path.home())) == home, "wrote outside its folder"
    if (entry.__name__, kind) in VALID:
        assert code == 0, out[-3000:]
        return
    assert code == 2, out[-3000:]
    assert str(target.relative_to(tmp_path)) in out, f"{target} not named in:\n{out[-3000:]}"


def test_binary_recipe_typed_in_a_shell(tmp_path):
    """The case as a user meets it: 300 random bytes saved as the recipe, `python -m pipeline.run` in a shell."""
    _write(tmp_path / "garbage.yaml", "random", "")
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONDONTWRITEBYTECODE="1", YOLO_OFFLINE="1")
    done = subprocess.run([sys.executable, "-m", "pipeline.run", "garbage.yaml", "--dry-run"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-3000:]
    assert "garbage.yaml: the recipe file is not UTF-8 text (looks binary, 300 bytes)" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["garbage.yaml"]


def alias_bomb(levels: int = 9) -> str:
    """Nested anchors: 9 levels of 9 aliases each stand for 9**9 (387 million) strings in a few hundred bytes."""
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\nname: bomb\ntask: detect\nmodel: yolov8n.yaml\ndata: d.yaml\n"


def test_alias_bomb_recipe_is_refused_at_once(tmp_path, capsys):
    import resource

    from pipeline.run import main as run_main

    (tmp_path / "bomb.yaml").write_text(alias_bomb())
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    code = run_main([str(tmp_path / "bomb.yaml"), "--dry-run", "--runs-dir", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert code == 2 and f"bomb.yaml: refused: its aliases expand to more than {MAX_YAML_NODES:,} values" in err, err
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # KiB: no expansion happened
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("where", ["set", "data", "classmap"])
def test_alias_bomb_in_set_values_dataset_yaml_and_class_map(tmp_path, where):
    from pipeline.datasets.classmap import read_classmap
    from pipeline.datasets.resolve import read_dataset_yaml
    from pipeline.recipe.overrides import apply_overrides

    (tmp_path / "x.yaml").write_text(alias_bomb())
    with pytest.raises(UserError, match="refused: its aliases expand"):
        if where == "set":
            apply_overrides({}, ["train.lr0={" + ", ".join(alias_bomb().splitlines()[:10]) + "}"])
        elif where == "data":
            read_dataset_yaml(tmp_path / "x.yaml")
        else:
            read_classmap(tmp_path / "x.yaml")


def test_recursive_alias_and_deep_nesting_are_refused():
    with pytest.raises(UserError, match="refers to the value that holds it"):
        parse_yaml("a: &a [*a]\n", "x.yaml")
    with pytest.raises(UserError, match="nested too deeply"):
        parse_yaml("[" * 100_000, "x.yaml")
    assert parse_yaml("a: &a [1, 2]\nb: [*a, *a]\n", "x.yaml") == {"a": [1, 2], "b": [[1, 2], [1, 2]]}


@pytest.mark.parametrize("data, needle", [
    (b"\x89PNG\r\n\x1a\n" + bytes(100), "not UTF-8 text (a PNG image, 108 bytes)"),
    (b"PK\x03\x04" + bytes(10), "not UTF-8 text (a zip archive, 14 bytes)"),
    ("name: x\n".encode("utf-16"), "not UTF-8 text (UTF-16 text; save it as UTF-8)"),
    ("caf\u00e9: 1\n".encode("latin-1"), "not UTF-8 text (byte 0xe9 at offset 3; save it as UTF-8)"),
    (b"a\x00b", "not UTF-8 text (looks binary, 3 bytes)"),
])
def test_what_a_file_that_is_not_text_holds(tmp_path, data, needle):
    (tmp_path / "f.yaml").write_bytes(data)
    with pytest.raises(UserError, match=re.escape(f"f.yaml: the recipe file is {needle}")):
        read_text(tmp_path / "f.yaml", "recipe file")


def test_limits_empty_files_and_byte_order_marks(tmp_path):
    (tmp_path / "big.json").write_text("[" + "1," * 40 + "1]")
    with pytest.raises(UserError, match="83 bytes is too large for a metrics file"):
        read_text(tmp_path / "big.json", "metrics file", limit=50)
    (tmp_path / "empty.json").write_text(" \n")
    with pytest.raises(UserError, match="empty.json: the metrics file is empty"):
        read_json(tmp_path / "empty.json", "metrics file")
    (tmp_path / "bom.yaml").write_bytes(b"\xef\xbb\xbfnames: [a]\n")
    assert read_yaml(tmp_path / "bom.yaml", "dataset file") == {"names": ["a"]}
    with pytest.raises(UserError, match="bad.json: the metrics file is not valid JSON \\(line 2, column 1"):
        (tmp_path / "bad.json").write_text('{"a": 1,\n}')
        read_json(tmp_path / "bad.json", "metrics file")


@pytest.mark.parametrize(("text", "value"), [("1e-5", 1e-5), ("-2E+2", -200.0), ("1.5e3", 1500.0), ("12", 12),
                                             ("1e5x", "1e5x"), ("[1e-3, 2]", [0.001, 2])])
def test_exponent_numbers_read_as_numbers(text, value):
    """`lr0: 1e-5` is a number to every user (and YAML 1.2); PyYAML's YAML 1.1 alone made it the string '1e-5'."""
    assert parse_yaml(text, "t") == value
