"""The device benchmark: label efficiency first (benchmarks/label_efficiency.py: the budget curve at seed 0, the
separating budget over 3 seeds, scored on the held-out split T; goal under 8 minutes on one H100), then the freeze
table at a GPU batch, the probe table (--probe-batch: per depth the largest batch in the memory `freeze: none`
needs, and its images/s), roadtune vs plain Ultralytics for the same point, and the video table (goal: under 8
minutes on one GPU), in one command, printed and written to JSON.

    python benchmarks/gpu.py [--device 0] [--epochs 2] [--imgsz 640] [--batch 64] [--out runs/bench/gpu.json]

Defaults use ../shared beside the repo: kitti_mini, the COCO YOLOv5n state dict (into yolov5nu.yaml) and a dashcam
clip. Every training is a fresh `python -m pipeline.run` (or a plain `YOLO(...).train(...)`) process, so its wall
time includes start-up, as a user sees it. On a bare GPU machine that has torch, install the wheels first
(ultralytics, pydantic, albumentations, lap; see DEVELOPERS.md), then run this file. `--device cpu --epochs 1
--imgsz 64 --batch 8 --frames 16` is a smoke run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DEPTHS = ("none", "backbone", "all-but-head")  # yolov5nu: backbone = layers 0-9, all-but-head = 0-23


def timed(cmd: list[str], log: Path) -> float:
    """Run `cmd` from the repo root, its output into `log`; the wall time in seconds."""
    start = time.perf_counter()
    with log.open("w") as out:
        subprocess.run(cmd, cwd=REPO, check=True, stdout=out, stderr=subprocess.STDOUT)
    return round(time.perf_counter() - start, 2)


def freeze_table(opts: argparse.Namespace, work: Path) -> list[dict]:
    """One roadtune run per freeze depth: wall, train time, images/s, peak memory, mAP50-95."""
    rows = []
    for depth in DEPTHS:
        recipe = work / f"freeze-{depth}.yaml"
        recipe.write_text(yaml.safe_dump({
            "name": f"gpu-{depth}", "task": "detect", "model": "yolov5nu.yaml", "weights": str(opts.weights),
            "data": str(opts.data), "freeze": depth,
            "train": {"epochs": opts.epochs, "imgsz": opts.imgsz, "batch": opts.batch, "device": opts.device,
                      "workers": opts.workers, "plots": False, "seed": 0}}))
        wall = timed([sys.executable, "-m", "pipeline.run", str(recipe), "--runs-dir", str(work / "runs")],
                     work / f"freeze-{depth}.log")
        (run_dir,) = (work / "runs" / f"gpu-{depth}").iterdir()
        metrics = json.loads((run_dir / "metrics.json").read_text())
        rows.append({"freeze": depth, "wall_s": wall, "run_dir": str(run_dir),
                     **{k: metrics[k] for k in ("train_time_s", "time_per_epoch_s", "images_per_s", "peak_memory_mb",
                                                "memory_kind", "map50_95", "params_trainable")}})
        print(f"freeze {depth:>12}: wall {wall:7.1f} s, train {metrics['train_time_s']:7.1f} s, "
              f"{metrics['images_per_s']} img/s, peak {metrics['peak_memory_mb']} MB ({metrics['memory_kind']}), "
              f"mAP50-95 {metrics['map50_95']:.4f}", flush=True)
    return rows


def probe_table(opts: argparse.Namespace, work: Path) -> dict:
    """pipeline.sweep.probe on the freeze table's three depths (same data, weights and settings): probe.json."""
    if opts.device == "cpu":  # the probe measures GPU memory; pipeline.run --probe-batch refuses the CPU
        print("probe: skipped on the CPU")
        return {}
    recipe = work / "probe-sweep.yaml"
    recipe.write_text(yaml.safe_dump({
        "name": "gpu-probe", "task": "detect", "model": "yolov5nu.yaml", "weights": str(opts.weights),
        "data": str(opts.data), "sweep": {"freeze": list(DEPTHS)},
        "train": {"epochs": opts.epochs, "imgsz": opts.imgsz, "batch": opts.batch, "workers": opts.workers,
                  "device": opts.device, "plots": False, "seed": 0}}))
    code = (f"from pathlib import Path; from pipeline.sweep.run import probe_recipe; "
            f"probe_recipe(Path({str(recipe)!r}), Path({str(work / 'probe-sweep')!r}))")
    wall = timed([sys.executable, "-c", code], work / "probe.log")
    probe = json.loads((work / "probe-sweep" / "probe.json").read_text())
    print(f"probe ({wall} s): budget {probe['budget_mb']:,.0f} MB = freeze none at batch {probe['default_batch']} "
          f"on {probe['device']}")
    for e in probe["points"]:
        print(f"freeze {e['freeze']:>12}: batch {e['default_batch']} {e['default_peak_mb']:,.0f} MB "
              f"{e['default_images_per_s']} img/s -> batch {e['probe_batch']} {e['probe_peak_mb']:,.0f} MB "
              f"{e['probe_images_per_s']} img/s", flush=True)
    return {"wall_s": wall, **probe}


