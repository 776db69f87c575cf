"""Traffic-sign classification: `task: classify` runs (freeze, two stages, top1/top5), the GTSRB converter, and
soft-label distillation, on image folders of drawn sign-like shapes and on ../shared/data/gtsrb_mini when present.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
import yaml

os.environ["YOLO_OFFLINE"] = "1"

from conftest import REPO, shared_path  # noqa: E402
from ultralytics.nn.tasks import load_checkpoint  # noqa: E402

from pipeline.datasets.__main__ import main as datasets_main  # noqa: E402
from pipeline.datasets.convert_gtsrb import convert_gtsrb  # noqa: E402
from pipeline.datasets.resolve import resolve_dataset  # noqa: E402
from pipeline.distill.classify import SoftLabelLoss, check_classifier_teacher, hinton_kl  # noqa: E402
from pipeline.distill.trainers import ClassifyDistillTrainer  # noqa: E402
from pipeline.errors import UserError  # noqa: E402
from pipeline.recipe.distill import DistillConfig, stage_config_text  # noqa: E402
from pipeline.recipe.freeze import freeze_plan, resolve_freeze  # noqa: E402
from pipeline.recipe.models import build_model, save_checkpoint  # noqa: E402
from pipeline.run import main as run_main  # noqa: E402

CLASSIFY_KEYS = {
    "top1", "top5", "precision", "recall", "per_class", "epochs", "batches", "images_seen", "time_per_batch_s",
    "train_time_s", "time_per_epoch_s", "images_per_s",
    "peak_memory_mb", "memory_kind", "inference_ms_per_image", "params_total", "params_trainable", "params_frozen",
    "frozen_layers", "stages",
}
SHAPES = {"circle": "No entry (drawn)", "diamond": "Priority road (drawn)", "triangle": "Give way (drawn)"}
# nbs = batch: an optimizer step every batch (the default nbs 64 would accumulate a whole tiny epoch into one step)
TINY = {"imgsz": 32, "batch": 8, "nbs": 8, "workers": 0, "plots": False, "seed": 0, "warmup_epochs": 0}


def draw_sign(kind: str, rng: np.random.Generator, size: int) -> np.ndarray:
    """A sign-like shape (red ring, red triangle or yellow diamond) on a noisy background, jittered in place."""
    img = np.full((size, size, 3), rng.integers(60, 200, 3), np.uint8)
    cx, cy = (size // 2 + rng.integers(-3, 4, 2)).tolist()
    r = int(size * rng.uniform(0.3, 0.42))
    if kind == "circle":
        cv2.circle(img, (cx, cy), r, (0, 0, 220), -1)
        cv2.circle(img, (cx, cy), int(r * 0.6), (255, 255, 255), -1)
    else:
        pts = ([[cx, cy - r], [cx - r, cy + r], [cx + r, cy + r]] if kind == "triangle"
               else [[cx, cy - r], [cx + r, cy], [cx, cy + r], [cx - r, cy]])
        cv2.fillPoly(img, [np.array(pts, np.int32)], (0, 0, 220) if kind == "triangle" else (0, 200, 255))
    return np.clip(img + rng.normal(0, 12, img.shape), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def shapes(tmp_path_factory) -> Path:
    """3 classes x (12 train + 4 val) drawn signs at 32-48 px, with readable names in classes.yaml."""
    root = tmp_path_factory.mktemp("shapes") / "signs"
    rng = np.random.default_rng(0)
    for split, n in (("train", 12), ("val", 4)):
        for kind in SHAPES:
            (root / split / kind).mkdir(parents=True)
            for i in range(n):
                cv2.imwrite(str(root / split / kind / f"{i}.png"), draw_sign(kind, rng, int(rng.integers(32, 49))))
    (root / "classes.yaml").write_text(yaml.safe_dump({"names": dict(enumerate(SHAPES.values()))}))
    return root


def write_recipe(folder: Path, recipe: dict) -> Path:
    path = folder / f"{recipe['name']}.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def run_recipe(recipe: dict, tmp_path: Path) -> Path:
    """Run a recipe in-process; return its run folder."""
    runs = tmp_path / "runs"
    assert run_main([str(write_recipe(tmp_path, recipe)), "--runs-dir", str(runs)]) == 0
    (run_dir,) = runs.glob(f"{recipe['name']}/*")
    return run_dir


def checkpoint_state(path: Path) -> dict[str, torch.Tensor]:
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    return (ckpt.get("ema") or ckpt["model"]).state_dict()


@pytest.fixture(scope="module")
def frozen_run(tmp_path_factory, shapes) -> tuple[Path, Path]:
    """yolov8n-cls from a saved start checkpoint, backbone frozen, 2 epochs: (start checkpoint, run folder)."""
    folder = tmp_path_factory.mktemp("frozen")
    start = save_checkpoint(build_model("yolov8n-cls.yaml", nc=3), folder / "start.pt")
    run_dir = run_recipe({"name": "frozen", "task": "classify", "model": str(start), "data": str(shapes),
                          "freeze": "backbone",
                          "train": {**TINY, "epochs": 2, "optimizer": "SGD", "lr0": 0.05}}, folder)
    return start, run_dir


@pytest.mark.slow
def test_frozen_backbone_bit_identical_and_top1_top5(frozen_run):
    start, run_dir = frozen_run
    model = build_model("yolov8n-cls.yaml", nc=3)
    before, after = checkpoint_state(start), checkpoint_state(run_dir / "stages/train/weights/last.pt")
    head = len(model.model) - 1  # yolov8n-cls: backbone 0..8, Classify head 9
    frozen = [k for k in before if int(k.split(".")[1]) < head]
    assert any("running_mean" in k for k in frozen), "BN buffers are part of the check"
    changed = [k for k in frozen if not torch.equal(before[k], after[k])]
    assert not changed, f"frozen tensors changed: {changed}"
    for part in ("linear.weight", "conv.conv.weight", "conv.bn.running_var"):
        key = f"model.{head}.{part}"
        assert not torch.equal(before[key], after[key]), f"head tensor did not train: {key}"

    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert set(metrics) == CLASSIFY_KEYS
    assert 0.0 <= metrics["top1"] <= metrics["top5"] <= 1.0 and metrics["top5"] == 1.0  # 3 classes: top-5 is all
    assert set(metrics["per_class"]) == set(SHAPES.values())
    assert all(0.0 <= v <= 1.0 for v in metrics["per_class"].values())
    assert metrics["recall"] == pytest.approx(np.mean(list(metrics["per_class"].values())), abs=1e-4)
    plan = freeze_plan(model, resolve_freeze("backbone", model))
    assert (metrics["params_trainable"], metrics["frozen_layers"]) == (plan.params_trainable, head)
    assert metrics["epochs"] == 2 and metrics["inference_ms_per_image"] > 0
    assert (run_dir / "stages/train/weights/best.pt").is_file()


@pytest.mark.slow
def test_two_stage_scaled_lr_from_head_weights(tmp_path, shapes):
    run_dir = run_recipe({
        "name": "signs2", "task": "classify", "model": "yolo11n-cls.yaml", "data": str(shapes),
        "train": {**TINY, "optimizer": "SGD", "lr0": 0.02},
        "stages": [{"name": "head", "freeze": "backbone", "epochs": 1},
                   {"name": "full", "freeze": "none", "epochs": 1, "lr_scale": 0.1}],
    }, tmp_path)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    head, full = metrics["stages"]
    assert (head["lr0"], full["lr0"]) == (0.02, pytest.approx(0.002))
    assert (head["frozen_layers"], full["frozen_layers"]) == (10, 0)  # yolo11n-cls: backbone 0..9
    assert "top1" in head and "map50" not in full
    full_args = yaml.safe_load((run_dir / "stages/full/args.yaml").read_text())
    assert full_args["model"] == str(run_dir / "stages/head/weights/last.pt") and full_args["task"] == "classify"
    assert pd.read_csv(run_dir / "stages/full/results.csv")["lr/pg0"].max() <= 0.002 + 1e-9
    assert metrics["epochs"] == 2 and metrics["top1"] == full["top1"]


@pytest.mark.slow
def test_gtsrb_mini_readable_names(tmp_path):
    """The real 43-class subset: names from its classes.yaml, every class reported."""
    data = tmp_path / "gtsrb_mini"
    shutil.copytree(shared_path("data/gtsrb_mini"), data)
    dataset = resolve_dataset(data)
    assert dataset.image_folder and len(dataset.names) == 43 and dataset.names[14] == "Stop"
    run_dir = run_recipe({"name": "gtsrb", "task": "classify", "model": "yolov8n-cls.yaml", "data": str(data),
                          "freeze": "all-but-head", "train": {**TINY, "epochs": 1, "batch": 32}}, tmp_path)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert set(metrics["per_class"]) == set(dataset.names.values()) and metrics["top1"] <= metrics["top5"]


@pytest.mark.parametrize("name", ["signs-two-stage", "signs-distill"])
def test_shipped_signs_recipes_validate(name, capsys, monkeypatch):
    """Both run on ../shared (gtsrb_mini; the COCO YOLOv5n backbone for the two-stage one) as shipped."""
    monkeypatch.setenv("ROADTUNE_WEIGHTS", str(shared_path("weights")))
    shared_path("data/gtsrb_mini")
    assert run_main([str(REPO / "recipes" / f"{name}.yaml"), "--dry-run"]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    if name == "signs-two-stage":  # backbone layers 0-9 come from COCO, the Classify head is new
        assert "weights: 198/206 tensors" in out and "fresh layers [10]" in out
        assert "frozen layers: 10" in out and "frozen layers: 0" in out


@pytest.mark.parametrize(("change", "message"), [
    ({"data": "yaml"}, "task classify reads an image-folder root"),
    ({"model": "yolov8n.yaml"}, "is a detect model but task is classify"),
    ({"task": "detect"}, "is an image-folder classification dataset"),
    ({"names": ["only one"]}, "must give a name to each of the 3 class folders"),
])
def test_bad_classify_recipes_exit_2(tmp_path, shapes, capsys, change, message):
    data = tmp_path / "signs"
    shutil.copytree(shapes, data)
    if "names" in change:
        (data / "classes.yaml").write_text(yaml.safe_dump({"names": change.pop("names")}))
    if change.get("data") == "yaml":
        change["data"] = str(write_recipe(tmp_path, {"name": "d", "train": "train", "val": "val", "names": ["a"]}))
    recipe = {"name": "bad", "task": "classify", "model": "yolov8n-cls.yaml", "data": str(data), "train": TINY}
    assert run_main([str(write_recipe(tmp_path, {**recipe, **change})), "--runs-dir", str(tmp_path / "runs")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


# --- GTSRB converter --------------------------------------------------------------------------------------------

ROI_COLOURS = {0: (0, 0, 255), 1: (0, 255, 0), 2: (255, 0, 0)}  # BGR, one per class, inside the ROI only


def sign_image(rng: np.random.Generator, class_id: int) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A GTSRB-like image: a grey border around a solid ROI of the class's colour; returns it and its ROI."""
    w, h = (int(v) for v in rng.integers(30, 50, 2))
    x1, y1 = (int(v) for v in rng.integers(5, 8, 2))
    x2, y2 = w - int(rng.integers(5, 8)), h - int(rng.integers(5, 8))
    img = np.full((h, w, 3), 90, np.uint8)
    img[y1:y2, x1:x2] = ROI_COLOURS[class_id]
    return img, (x1, y1, x2, y2)


