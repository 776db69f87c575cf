"""Time per epoch of the distillation methods on the same recipe: roadtune vs native vs none (plain student).

    python benchmarks/distill.py [--recipe recipes/distill-v8s-to-n.yaml] [--epochs 2] [--imgsz 160] [--repeats 3]

The recipe's teacher is trained once first (1 epoch: its quality does not change the cost of distilling from it),
then each method runs the same recipe from that teacher's run folder (``--set distill.method=...``), alternating
methods so machine noise hits all three alike. Figures come from each run's own ``stages/train/epochs.jsonl``:
``train_s`` is the training part of an epoch, ``epoch_s`` adds the validation. Goal: roadtune <= 1.15x native.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
METHODS = ("none", "native", "roadtune")


def run(recipe: Path, run_dir: Path, *overrides: str) -> None:
    sets = [arg for o in overrides for arg in ("--set", o)]
    subprocess.run([sys.executable, "-m", "pipeline.run", str(recipe), "--run-dir", str(run_dir), *sets], cwd=REPO,
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def per_epoch(run_dir: Path) -> dict[str, float]:
    """Mean train_s and epoch_s over the student stage's epochs."""
    epochs = [json.loads(line) for line in (run_dir / "stages" / "train" / "epochs.jsonl").read_text().splitlines()]
    return {key: statistics.mean(e[key] for e in epochs) for key in ("train_s", "epoch_s")}


def teacher_recipe(recipe_path: Path, work: Path) -> Path:
    """The distill recipe's teacher as a recipe of its own (same data and train args, 1 epoch, no distill)."""
    recipe = yaml.safe_load(recipe_path.read_text())
    distill = recipe.pop("distill")
    recipe.pop("sweep", None)
    local = recipe_path.parent / distill["teacher"]  # a path relative to the recipe, or a built-in architecture
    recipe.update(name="distill-bench-teacher", model=str(local.resolve()) if local.is_file() else distill["teacher"],
                  data=str((recipe_path.parent / recipe["data"]).resolve()),
                  train={**recipe.get("train", {}), **(distill.get("teacher_train") or {}), "epochs": 1})
    path = work / "teacher.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", type=Path, default=REPO / "recipes" / "distill-v8s-to-n.yaml")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--imgsz", type=int, default=160)
    parser.add_argument("--repeats", type=int, default=3)
    opts = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="distill-bench-"))
    size = f"train.imgsz={opts.imgsz}"
    run(teacher_recipe(opts.recipe.resolve(), work), work / "teacher", size)
    times: dict[str, list[dict[str, float]]] = {m: [] for m in METHODS}
    for i in range(opts.repeats):
        for method in METHODS:
            folder = work / f"{method}-{i}"
            run(opts.recipe.resolve(), folder, size, f"train.epochs={opts.epochs}", f"distill.method={method}",
                f"distill.teacher={work / 'teacher'}", "distill.teacher_train=null")
            times[method].append(per_epoch(folder))
            print(f"repeat {i + 1} {method:>8}: train {times[method][-1]['train_s']:.2f} s/epoch, "
                  f"with val {times[method][-1]['epoch_s']:.2f} s/epoch", flush=True)
    med = {m: {k: statistics.median(t[k] for t in times[m]) for k in ("train_s", "epoch_s")} for m in METHODS}
    print(f"\nmedian over {opts.repeats} repeats, {opts.epochs} epochs at imgsz {opts.imgsz} ({opts.recipe.name}):")
    for method in METHODS:
        ratio = med[method]["train_s"] / med["native"]["train_s"]
        print(f"  {method:>8}: train {med[method]['train_s']:.2f} s/epoch  with val {med[method]['epoch_s']:.2f} "
              f"s/epoch  train vs native {ratio:.3f}x")
    print(f"goal roadtune <= 1.15x native: "
          f"{med['roadtune']['train_s'] / med['native']['train_s']:.3f}x (train), "
          f"{med['roadtune']['epoch_s'] / med['native']['epoch_s']:.3f}x (with val)")


if __name__ == "__main__":
    main()
