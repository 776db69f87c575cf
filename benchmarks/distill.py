"""Accuracy and time per epoch of the distillation methods: plain student, native, roadtune, roadtune + frames.

    python benchmarks/distill.py --data kitti [--seeds 3] [--epochs 30] [--imgsz 320] [--teacher-epochs 30]
    python benchmarks/distill.py --data kitti --work runs/bench-distill --variant t1:distill.temperature=1
    python benchmarks/distill.py --data gtsrb [--seeds 3] [--epochs 20] [--imgsz 64] [--teacher-epochs 12]
    python benchmarks/distill.py --data synth [--recipe recipes/distill-v8s-to-n.yaml] [--epochs 2] [--imgsz 160]

``kitti``: the teacher is a COCO-initialised YOLOv5nu (``weights: ../shared/weights/yolov5n_coco_state_dict.pt``)
fine-tuned on ../shared/data/kitti_mini once; the students are YOLOv8n from scratch, one run per variant and seed:
``none`` (plain), ``native`` (Ultralytics' distill_model), ``roadtune``, and ``roadtune+frames`` (roadtune plus
teacher-labelled frames of ../shared/video/*.mp4 and the ../shared/data/cctv_traffic_mini images, their labels
ignored). ``gtsrb`` (classify, Hinton KD): the teacher is the COCO-initialised YOLOv5nu classifier with
``freeze: 5`` fine-tuned on ../shared/data/gtsrb_mini; the students are recipes/signs-distill.yaml's (YOLOv8n-cls
from scratch, its temperature, alpha and train args), ``none`` and ``roadtune`` (native has no classify form).
``synth``: the recipe's own data, teacher and student, trained here (its teacher for 1 epoch).
``--variant NAME:KEY=VALUE,...`` adds a roadtune variant (e.g. ``noramp:distill.ramp_epochs=0``; later keys win, so
``plain-steps:distill.method=none,train.epochs=54`` is a plain student with as many batches as the frames variant,
which has more images per epoch).

``--work`` keeps every run folder there (default: a new temporary folder); a run whose metrics.json exists is not
run again, so an interrupted benchmark continues where it stopped and new variants reuse the teacher. ``--teacher``
takes a finished teacher run folder instead of training one. The comparison report of all student runs (one row per
variant, seeds as repeats, one recommendation per swept key) is written to ``<work>/report``.

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
    """`recipe` with `overrides` run into `run_dir` (its resolved recipe there, trained by the point worker), its
    console in `<run_dir>.log`; a finished run is kept as it is."""
    from pipeline.bootstrap import bootstrap
    from pipeline.execute.prepare import prepare
    from pipeline.recipe.schema import load_recipe

    if (run_dir / "metrics.json").is_file():
        return
    bootstrap()
    shutil.rmtree(run_dir, ignore_errors=True)  # an interrupted run starts again: same seed, same figures
    run_dir.mkdir(parents=True)
    resolved = prepare(*load_recipe(recipe, overrides)).resolved_recipe()
    (run_dir / "recipe.yaml").write_text(yaml.safe_dump(resolved, sort_keys=False))
    log = run_dir.parent / f"{run_dir.name}.log"
    with log.open("w") as out:
        done = subprocess.run([sys.executable, "-m", "pipeline.sweep.worker", str(run_dir)], cwd=REPO, stdout=out,
                              stderr=subprocess.STDOUT)
    if done.returncode:
        sys.exit(f"{recipe.name} {' '.join(overrides)} failed (exit {done.returncode}): see {log}")


def figures(run_dir: Path) -> dict[str, float]:
    """Final score (top-1 for a classifier, else mAP50-95) and the last stage's median train seconds per epoch
    (median: robust to a busy machine)."""
    metrics = json.loads((run_dir / "metrics.json").read_text())
    stage = run_dir / "stages" / metrics["stages"][-1]["name"] / "epochs.jsonl"
    epochs = [json.loads(line) for line in stage.read_text().splitlines()]
    score = metrics["top1"] if "top1" in metrics else metrics["map50_95"]
    return {"score": score, "train_s": statistics.median(e["train_s"] for e in epochs)}


def kitti_recipes(work: Path, opts: argparse.Namespace) -> tuple[Path, Path, list[str], list[str]]:
    """Teacher and student recipes on a copy of kitti_mini (Ultralytics writes label caches beside the labels), no
    overrides for every student, and the override that adds the teacher-labelled frames."""
    data = work / "kitti_mini"
    if not data.is_dir():
        shutil.copytree(SHARED / "data" / "kitti_mini", data)
    train = {"imgsz": opts.imgsz, "batch": opts.batch, "workers": opts.workers, "plots": False}
    teacher = {"name": "bench-teacher", "task": "detect", "model": "yolov5nu.yaml",
               "weights": str(SHARED / "weights" / "yolov5n_coco_state_dict.pt"), "data": str(data / "data.yaml"),
               "train": {**train, "epochs": opts.teacher_epochs, "seed": 0}}
    student = {"name": "bench-student", "task": "detect", "model": "yolov8n.yaml", "data": str(data / "data.yaml"),
               "train": {**train, "epochs": opts.epochs}, "distill": {"teacher": str(opts.teacher or work / "teacher")}}
    frames = [str(p) for p in sorted((SHARED / "video").glob("*.mp4"))]
    frames.append(str(SHARED / "data" / "cctv_traffic_mini" / "images"))
    paths = work / "teacher.yaml", work / "student.yaml"
    for path, recipe in zip(paths, (teacher, student)):
        path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return *paths, [], [f"distill.unlabeled={json.dumps(frames)}"]


def gtsrb_recipes(work: Path, opts: argparse.Namespace) -> tuple[Path, Path, list[str], list[str]]:
    """A COCO-initialised YOLOv5nu-cls teacher (freeze 5) and recipes/signs-distill.yaml as the student recipe, both
    on ../shared/data/gtsrb_mini; no frames (classify takes no teacher-labelled footage)."""
    student = yaml.safe_load((REPO / "recipes" / "signs-distill.yaml").read_text())
    data = str(SHARED / "data" / "gtsrb_mini")
    train = {**student["train"], "imgsz": opts.imgsz, "batch": opts.batch, "workers": opts.workers, "plots": False}
    teacher = {"name": "bench-teacher", "task": "classify", "model": str(REPO / "recipes/models/yolov5nu-cls.yaml"),
               "weights": str(SHARED / "weights" / "yolov5n_coco_state_dict.pt"), "data": data, "freeze": 5,
               "train": {**train, "epochs": opts.teacher_epochs, "seed": 0}}
    student.update(name="bench-student", data=data, train={**train, "epochs": opts.epochs},
                   distill={**student["distill"], "teacher": str(opts.teacher or work / "teacher"),
                            "teacher_train": None})
    paths = work / "teacher.yaml", work / "student.yaml"
    for path, recipe in zip(paths, (teacher, student)):
        path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return *paths, [], []


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


# Per data set, the budget of the measurements in docs/distillation.md; any flag given wins.
DEFAULTS = {"kitti": {"epochs": 30, "teacher_epochs": 30, "imgsz": 320, "batch": 16},
            "gtsrb": {"epochs": 20, "teacher_epochs": 12, "imgsz": 64, "batch": 32},
            "synth": {"epochs": 2, "teacher_epochs": 1, "imgsz": 160, "batch": 16}}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", choices=tuple(DEFAULTS), default="kitti")
    parser.add_argument("--recipe", type=Path, default=REPO / "recipes" / "distill-v8s-to-n.yaml", help="synth")
    parser.add_argument("--epochs", type=int, help="student epochs (kitti 30, gtsrb 20, synth 2)")
    parser.add_argument("--teacher-epochs", type=int, help="teacher fine-tuning epochs (kitti 30, gtsrb 12)")
    parser.add_argument("--imgsz", type=int, help="kitti 320, gtsrb 64, synth 160")
    parser.add_argument("--batch", type=int, help="kitti 16, gtsrb 32, synth 16")
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--variant", action="append", default=[], metavar="NAME:KEY=VALUE,...")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these variants (default: all)")
    parser.add_argument("--work", type=Path, help="keep the run folders here (default: a new temporary folder)")
    parser.add_argument("--teacher", type=Path, help="a finished teacher run folder (default: train one)")
    opts = parser.parse_args()
    for key, value in DEFAULTS[opts.data].items():
        setattr(opts, key, value if getattr(opts, key) is None else getattr(opts, key))
    return opts


def summary(name: str, rows: list[dict[str, float]], label: str) -> tuple[float, float]:
    """Print mean ± std of the score and train s/epoch for one variant; return the two means."""
    def ms(key: str) -> str:
        values = [r[key] for r in rows]
        std = statistics.stdev(values) if len(values) > 1 else float("nan")
        return f"{statistics.mean(values):.4f} ± {std:.4f}"

    print(f"  {name:>16}: {label} {ms('score')}   train s/epoch {ms('train_s')}   (n={len(rows)})")
    return statistics.mean(r["score"] for r in rows), statistics.mean(r["train_s"] for r in rows)


def print_goals(means: dict[str, tuple[float, float]], classify: bool) -> None:
    """The goals against the means: detect +0.010 mAP50-95 over plain, >= native, time <= 1.15x native;
    classify +0.02 top-1 over plain."""
    (plain, _), (road, road_s) = means["none"], means["roadtune"]
    if classify:
        print(f"goal roadtune >= plain + 0.02 top-1: {road - plain:+.4f}")
        return
    text = f"goal roadtune >= plain + 0.010 mAP50-95: {road - plain:+.4f}"
    if "roadtune+frames" in means:
        text += f" (with frames {means['roadtune+frames'][0] - plain:+.4f})"
    if "native" in means:
        native, native_s = means["native"]
        text += f"; roadtune >= native: {road - native:+.4f}; time roadtune <= 1.15x native: {road_s / native_s:.3f}x"
    print(text)


def plot_loss_terms(run_dirs: list[Path], out: Path) -> None:
    """Every training loss item per epoch of the runs (their results.csv), one colour per run: the label terms on
    the left, the distillation terms as they enter the loss on the right, with kd_ratio (their sum over the label
    terms) dotted on its own axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    fig, (label_ax, kd_ax) = plt.subplots(1, 2, figsize=(11, 4.5))
    ratio_ax = None
    styles = ["-", "--", "-.", ":"]
    for run_dir, colour in zip(run_dirs, plt.rcParams["axes.prop_cycle"].by_key()["color"]):
        table = pd.read_csv(run_dir / "stages" / "train" / "results.csv")
        terms = [c for c in table.columns if c.startswith("train/") and c != "train/kd_ratio"]
        for ax, kd in ((label_ax, False), (kd_ax, True)):
            for column, style in zip([c for c in terms if ("kd_" in c) == kd], styles):
                ax.plot(table["epoch"], table[column], style, color=colour, label=f"{run_dir.name} {column[6:]}")
        if "train/kd_ratio" in table:
            ratio_ax = ratio_ax or kd_ax.twinx()
            ratio_ax.plot(table["epoch"], table["train/kd_ratio"], ":", color=colour, linewidth=2.5,
                          label=f"{run_dir.name} kd_ratio")
    label_ax.set(xlabel="epoch", ylabel="loss item (per image)", title="label loss terms")
    kd_ax.set(xlabel="epoch", title="distillation terms (as they enter the loss)")
    if ratio_ax is not None:
        ratio_ax.set_ylabel("kd_ratio = distillation / label loss (thick dots)")
    for ax in (label_ax, kd_ax):
        ax.legend(loc="upper right", fontsize="x-small")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"loss terms plot: {out}")


