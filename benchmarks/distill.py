"""Accuracy and time per epoch of the distillation methods: plain student, native, roadtune, roadtune + frames.

    python benchmarks/distill.py --data kitti [--seeds 3] [--epochs 30] [--imgsz 512] [--teacher-epochs 30]
    python benchmarks/distill.py --data synth [--recipe recipes/distill-v8s-to-n.yaml] [--epochs 2] [--imgsz 160]

``kitti``: the teacher is a COCO-initialised YOLOv5nu (``weights: ../shared/weights/yolov5n_coco_state_dict.pt``)
fine-tuned on ../shared/data/kitti_mini once; the students are YOLOv8n from scratch, one run per variant and seed:
``none`` (plain), ``native`` (Ultralytics' distill_model), ``roadtune``, and ``roadtune+frames`` (roadtune plus
teacher-labelled frames of ../shared/video/*.mp4 and the ../shared/data/cctv_traffic_mini images, their labels
ignored). ``synth``: the recipe's own data, teacher and student, trained here (its teacher for 1 epoch).
``--variant NAME:KEY=VALUE,...`` adds a roadtune variant (e.g. ``noramp:distill.ramp_epochs=0``; later keys win, so
``plain-steps:distill.method=none,train.epochs=54`` is a plain student with as many batches as the frames variant,
which has more images per epoch).

Figures: final mAP50-95 (metrics.json) and the student stage's median train seconds per epoch (epochs.jsonl),
mean ± std over seeds; variants alternate within a seed so machine noise hits them alike. Goals printed at the end.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
BASE_VARIANTS = {"none": ["distill.method=none"], "native": ["distill.method=native"],
                 "roadtune": ["distill.method=roadtune"]}


def run(recipe: Path, run_dir: Path, overrides: list[str]) -> None:
    sets = [arg for o in overrides for arg in ("--set", o)]
    log = run_dir.parent / f"{run_dir.name}.log"
    with log.open("w") as out:
        done = subprocess.run([sys.executable, "-m", "pipeline.run", str(recipe), "--run-dir", str(run_dir), *sets],
                              cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    if done.returncode:
        sys.exit(f"{recipe.name} {' '.join(overrides)} failed (exit {done.returncode}): see {log}")


def figures(run_dir: Path) -> dict[str, float]:
    """Final mAP50-95 and the last stage's median train seconds per epoch (median: robust to a busy machine)."""
    metrics = json.loads((run_dir / "metrics.json").read_text())
    stage = run_dir / "stages" / metrics["stages"][-1]["name"] / "epochs.jsonl"
    epochs = [json.loads(line) for line in stage.read_text().splitlines()]
    return {"map50_95": metrics["map50_95"], "train_s": statistics.median(e["train_s"] for e in epochs)}


def kitti_recipes(work: Path, opts: argparse.Namespace) -> tuple[Path, Path, list[str], list[str]]:
    """Teacher and student recipes on a copy of kitti_mini (Ultralytics writes label caches beside the labels), no
    overrides for every student, and the override that adds the teacher-labelled frames."""
    data = work / "kitti_mini"
    shutil.copytree(SHARED / "data" / "kitti_mini", data)
    train = {"imgsz": opts.imgsz, "batch": opts.batch, "workers": opts.workers, "plots": False}
    teacher = {"name": "bench-teacher", "task": "detect", "model": "yolov5nu.yaml",
               "weights": str(SHARED / "weights" / "yolov5n_coco_state_dict.pt"), "data": str(data / "data.yaml"),
               "train": {**train, "epochs": opts.teacher_epochs, "seed": 0}}
    student = {"name": "bench-student", "task": "detect", "model": "yolov8n.yaml", "data": str(data / "data.yaml"),
               "train": {**train, "epochs": opts.epochs}, "distill": {"teacher": str(work / "teacher")}}
    frames = [str(p) for p in sorted((SHARED / "video").glob("*.mp4"))]
    frames.append(str(SHARED / "data" / "cctv_traffic_mini" / "images"))
    paths = work / "teacher.yaml", work / "student.yaml"
    for path, recipe in zip(paths, (teacher, student)):
        path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return *paths, [], [f"distill.unlabeled={json.dumps(frames)}"]