def plain_point(opts: argparse.Namespace, work: Path, first: dict) -> dict:
    """The `freeze: none` point through plain Ultralytics, from the same init.pt roadtune trained from."""
    init = Path(first["run_dir"]) / "init.pt"
    code = (f"from ultralytics import YOLO; YOLO({str(init)!r}).train(data={str(opts.data)!r}, epochs={opts.epochs}, "
            f"imgsz={opts.imgsz}, batch={opts.batch}, device={opts.device!r}, workers={opts.workers}, plots=False, "
            f"seed=0, project={str(work / 'plain')!r}, name='none')")
    wall = timed([sys.executable, "-c", code], work / "plain.log")
    ratio = round(first["wall_s"] / wall, 3)
    print(f"same point (freeze none): roadtune {first['wall_s']} s vs plain Ultralytics {wall} s wall "
          f"(ratio {ratio}); roadtune's training itself {first['train_time_s']} s (goal: wall <= train + 3 s)")
    return {"roadtune_wall_s": first["wall_s"], "plain_wall_s": wall, "ratio": ratio,
            "roadtune_train_s": first["train_time_s"]}


def video_table(opts: argparse.Namespace, weights: str, work: Path) -> dict:
    """benchmarks/video.py on the `freeze: none` model: plain loop, each backend, decode-only, inference-only."""
    cmd = [sys.executable, "-m", "benchmarks.video", "--imgsz", str(opts.imgsz), "--weights", weights,
           "--video", str(opts.video), "--repeat", "1", "--device", opts.device, "--backends", *opts.backends]
    cmd += ["--max-frames", str(opts.frames)] if opts.frames else []
    timed(cmd, work / "video.log")
    print((work / "video.log").read_text().strip().split("\n\n")[-1])
    return json.loads((REPO / "runs" / "bench" / f"video_{opts.imgsz}.json").read_text())


def label_efficiency(opts: argparse.Namespace, work: Path) -> dict:
    """benchmarks/label_efficiency.py on the device: plain, the teacher-labelled student and the true-label bound
    at every budget of --le-budgets with seed 0, then 3 seeds at --le-separating; its printed tables kept."""
    script = [sys.executable, str(REPO / "benchmarks/label_efficiency.py"), "--work", str(work / "label-efficiency"),
              "--device", opts.device, "--only", "plain", "pseudo-f1-rep3", "upper-rep3"]
    curve = timed([*script, "--seeds", "1", "--budgets", *map(str, opts.le_budgets)], work / "le-curve.log")
    separating = timed([*script, "--seeds", "3", "--budgets", str(opts.le_separating)], work / "le-seeds.log")
    tables = (work / "le-curve.log").read_text().split("test split T", 1)[-1][-6000:]
    return {"curve_s": curve, "separating_s": separating, "tables": tables,
            "seeds_tables": (work / "le-seeds.log").read_text().split("test split T", 1)[-1][-6000:]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="0")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--imgsz", type=int, default=640)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--workers", type=int, default=8)
    p.add_argument("--data", type=Path, default=SHARED / "data/kitti_mini/data.yaml")
    p.add_argument("--weights", type=Path, default=SHARED / "weights/yolov5n_coco_state_dict.pt")
    p.add_argument("--video", type=Path, default=SHARED / "video/highway_dashcam_udacity_solidWhiteRight.mp4")
    p.add_argument("--frames", type=int, help="only the first N frames of the clip")
    p.add_argument("--backends", nargs="+", default=["torch"])
    p.add_argument("--out", type=Path, default=REPO / "runs/bench/gpu.json")
    p.add_argument("--le-budgets", type=int, nargs="+", default=[220, 660, 1320], help="label-efficiency budgets")
    p.add_argument("--le-separating", type=int, default=660, help="the budget label efficiency repeats over 3 seeds")
    p.add_argument("--skip-label-efficiency", action="store_true")
    opts = p.parse_args()
    work = opts.out.parent / f"gpu-{time.strftime('%Y%m%d-%H%M%S')}"
    work.mkdir(parents=True)
    start = time.perf_counter()
    # first: label efficiency has never run on a GPU, and it is the part a CPU cannot finish
    first = {} if opts.skip_label_efficiency else {"label_efficiency": label_efficiency(opts, work)}
    rows = freeze_table(opts, work)
    report = {"settings": {k: str(v) for k, v in vars(opts).items()}, **first, "freeze": rows,
              "probe": probe_table(opts, work),
              "overhead": plain_point(opts, work, rows[0])}
    report["video"] = video_table(opts, str(Path(rows[0]["run_dir"]) / "stages/train/weights/best.pt"), work)
    report["total_s"] = round(time.perf_counter() - start, 1)
    opts.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"all figures: {opts.out} ({report['total_s']} s in all; goal < 480 s on one GPU)")


if __name__ == "__main__":
    main()
