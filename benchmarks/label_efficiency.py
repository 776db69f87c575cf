"""Few labels, much footage: does a teacher that labels in-domain frames beat the plain student at equal batches?

    python benchmarks/label_efficiency.py [--seeds 3] [--batches 220] [--work DIR]
    python benchmarks/label_efficiency.py --fractions 0.25 0.5 --seeds 1

Labelled set L: ../shared/data/kitti_mini train (150 frames). Unlabelled pool U: the 724 ../shared/data/kitti_pool
train images, their labels ignored (used only by the `upper` control). Validation: kitti_mini val (50 frames).
Teacher: COCO-initialised YOLOv5nu fine-tuned on L at ``--teacher-imgsz`` (640). Student: COCO-initialised YOLOv5nu
at ``--imgsz`` (320), the nano a car would run. Every variant gets the same number of batches (``--batches``): its
epochs are that budget over its batches per epoch, so a variant with more images trains fewer epochs; the batches
and images seen of each run are read back from its metrics.json and printed. Variants:

- ``plain``: L only;
- ``pseudo-025``: L + U labelled by the teacher at one threshold (0.25);
- ``pseudo-f1``: per-class thresholds at the teacher's F1 peak on val (``distill.conf: f1``);
- ``pseudo-f1-ignore``: and uncertain boxes (0.05 up to the threshold) painted grey (``distill.ignore_conf``);
- ``pseudo-f1-rep3``: per-class thresholds, the labelled frames three times per epoch (``distill.labeled_repeats``);
- ``pseudo-f1-ignore-rep3``: the three together;
- ``upper``, ``upper-rep3``: L (once, or three times per epoch) + U with U's true labels (the upper bounds).

``--fractions`` makes the label-fraction curve: L cut to each fraction (evenly spaced frames), plain and HEADLINE,
each fraction below 1 with its own teacher trained on that fraction alone.
``--work`` keeps every run folder (default ``runs/bench-label-efficiency``); a finished run is not run again.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from distill import REPO, SHARED, figures, run, write_report  # noqa: E402 - the sibling benchmark's helpers
from heldout import compared  # noqa: E402

POOL_DATA = SHARED / "data" / "kitti_pool"
TEST_LIST = REPO / "datasets" / "splits" / "kitti_pool_test.txt"  # T (benchmarks/kitti_test_split.py says how)
HEADLINE = "pseudo-f1-rep3"  # the best teacher-labelled variant of the full labelled set: the fraction curve's
VARIANTS = {
    "plain": [],
    "pseudo-025": ["distill.conf=0.25", "distill.labeled_repeats=1"],
    "pseudo-f1": ["distill.conf=f1", "distill.labeled_repeats=1"],
    "pseudo-f1-ignore": ["distill.conf=f1", "distill.ignore_conf=0.05", "distill.labeled_repeats=1"],
    "pseudo-f1-rep3": ["distill.conf=f1", "distill.labeled_repeats=3"],
    "pseudo-f1-ignore-rep3": ["distill.conf=f1", "distill.ignore_conf=0.05", "distill.labeled_repeats=3"],
    "upper": [],
    "upper-rep3": ["distill.labeled_repeats=3"],
}


def labelled_subset(work: Path, fraction: float) -> Path:
    """kitti_mini with its train split cut to `fraction` (evenly spaced frames, val whole); the data YAML."""
    full = work / "kitti_mini"
    if not full.is_dir():
        shutil.copytree(SHARED / "data" / "kitti_mini", full)
    if fraction >= 1:
        return full / "data.yaml"
    folder = work / f"kitti_mini_{int(fraction * 100)}"
    if not folder.is_dir():
        images = sorted((full / "images" / "train").iterdir())
        keep = images[:: round(1 / fraction)]
        for sub, files in (("images", keep), ("labels", [full / "labels" / "train" / f"{p.stem}.txt" for p in keep])):
            (folder / sub / "train").mkdir(parents=True)
            for f in files:
                shutil.copyfile(f, folder / sub / "train" / f.name)
        data = {"train": str(folder / "images" / "train"), "val": str(full / "images" / "val"),
                "names": yaml.safe_load((full / "data.yaml").read_text())["names"]}
        (folder / "data.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return folder / "data.yaml"


def upper_data(work: Path, labelled: Path, repeats: int) -> Path:
    """L (`repeats` times) + U with U's true labels (a copy of kitti_pool: Ultralytics writes label caches beside
    the labels)."""
    pool = work / "kitti_U"
    config = yaml.safe_load(labelled.read_text())
    root = labelled.parent
    data = {"train": [str(root / config["train"])] * repeats + [str(pool / "images" / "train")],
            "val": str(root / config["val"]), "names": config["names"]}
    path = labelled.with_name("upper.yaml" if repeats == 1 else f"upper-{repeats}.yaml")
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def checked_split(test_list: Path, opts: argparse.Namespace) -> tuple[list[str], list[str]]:
    """T's frames (the list) and U's (kitti_pool less T); exits 2, before anything is written, when the list names
    a frame that is missing or in kitti_mini (L or its val split), or a budget is below one epoch of the largest
    training set (L three times and U)."""
    names = [n.strip() for n in test_list.read_text().splitlines() if n.strip()]
    pool = {p.name for p in (POOL_DATA / "images" / "train").iterdir()}
    mini = {p.name for p in (SHARED / "data" / "kitti_mini" / "images").glob("*/*")}
    for name in names:
        if name in mini or name not in pool:
            print(f"{test_list}: {name} is {'a kitti_mini frame' if name in mini else 'not a kitti_pool frame'}; "
                  "T must be kitti_pool frames only", file=sys.stderr)
            sys.exit(2)
    labelled = len(list((SHARED / "data" / "kitti_mini" / "images" / "train").iterdir()))
    largest = math.ceil((3 * labelled + len(pool) - len(set(names))) / opts.batch)
    for budget in opts.budgets:
        if budget < largest:
            print(f"--budgets: {budget} batches is less than one epoch of the largest set ({largest} batches of "
                  f"{opts.batch}): use at least {largest}", file=sys.stderr)
            sys.exit(2)
    return sorted(names), sorted(pool - set(names))


def split_pool(work: Path, test: list[str], pool: list[str]) -> tuple[Path, Path]:
    """The pool U (with its labels, for the upper bound) and the test split T as a data YAML, copied into `work`."""
    split = {"kitti_T": ("test", test), "kitti_U": ("train", pool)}
    for folder, (sub, frames) in split.items():
        if (work / folder / "images" / sub).is_dir():
            continue
        for kind, suffix in (("images", ".jpg"), ("labels", ".txt")):
            (work / folder / kind / sub).mkdir(parents=True, exist_ok=True)
            for frame in frames:  # copies: Ultralytics writes label caches beside the labels
                stem = frame.rsplit(".", 1)[0]
                file = f"{stem}{suffix}"
                shutil.copyfile(POOL_DATA / kind / "train" / file, work / folder / kind / sub / file)
    names_map = yaml.safe_load((POOL_DATA / "data.yaml").read_text())["names"]
    test_yaml = work / "kitti_T" / "data.yaml"
    test_yaml.write_text(yaml.safe_dump({"train": str(work / "kitti_T" / "images" / "test"),
                                         "val": str(work / "kitti_T" / "images" / "test"), "names": names_map}))
    return work / "kitti_U" / "images" / "train", test_yaml


def epochs_for(images: int, budget: int, opts: argparse.Namespace) -> int:
    """Epochs that give `images` train images about `budget` batches (Ultralytics keeps the last partial one)."""
    return max(1, round(budget / math.ceil(images / opts.batch)))


def student_sets(name: str, data: Path, teacher: Path, budget: int, opts: argparse.Namespace) -> list[str]:
    """The overrides of one variant: its data, epochs from the batch budget, close_mosaic at the same share, and
    for the teacher-labelled ones the teacher (trained on the same labelled frames)."""
    labelled = len(list((data.parent / yaml.safe_load(data.read_text())["train"]).iterdir()))
    repeats = next((int(v.split("=")[1]) for v in VARIANTS[name] if v.startswith("distill.labeled_repeats")), 1)
    images = labelled if name == "plain" else labelled * repeats + len(list(opts.pool.iterdir()))
    if name.startswith("upper"):
        data = upper_data(data.parent.parent, data, repeats)
    epochs = epochs_for(images, budget, opts)
    sets = [f"data={data}", f"train.epochs={epochs}", f"train.close_mosaic={max(1, round(epochs / 6))}"]
    if name.startswith("pseudo"):
        sets += [f"distill.teacher={teacher}", "distill.method=none",
                 f"distill.unlabeled={json.dumps([str(opts.pool)])}", *VARIANTS[name]]
    return sets


def write_recipes(work: Path, opts: argparse.Namespace) -> tuple[Path, Path]:
    """The teacher's recipe and the student's (plain; the variants add their keys with --set)."""
    weights = str(SHARED / "weights" / "yolov5n_coco_state_dict.pt")
    common = {"task": "detect", "model": "yolov5nu.yaml", "weights": weights,
              "data": str(labelled_subset(work, 1.0))}
    train = {"batch": opts.batch, "workers": 0, "plots": False, "warmup_epochs": 1,
             **({"device": opts.device} if opts.device else {})}
    teacher = {"name": "bench-teacher", **common,  # roadtune's own: --teacher takes any finished run folder
               "train": {**train, "imgsz": opts.teacher_imgsz, "epochs": opts.teacher_epochs, "seed": 0}}
    student = {"name": "bench-student", **common, "train": {**train, "imgsz": opts.imgsz}}
    paths = work / "teacher.yaml", work / "student.yaml"
    for path, recipe in zip(paths, (teacher, student)):
        path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return paths


def row(folder: Path) -> dict[str, float]:
    metrics = json.loads((folder / "metrics.json").read_text())
    return {**figures(folder), "batches": metrics["batches"], "images_seen": metrics["images_seen"],
            "per_batch_s": metrics["time_per_batch_s"]}


def print_table(results: dict[str, list[dict[str, float]]], teacher: float) -> None:
    """Mean ± std, per seed, the seed-paired gain over plain, batches, images seen, time per batch, gap closed."""
    plain = [r["score"] for r in results.get("plain", [])]
    upper = statistics.mean(r["score"] for r in results["upper"]) if results.get("upper") else None
    print(f"\nteacher mAP50-95 {teacher:.4f}\n| student | mAP50-95 mean ± std | per seed "
          "| vs plain, same seed (points) | batches | images seen | s/batch | gap to upper closed |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, rows in results.items():
        scores = [r["score"] for r in rows]
        std = statistics.stdev(scores) if len(scores) > 1 else float("nan")
        gains = " / ".join(f"{100 * (s - p):+.1f}" for s, p in zip(scores, plain)) if name != "plain" else ""
        closed, base = "", statistics.mean(plain) if plain else None
        if upper is not None and base is not None and name not in ("plain", "upper"):
            closed = (f"{100 * (statistics.mean(scores) - base) / (upper - base):.0f}%" if upper - base >= 0.01 else
                      "n/a: upper within 1 point of plain")
        print(f"| {name} | {statistics.mean(scores):.4f} ± {std:.4f} | {' / '.join(f'{s:.4f}' for s in scores)} | "
              f"{gains} | {rows[0]['batches']} | {rows[0]['images_seen']} | "
              f"{statistics.median(r['per_batch_s'] for r in rows):.3f} | {closed} |")


def print_test_table(results: dict[str, list[dict[str, float]]], held: dict[str, dict], teacher: dict) -> None:
    """Per row on T: mAP50-95 with its 95 % interval (test images and seeds), the paired difference to plain at the
    same budget, batches, images seen, time per batch and the share of the gap to the true-label bound closed."""
    print(f"\ntest split T ({teacher['images']} frames); teacher mAP50-95 on T {teacher['test']:.4f}\n"
          "| student | seeds | T mAP50-95 [95 % interval] | vs plain, paired (points) [95 %] | val mAP50-95 | batches "
          "| images seen | s/batch | gap to upper closed |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for label, rows in results.items():
        row, budget = held[label], label.rsplit("@", 1)[1]
        low, high = row["interval"]
        delta = "" if row["delta_interval"] is None else (
            f"{100 * (row['test'] - held[row['delta_vs']]['test']):+.1f} [{row['delta_interval'][0]:+.1f}, "
            f"{row['delta_interval'][1]:+.1f}]")
        upper, plain = held.get(f"upper-rep3@{budget}"), held.get(f"plain@{budget}")
        closed = ""
        if upper and plain and label.split("@")[0] not in ("plain", "upper-rep3"):
            gap = upper["test"] - plain["test"]
            closed = f"{100 * (row['test'] - plain['test']) / gap:.0f}%" if gap >= 0.01 else "n/a: gap < 1 point"
        print(f"| {label} | {len(rows)} | {row['test']:.4f} [{low:.4f}, {high:.4f}] | {delta} | "
              f"{statistics.mean(r['score'] for r in rows):.4f} | {rows[0]['batches']} | {rows[0]['images_seen']} | "
              f"{statistics.median(r['per_batch_s'] for r in rows):.3f} | {closed} |")


def plot_curve(results: dict[str, list[dict[str, float]]], labelled: dict[str, int], pool: Path, out: Path) -> None:
    """mAP50-95 against labelled frames, plain and teacher-labelled (mean over seeds, every seed as a dot), the
    upper bound beside the full set."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for name, style in (("plain", "o-"), (HEADLINE, "s-"), ("upper", "^")):
        labels = sorted((k for k in results if k.split("@")[0] == name), key=lambda k: labelled[k])
        if not labels:
            continue
        xs = [labelled[k] for k in labels]
        ax.plot(xs, [statistics.mean(r["score"] for r in results[k]) for k in labels], style,
                label={HEADLINE: "L (x3) + teacher-labelled U", "upper": "L + U, true labels"}.get(name, "L only"))
        for x, k in zip(xs, labels):
            ax.scatter([x] * len(results[k]), [r["score"] for r in results[k]], s=8, color="grey", zorder=3)
    ax.set(xlabel=f"labelled frames (plus {len(list(pool.iterdir()))} unlabelled)", ylabel="mAP50-95 (kitti_mini val)",
           title="Label efficiency at equal batches")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"curve: {out}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--budgets", type=int, nargs="+", default=[220],
                        help="batch budgets: each student variant runs at each (at least one epoch of the largest set)")
    parser.add_argument("--test-list", type=Path, default=TEST_LIST,
                        help="kitti_pool frames held out as the test split T (never trained on or labelled)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--imgsz", type=int, default=320, help="the student's image size")
    parser.add_argument("--teacher-imgsz", type=int, default=640)
    parser.add_argument("--teacher-epochs", type=int, default=20)
    parser.add_argument("--teacher", type=Path, help="a finished teacher run folder (default: train one)")
    parser.add_argument("--only", nargs="+", choices=tuple(VARIANTS), help="run only these variants")
    parser.add_argument("--fractions", nargs="+", type=float, default=[1.0],
                        help="labelled fractions to run (1: the full labelled set, all variants)")
    parser.add_argument("--device", help="train.device of every run (default: Ultralytics' choice)")
    parser.add_argument("--no-train", action="store_true", help="tabulate the finished runs of --work, train none")
    parser.add_argument("--work", type=Path, default=REPO / "runs" / "bench-label-efficiency")
    return parser.parse_args()