def synth_recipes(work: Path, opts: argparse.Namespace) -> tuple[Path, Path, list[str], list[str]]:
    """The synthetic recipe's teacher as a recipe of its own (1 epoch), the recipe itself as the student with the
    overrides every student gets, and no frames (the synthetic set has no footage)."""
    recipe = yaml.safe_load(opts.recipe.read_text())
    distill = recipe.pop("distill")
    recipe.pop("sweep", None)
    local = opts.recipe.parent / distill["teacher"]  # a path relative to the recipe, or a built-in architecture
    recipe.update(name="bench-teacher", model=str(local.resolve()) if local.is_file() else distill["teacher"],
                  data=str((opts.recipe.parent / recipe["data"]).resolve()),
                  train={**recipe.get("train", {}), **(distill.get("teacher_train") or {}), "epochs": 1,
                         "imgsz": opts.imgsz})
    path = work / "teacher.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    student = [f"train.imgsz={opts.imgsz}", f"train.epochs={opts.epochs}", f"distill.teacher={work / 'teacher'}",
               "distill.teacher_train=null"]
    return path, opts.recipe.resolve(), student, []


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", choices=("kitti", "synth"), default="kitti")
    parser.add_argument("--recipe", type=Path, default=REPO / "recipes" / "distill-v8s-to-n.yaml", help="synth")
    parser.add_argument("--epochs", type=int, default=30, help="student epochs")
    parser.add_argument("--teacher-epochs", type=int, default=30, help="kitti: teacher fine-tuning epochs")
    parser.add_argument("--imgsz", type=int, default=512)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--variant", action="append", default=[], metavar="NAME:KEY=VALUE,...")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these variants (default: all)")
    return parser.parse_args()


def summary(name: str, rows: list[dict[str, float]]) -> tuple[float, float]:
    """Print mean ± std of mAP50-95 and train s/epoch for one variant; return the two means."""
    def ms(key: str) -> str:
        values = [r[key] for r in rows]
        std = statistics.stdev(values) if len(values) > 1 else float("nan")
        return f"{statistics.mean(values):.4f} ± {std:.4f}"

    print(f"  {name:>16}: mAP50-95 {ms('map50_95')}   train s/epoch {ms('train_s')}   (n={len(rows)})")
    return statistics.mean(r["map50_95"] for r in rows), statistics.mean(r["train_s"] for r in rows)


def main() -> None:
    opts = parse_args()
    work = Path(tempfile.mkdtemp(prefix="distill-bench-"))
    teacher, student, common, frames = (kitti_recipes if opts.data == "kitti" else synth_recipes)(work, opts)
    variants = {**BASE_VARIANTS, **({"roadtune+frames": ["distill.method=roadtune", *frames]} if frames else {})}
    for spec in opts.variant:
        name, _, sets = spec.partition(":")
        variants[name] = ["distill.method=roadtune", *sets.split(",")]
    variants = {k: v for k, v in variants.items() if not opts.only or k in opts.only}
    print(f"work folder {work}", flush=True)
    run(teacher, work / "teacher", [f"train.imgsz={opts.imgsz}"] if opts.data == "kitti" else [])
    print(f"teacher mAP50-95 {figures(work / 'teacher')['map50_95']:.4f}", flush=True)
    results: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
    for seed in range(opts.seeds):
        for name, sets in variants.items():
            folder = work / f"{name}-{seed}"
            run(student, folder, [*common, f"train.seed={seed}", *sets])
            results[name].append(figures(folder))
            print(f"seed {seed} {name:>16}: mAP50-95 {results[name][-1]['map50_95']:.4f}  "
                  f"train {results[name][-1]['train_s']:.2f} s/epoch", flush=True)
    print(f"\n{opts.data}, {opts.epochs} epochs at imgsz {opts.imgsz}, batch {opts.batch}, {opts.seeds} seed(s):")
    means = {name: summary(name, rows) for name, rows in results.items()}
    if {"none", "native", "roadtune"} <= set(means):
        (plain, _), (native, native_s), (road, road_s) = means["none"], means["native"], means["roadtune"]
        print(f"goal roadtune >= plain + 0.010: {road - plain:+.4f}; roadtune >= native: {road - native:+.4f}; "
              f"time roadtune <= 1.15x native: {road_s / native_s:.3f}x")


if __name__ == "__main__":
    main()