@pytest.fixture(scope="module")
def gtsrb_official(tmp_path_factory) -> Path:
    """Final_Training/Images/<class>/<track>_<frame>.ppm with GT-<class>.csv (';'): 3 classes x 5 tracks x 3 frames,
    one CSV row whose file is missing."""
    src = tmp_path_factory.mktemp("gtsrb") / "GTSRB"
    rng = np.random.default_rng(1)
    for class_id in ROI_COLOURS:
        folder = src / "Final_Training" / "Images" / f"{class_id:05d}"
        folder.mkdir(parents=True)
        rows = ["Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId"]
        for track in range(5):
            for frame in range(3):
                img, roi = sign_image(rng, class_id)
                name = f"{track:05d}_{frame:05d}.ppm"
                cv2.imwrite(str(folder / name), img)
                rows.append(";".join(map(str, [name, img.shape[1], img.shape[0], *roi, class_id])))
        if class_id == 2:
            rows.append("00009_00000.ppm;40;40;5;5;35;35;2")
        (folder / f"GT-{class_id:05d}.csv").write_text("\n".join(rows) + "\n")
    return src


def split_tracks(out: Path, split: str) -> set[tuple[str, str]]:
    """(class folder, track) pairs of a converted split, from the `<class>_<track>_<frame>.png` names."""
    return {(p.parent.name, p.stem.split("_")[1]) for p in (out / split).glob("*/*.png")}