def main() -> None:
    opts = parse_args()
    work = opts.work.resolve()
    test, pool = checked_split(opts.test_list.resolve(), opts)
    work.mkdir(parents=True, exist_ok=True)
    opts.pool, opts.test_data = split_pool(work, test, pool)
    opts.teacher = opts.teacher.resolve() if opts.teacher else None
    teacher_recipe, student = write_recipes(work, opts)
    if not opts.teacher:
        opts.teacher = work / "teacher"
        if not opts.no_train:
            run(teacher_recipe, opts.teacher, [])
    print(f"work folder {work}\nteacher {opts.teacher}\ntest split {opts.test_data}", flush=True)
    variants = [v for v in VARIANTS if not opts.only or v in opts.only]
    results: dict[str, list[dict[str, float]]] = {}
    labelled: dict[str, int] = {}
    folders = []
    for budget in opts.budgets:
        for seed in range(opts.seeds):
            for fraction in opts.fractions:
                data, teacher = labelled_subset(work, fraction), opts.teacher
                if fraction < 1:  # the teacher knows only the labelled frames the student has
                    teacher = work / f"teacher-L{int(fraction * 100)}"
                    if not opts.no_train:
                        run(teacher_recipe, teacher, [f"data={data}"])
                for name in (variants if fraction == 1.0 else ["plain", HEADLINE]):
                    label = (name if fraction == 1.0 else f"{name}@L{int(fraction * 100)}%") + f"@b{budget}"
                    folder = work / f"{label.replace('@', '-').replace('%', '')}-{seed}"
                    if opts.no_train and not (folder / "metrics.json").is_file():
                        continue
                    run(student, folder, [*student_sets(name, data, teacher, budget, opts), f"train.seed={seed}"])
                    folders.append(folder)
                    results.setdefault(label, []).append(row(folder))
                    labelled[label] = len(list((data.parent / yaml.safe_load(data.read_text())["train"]).iterdir()))
                    print(f"seed {seed} {label:>24}: mAP50-95 {results[label][-1]['score']:.4f}  batches "
                          f"{results[label][-1]['batches']}", flush=True)
    print_table(results, figures(opts.teacher)["score"])
    runs = {label: [f for f in folders if f.name.rsplit("-", 1)[0] == label.replace("@", "-").replace("%", "")]
            for label in results}
    held = compared(runs, {label: f"plain@{label.rsplit('@', 1)[1]}" for label in runs}, opts.test_data, work)
    print_test_table(results, held, compared({"teacher": [opts.teacher]}, {}, opts.test_data, work)["teacher"])
    write_report(folders, work / "report")
    plot_curve(results, labelled, opts.pool, work / "label-efficiency.png")


if __name__ == "__main__":
    main()
