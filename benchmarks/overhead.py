"""Overhead of roadtune over plain Ultralytics: the same 1-stage training both ways, wall time, 3 repeats.

    python benchmarks/overhead.py [--epochs 2] [--imgsz 160] [--repeats 3]

Both sides run in a fresh subprocess (imports included) with identical train arguments on the synthetic road set;
runs alternate so machine noise hits both. Goal: median ratio roadtune / plain <= 1.05 (wall). The CPU time of
each process (user + system, children included) is printed beside it: on a machine shared with other jobs the wall
ratio is noise, the CPU ratio still says what roadtune adds.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(cmd: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of `cmd` run from the repo root."""
    start, cpu = time.perf_counter(), cpu_seconds()
    subprocess.run(cmd, cwd=REPO, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start, cpu_seconds() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--imgsz", type=int, default=160)
    parser.add_argument("--repeats", type=int, default=3)
    opts = parser.parse_args()

    sys.path.insert(0, str(REPO))
    from pipeline.bootstrap import bootstrap

    bootstrap()
    from pipeline.datasets.resolve import resolve_dataset

    data = resolve_dataset(REPO / "datasets" / "synth-road.yaml").yaml_path  # generated once, outside the timing
    train = {"epochs": opts.epochs, "imgsz": opts.imgsz, "batch": 16, "workers": 2, "seed": 0, "freeze": 10}
    work = Path(tempfile.mkdtemp(prefix="overhead-"))
    recipe = work / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({"name": "overhead", "task": "detect", "model": "yolov8n.yaml", "data": str(data),
                                      "freeze": 10, "train": {k: v for k, v in train.items() if k != "freeze"}}))
    plain = (f"from ultralytics import YOLO; YOLO('yolov8n.yaml').train(data={str(data)!r}, "
             f"project={str(work / 'plain')!r}, name='r', **{train!r})")
    times: dict[str, list[tuple[float, float]]] = {"roadtune": [], "plain": []}
    for i in range(opts.repeats):
        times["plain"].append(timed([sys.executable, "-c", plain]))
        times["roadtune"].append(timed([sys.executable, "-m", "pipeline.run", str(recipe), "--runs-dir",
                                        str(work / "runs")]))
        print(f"repeat {i + 1}: plain {times['plain'][-1][0]:.2f} s ({times['plain'][-1][1]:.2f} s CPU), "
              f"roadtune {times['roadtune'][-1][0]:.2f} s ({times['roadtune'][-1][1]:.2f} s CPU)", flush=True)
    for i, what in enumerate(("wall time", "CPU time")):
        med = {k: statistics.median(t[i] for t in v) for k, v in times.items()}
        goal = " (goal <= 1.05)" if i == 0 else ""
        print(f"median {what}: plain {med['plain']:.2f} s, roadtune {med['roadtune']:.2f} s, "
              f"ratio {med['roadtune'] / med['plain']:.3f}{goal}")


if __name__ == "__main__":
    main()