def test_gtsrb_official_crops_to_roi_and_splits_by_track(tmp_path, gtsrb_official, capsys):
    out = tmp_path / "signs"
    argv = ["convert", "gtsrb", str(gtsrb_official), "--out", str(out), "--crop-roi", "--val-fraction", "0.2"]
    assert datasets_main(argv) == 0
    assert "00009_00000.ppm: listed in the CSV but missing" in capsys.readouterr().out
    train, val = split_tracks(out, "train"), split_tracks(out, "val")
    assert not train & val, "a track landed in both splits"
    assert len(train) == 12 and len(val) == 3  # per class: 5 tracks, 20% -> 1 val track
    assert len(list(out.glob("*/*/*.png"))) == 45
    for class_id, colour in ROI_COLOURS.items():
        for source in (gtsrb_official / "Final_Training/Images" / f"{class_id:05d}").glob("*.ppm"):
            row = pd.read_csv(source.parent / f"GT-{class_id:05d}.csv", sep=";").set_index("Filename").loc[source.name]
            (converted,) = out.glob(f"*/{class_id:02d}/{class_id:05d}_{source.stem}.png")
            crop = cv2.imread(str(converted))
            assert crop.shape[:2] == (row["Roi.Y2"] - row["Roi.Y1"], row["Roi.X2"] - row["Roi.X1"])
            assert (crop == colour).all(), f"{converted} holds pixels from outside the ROI"
    dataset = resolve_dataset(out)
    assert dataset.names == {0: "Speed limit (20km/h)", 1: "Speed limit (30km/h)", 2: "Speed limit (50km/h)"}
    counts = json.loads((out / "convert_report.json").read_text())["counts"]
    assert counts["Speed limit (30km/h)"] == {"train images": 12, "train tracks": 4, "val images": 3, "val tracks": 1}
    assert datasets_main(["check", str(out)]) == 0  # the dataset check reads it as a clean classify set
    assert capsys.readouterr().out.rstrip().endswith("OK")