def write_report(folders: list[Path], out: Path) -> None:
    """The comparison report of the student runs (pipeline.compare), its summary lines printed."""
    report = subprocess.run([sys.executable, "-m", "pipeline.compare", *map(str, folders), "--out", str(out)],
                            cwd=REPO, capture_output=True, text=True)
    print(report.stdout + report.stderr, end="")


def main() -> None:
    opts = parse_args()
    work = opts.work.resolve() if opts.work else Path(tempfile.mkdtemp(prefix="distill-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    opts.teacher = opts.teacher.resolve() if opts.teacher else None
    recipes = {"kitti": kitti_recipes, "gtsrb": gtsrb_recipes, "synth": synth_recipes}[opts.data]
    teacher, student, common, frames = recipes(work, opts)
    base = {k: v for k, v in BASE_VARIANTS.items() if opts.data != "gtsrb" or k != "native"}
    variants = {**base, **({"roadtune+frames": ["distill.method=roadtune", *frames]} if frames else {})}
    for spec in opts.variant:
        name, _, sets = spec.partition(":")
        variants[name] = ["distill.method=roadtune", *sets.split(",")]
    variants = {k: v for k, v in variants.items() if not opts.only or k in opts.only}
    print(f"work folder {work}", flush=True)
    teacher_dir = opts.teacher or work / "teacher"
    if not opts.teacher:
        run(teacher, teacher_dir, [f"train.imgsz={opts.imgsz}"] if opts.data != "synth" else [])
    label = "top-1" if opts.data == "gtsrb" else "mAP50-95"
    print(f"teacher {label} {figures(teacher_dir)['score']:.4f} ({teacher_dir})", flush=True)
    results: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
    folders = []
    for seed in range(opts.seeds):
        for name, sets in variants.items():
            folder = work / f"{name}-{seed}"
            run(student, folder, [*common, f"train.seed={seed}", *sets])
            folders.append(folder)
            results[name].append(figures(folder))
            print(f"seed {seed} {name:>16}: {label} {results[name][-1]['score']:.4f}  "
                  f"train {results[name][-1]['train_s']:.2f} s/epoch", flush=True)
    print(f"\n{opts.data}, {opts.epochs} epochs at imgsz {opts.imgsz}, batch {opts.batch}, {opts.seeds} seed(s):")
    means = {name: summary(name, rows, label) for name, rows in results.items()}
    if {"none", "roadtune"} <= set(means):
        print_goals(means, opts.data == "gtsrb")
    write_report(folders, work / "report")
    plotted = [work / f"{name}-0" for name in ("none", "roadtune") if (work / f"{name}-0" / "metrics.json").is_file()]
    if plotted:
        plot_loss_terms(plotted, work / "loss-terms.png")


if __name__ == "__main__":
    main()
