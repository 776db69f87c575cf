"""Exported models on this machine: roadtune's latency against Ultralytics' benchmark(), fp32 against int8, and
the export goals.

    python benchmarks/export.py RUN_DIR [--formats onnx,openvino] [--imgsz N] [--work DIR]

RUN_DIR is a finished run (its recipe's dataset is the val split measured on). The script

1. exports RUN_DIR twice with ``python -m pipeline.export RUN_DIR --format onnx,openvino --overwrite`` (fp32) and
   prints both latency measurements (goal: the two within 10 %) and the accuracy after export (goal: within
   0.3 mAP50-95 points of PyTorch);
2. exports ``--format openvino --int8`` and prints its images/s against fp32's (goal: >= 1.5x) and its accuracy
   drop (goal: <= 1.0 point);
3. runs Ultralytics' ``benchmark()`` on a copy of the same best.pt for each format, and roadtune's latency
   measurement on the same square input benchmark() uses (it letterboxes to imgsz x imgsz, where a deployed
   predictor takes the smallest rectangle): its inference ms against roadtune's (goal: within 10 %).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def export(run_dir: Path, *args: str) -> None:
    """`python -m pipeline.export RUN_DIR ARGS --overwrite`, from the repo root, its output shown."""
    subprocess.run([sys.executable, "-m", "pipeline.export", str(run_dir), *args, "--overwrite"], cwd=REPO,
                   check=True)


def record(run_dir: Path, name: str) -> dict:
    return json.loads((run_dir / "export" / name / "export.json").read_text())


def figures(name: str, r: dict) -> str:
    lat, delta = r["latency_ms"], r["accuracy_delta_pts"]["map50_95"]
    return (f"{name:15} total {lat['total']['median']:7.2f} ms (p90 {lat['total']['p90']:7.2f})  inference "
            f"{lat['inference']['median']:7.2f} ms  {r['throughput']['images_per_s']:7.1f} images/s @ batch "
            f"{r['throughput']['batch']}  {r['size_mb']:6.2f} MB  mAP50-95 {r['accuracy']['map50_95']:.4f} "
            f"({delta:+.2f} pts vs PyTorch {r['pytorch']['accuracy']['map50_95']:.4f})")


def ultralytics_benchmark(weights: Path, data: str, imgsz: int, fmt: str, work: Path) -> float:
    """benchmark()'s inference ms/image for `fmt` on a copy of `weights` (it exports beside its input)."""
    from pipeline.ultralytics_api import benchmark

    copy = Path(shutil.copy2(weights, work / f"{fmt}-{weights.name}"))
    os.chdir(work)  # benchmark() appends to ./benchmarks.log
    table = benchmark(model=str(copy), data=data, imgsz=imgsz, format=fmt, device="cpu")
    return float(table["Inference time (ms/im)"][-1])


def roadtune_square(weights: Path, data: str, imgsz: int, fmt: str, work: Path) -> float:
    """roadtune's latency measurement (inference part, median) of the `fmt` export, on frames already square."""
    import cv2
    from ultralytics import YOLO

    from pipeline.export.measure import latency, val_images

    artifact = YOLO(shutil.copy2(weights, work / f"sq-{weights.name}")).export(format=fmt, imgsz=imgsz,
                                                                             verbose=False)
    frames = [cv2.resize(f, (imgsz, imgsz)) for f in val_images(Path(data), 40)]
    return latency(YOLO(artifact, task="detect"), frames, 1, 50, 10, imgsz=imgsz, device="cpu")["inference"]["median"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--formats", default="onnx,openvino")
    parser.add_argument("--imgsz", type=int, help="export and measure at this size (default: the run's train.imgsz)")
    parser.add_argument("--work", type=Path, help="scratch folder for benchmark()'s exports (default: a temp dir)")
    opts = parser.parse_args()
    run_dir, formats = opts.run_dir.resolve(), opts.formats.split(",")
    size = ["--imgsz", str(opts.imgsz)] if opts.imgsz else []
    sys.path.insert(0, str(REPO))

    first = {}
    for attempt in (1, 2):
        export(run_dir, "--format", opts.formats, *size)
        measured = {fmt: record(run_dir, fmt) for fmt in formats}
        first = first or measured
        for fmt in formats:
            print(f"run {attempt}: " + figures(fmt, measured[fmt]))
    for fmt in formats:
        a, b = first[fmt]["latency_ms"]["total"]["median"], measured[fmt]["latency_ms"]["total"]["median"]
        print(f"goal, two latency runs within 10 %: {fmt} {a:.2f} vs {b:.2f} ms: {abs(a - b) / min(a, b) * 100:.1f} %")
        print(f"goal, fp32 within 0.3 points of PyTorch: {fmt} "
              f"{measured[fmt]['accuracy_delta_pts']['map50_95']:+.2f} points")

    export(run_dir, "--format", "openvino", "--int8", *size)
    int8, fp32 = record(run_dir, "openvino-int8"), measured.get("openvino") or record(run_dir, "openvino")
    print(figures("openvino-int8", int8))
    speedup = int8["throughput"]["images_per_s"] / fp32["throughput"]["images_per_s"]
    change = (int8["accuracy"]["map50_95"] - fp32["accuracy"]["map50_95"]) * 100
    print(f"goal, int8 >= 1.5x fp32 images/s: {speedup:.2f}x; int8 mAP50-95 change vs fp32 >= -1.0 point: "
          f"{change:+.2f} points (vs PyTorch: {int8['accuracy_delta_pts']['map50_95']:+.2f})")

    work = opts.work or Path(tempfile.mkdtemp(prefix="export-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    weights, data, imgsz = Path(fp32["weights"]), fp32["data"], fp32["imgsz"]
    for fmt in formats:
        theirs = ultralytics_benchmark(weights, data, imgsz, fmt, work)
        ours = roadtune_square(weights, data, imgsz, fmt, work)
        print(f"goal, roadtune vs benchmark() within 10 %: {fmt} inference at {imgsz}x{imgsz}: roadtune {ours:.2f} "
              f"ms, benchmark() {theirs:.2f} ms ({(ours / theirs - 1) * 100:+.1f} %)")


if __name__ == "__main__":
    main()