def test_gtsrb_kaggle_layout_keeps_pixels_and_refuses_overwrite(tmp_path):
    src = tmp_path / "kaggle"
    rng = np.random.default_rng(2)
    rows = ["Width,Height,Roi.X1,Roi.Y1,Roi.X2,Roi.Y2,ClassId,Path"]
    for class_id in (0, 1):
        for track in range(3):
            for frame in range(2):
                img, roi = sign_image(rng, class_id)
                path = f"Train/{class_id}/{class_id:05d}_{track:05d}_{frame:05d}.png"
                (src / path).parent.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(src / path), img)
                rows.append(",".join(map(str, [img.shape[1], img.shape[0], *roi, class_id, path])))
    (src / "Train.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "out"
    convert_gtsrb(src, out, classes="all", val_fraction=0.34, seed=0)
    assert not split_tracks(out, "train") & split_tracks(out, "val")
    for converted in out.glob("*/*/*.png"):
        original = src / "Train" / str(int(converted.parent.name)) / converted.name
        assert converted.read_bytes() == original.read_bytes()
    assert resolve_dataset(out).names == {0: "0", 1: "1"}
    with pytest.raises(UserError, match="not empty"):
        convert_gtsrb(src, out)
    convert_gtsrb(src, out, crop_roi=True, overwrite=True)
    assert len(list(out.glob("*/*/*.png"))) == 12
    with pytest.raises(UserError, match="not a GTSRB training folder"):
        convert_gtsrb(out / "train", tmp_path / "out2")


# --- soft-label distillation ------------------------------------------------------------------------------------


def test_kl_term_finite_and_decreasing_on_a_fixed_batch(shapes):
    torch.manual_seed(0)
    teacher, student = build_model("yolov8n-cls.yaml", nc=3), build_model("yolov8n-cls.yaml", nc=3)
    with torch.no_grad():
        teacher.model[-1].linear.weight.mul_(30)  # a random net is nearly uniform: give the teacher opinions
    files = sorted((shapes / "train").glob("*/*.png"))[::3]
    img = torch.stack([torch.from_numpy(cv2.resize(cv2.imread(str(f)), (32, 32))).permute(2, 0, 1) for f in files])
    batch = {"img": img.float() / 255, "cls": torch.tensor([sorted(SHAPES).index(f.parent.name) for f in files])}
    criterion = SoftLabelLoss(teacher, temperature=4.0, alpha=1.0)  # alpha 1: the soft term alone
    optimizer = torch.optim.Adam(student.parameters(), lr=3e-4)
    kls = []
    for _ in range(6):
        loss, items = criterion(student(batch["img"]), batch)
        kls.append(float(items["kd_kl"]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert all(np.isfinite(kls)) and kls[0] > 0, kls
    assert kls[-1] < 0.5 * kls[0], f"the student does not move towards the teacher: {kls}"
    logits = torch.randn(4, 3)
    assert float(hinton_kl(logits, logits, 4.0)) == pytest.approx(0.0, abs=1e-6)
    manual = (F.softmax(logits / 2, 1) * (F.log_softmax(logits / 2, 1) - F.log_softmax(-logits / 2, 1))).sum(1).mean()
    assert float(hinton_kl(-logits, logits, 2.0)) == pytest.approx(float(manual) * 4, rel=1e-5)  # times T^2


@pytest.mark.slow
def test_soft_label_student_is_a_plain_checkpoint(tmp_path, shapes, frozen_run):
    from ultralytics import YOLO

    teacher = frozen_run[1] / "stages/train/weights/best.pt"
    assert check_classifier_teacher(load_checkpoint(teacher)[0], resolve_dataset(shapes)) == []
    (tmp_path / "kd").mkdir()
    (tmp_path / "kd/distill.json").write_text(stage_config_text(DistillConfig(teacher="", temperature=2.0,
                                                                              alpha=0.7), teacher))
    YOLO("yolov8n-cls.yaml").train(trainer=ClassifyDistillTrainer, data=str(shapes), epochs=2,
                                   project=str(tmp_path), name="kd", exist_ok=True, **TINY)
    results = pd.read_csv(tmp_path / "kd/results.csv")
    assert np.isfinite(results["train/kd_kl"]).all() and (results["train/kd_kl"] > 0).all()
    best = tmp_path / "kd/weights/best.pt"
    code = ("import sys; from ultralytics import YOLO; m = YOLO(sys.argv[1]); "
            "assert 'pipeline' not in sys.modules and m.task == 'classify' and len(m.names) == 3; "
            "print(m.predict(sys.argv[2], imgsz=32, verbose=False)[0].probs.top1)")
    image = next((shapes / "val").glob("*/*.png"))
    out = subprocess.run([sys.executable, "-c", code, str(best), str(image)], capture_output=True, text=True,
                         cwd=tmp_path, env={**os.environ, "PYTHONPATH": ""}, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert int(out.stdout.split()[-1]) in range(3)


def test_teacher_with_other_classes_is_rejected(shapes):
    teacher = build_model("yolov8n-cls.yaml", nc=3)
    teacher.names = dict(enumerate(["circle", "square", "triangle"]))  # folder names, but one class differs
    (problem,) = check_classifier_teacher(teacher, resolve_dataset(shapes))
    assert problem.startswith("class names: 1 of 3 differ") and "1: teacher 'square'" in problem
    teacher.names = {0: "a", 1: "b"}
    dataset = resolve_dataset(shapes)
    assert "the teacher has 2 classes, the student's data 3" in check_classifier_teacher(teacher, dataset)[0]
    assert "the teacher is a detect model" in check_classifier_teacher(build_model("yolov8n.yaml", nc=3), dataset)[0]


def test_teacher_with_other_classes_exits_2(tmp_path, shapes, capsys):
    """A recipe whose classify teacher knows other classes stops before training, naming both class lists."""
    names = sorted(p.name for p in (shapes / "train").iterdir())
    other = dict(enumerate(["other"] + names[1:]))
    teacher = save_checkpoint(build_model("yolov8n-cls.yaml", nc=len(names)), tmp_path / "t.pt", other)
    recipe = {"name": "kd", "task": "classify", "model": "yolov8n-cls.yaml", "data": str(shapes),
              "distill": {"teacher": str(teacher), "method": "roadtune"}, "train": {**TINY, "epochs": 1}}
    runs = tmp_path / "runs"
    assert run_main([str(write_recipe(tmp_path, recipe)), "--runs-dir", str(runs)]) == 2
    err = capsys.readouterr().err
    assert "distill.teacher" in err and "other" in err and "Traceback" not in err
    assert not runs.exists()
