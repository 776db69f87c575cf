"""Does successive halving (ASHA) give the freeze answer of the full grid, at a fraction of its epochs?

    python benchmarks/search.py [--seeds 3] [--epochs 12] [--grace 4] [--reduction 3] [--work DIR] [--no-train]

The grid: freeze none, 5, backbone, 15, all-but-head, 3 repeats (training seeds 0-2), on a copy of kitti_mini
(150 train / 50 val frames, ../shared) at 320 px, COCO-initialised YOLOv5nu, ``--epochs`` each. It runs once in full
(``search-full``) and once per search seed k with ``sweep.search: {method: asha, grace_epochs, reduction, seed: k}``
(``search-asha-g<grace>-r<reduction>-s<k>``): the same 15 points, started in the order k shuffles them. Printed for
each: epochs trained, the wall time (the command's, and the sum of its points'), and the recommendation. Then the
early-stopping bias:
per freeze depth, its rank (mean score over the seeds) after each epoch of the full grid against its rank at the end.

A finished sweep folder under ``--work`` is reused; an unfinished one continues. ``--no-train`` only tabulates.
``--replay`` adds what Ray Tune's ASHA bracket would decide, for several grace periods and reduction factors, fed the
full grid's recorded curves one point after another (no training: the planning table for the defaults; a real
search's trainings differ from the full grid's a little, CPU training is not bit-reproducible here).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DEPTHS = ["none", 5, "backbone", 15, "all-but-head"]


def recipe(work: Path, name: str, opts: argparse.Namespace, search: dict | None) -> Path:
    """The sweep recipe `name` in `work` (the full grid, or with `search`)."""
    sweep = {"freeze": DEPTHS, "repeats": 3, **({"search": search} if search else {})}
    body = {"name": name, "task": "detect", "model": "yolov5nu.yaml",
            "weights": str(SHARED / "weights" / "yolov5n_coco_state_dict.pt"), "data": "kitti_mini/data.yaml",
            "train": {"epochs": opts.epochs, "warmup_epochs": 1, "imgsz": 320, "batch": 16, "workers": 2},
            "sweep": sweep}
    path = work / f"{name}.yaml"
    path.write_text(yaml.safe_dump(body, sort_keys=False))
    return path


def finished_sweep(runs: Path, name: str) -> Path | None:
    """The newest sweep folder of `name` whose report is written (every point finished, failed or stopped)."""
    found = sorted((runs / name).glob("*/report.csv"))
    return found[-1].parent if found else None


def run_sweep(path: Path, runs: Path, walls: dict[str, float], wall_file: Path) -> None:
    """`pipeline.run` of a sweep recipe (it continues an unfinished folder); its wall time into `walls`."""
    name = path.stem
    if finished_sweep(runs, name):
        return
    start = time.perf_counter()
    log = runs.parent / f"{name}.log"
    with log.open("a") as out:
        done = subprocess.run([sys.executable, "-m", "pipeline.run", str(path), "--runs-dir", str(runs)], cwd=REPO,
                              stdout=out, stderr=subprocess.STDOUT)
    if done.returncode:
        sys.exit(f"{name} failed (exit {done.returncode}): see {log}")
    walls[name] = walls.get(name, 0.0) + time.perf_counter() - start
    wall_file.write_text(json.dumps(walls, indent=2))


def curves(sweep_dir: Path) -> pd.DataFrame:
    """Per point: freeze, seed, epoch, mAP50-95 after that epoch, and how the point ended."""
    rows = []
    for point in sorted((sweep_dir / "points").iterdir()):
        freeze = yaml.safe_load((point / "recipe.yaml").read_text())["freeze"]
        status = json.loads((point / "status.json").read_text()) if (point / "status.json").is_file() else {}
        results = pd.read_csv(point / "stages" / "train" / "results.csv").drop_duplicates("epoch", keep="last")
        for epoch, score in zip(results["epoch"], results["metrics/mAP50-95(B)"]):
            rows.append({"point": point.name, "freeze": str(freeze), "seed": int(point.name.rsplit("-s", 1)[1]),
                         "epoch": int(epoch), "score": float(score), "stopped": bool(status.get("stopped")),
                         "wall_s": status.get("wall_s", 0.0)})
    return pd.DataFrame(rows)


def recommended(sweep_dir: Path) -> str:
    """The sweep's freeze recommendation in short: the depth, or `no signal`."""
    from pipeline.compare.report import build_report

    text = " ".join(build_report([sweep_dir], skip_incomplete=True, with_plots=False).recommendations())
    if "no signal" in text.lower():
        return "no signal"
    found = re.search(r"freeze (\S+) \(", text)
    return found.group(1) if found else text[:80]


def summary(name: str, sweep_dir: Path, walls: dict[str, float], full_epochs: int) -> dict[str, object]:
    """Epochs, wall times and recommendation of one sweep folder."""
    table = curves(sweep_dir)
    per_point = table.groupby("point").agg(epochs=("epoch", "max"), stopped=("stopped", "first"),
                                           wall_s=("wall_s", "first"))
    stopped = per_point[per_point["stopped"]]
    return {"sweep": name, "epochs": int(per_point["epochs"].sum()),
            "share": f"{100 * per_point['epochs'].sum() / full_epochs:.0f} %",
            "stopped": f"{len(stopped)} ({', '.join(f'{p}@{e}' for p, e in stopped['epochs'].items())})",
            "wall_s": round(walls[name]) if name in walls else "—", "points_wall_s": round(per_point["wall_s"].sum()),
            "recommends": recommended(sweep_dir)}


def bias_table(full: Path, epochs: list[int]) -> pd.DataFrame:
    """Per freeze depth: mean mAP50-95 over the seeds and its rank (1 = best) after each of `epochs`, and at the end."""
    table = curves(full)
    means = table.groupby(["freeze", "epoch"])["score"].mean().unstack("epoch")
    last = means.columns.max()
    out = pd.DataFrame(index=means.index)
    for epoch in [*epochs, last]:
        ranks = means[epoch].rank(ascending=False, method="min").astype(int)
        out[f"rank@{epoch}"] = ranks
    out[f"mAP50-95@{last}"] = means[last].round(4)
    return out.sort_values(f"rank@{last}")


def rank_agreement(full: Path) -> pd.DataFrame:
    """Per epoch: Spearman correlation of the depths' ranking then with the ranking at the end, and whether the
    best depth then is the best at the end."""
    means = curves(full).groupby(["freeze", "epoch"])["score"].mean().unstack("epoch")
    last = means.columns.max()
    return pd.DataFrame([{"epoch": e, "spearman_vs_end": round(means[e].corr(means[last], method="spearman"), 2),
                          "best_then": means[e].idxmax(), "best_at_end": means[last].idxmax()}
                         for e in means.columns])


def replay(full: Path, graces: list[int], reductions: list[float], seeds: int) -> pd.DataFrame:
    """Per grace period, reduction factor and search seed: the epochs Ray's ASHA bracket would train and the
    recommendation of the points it would let finish, replayed on the full grid's curves in the seed's order."""
    from types import SimpleNamespace

    from ray.tune.schedulers.async_hyperband import _Bracket  # the scheduler's own rung bookkeeping

    from pipeline.compare.collect import collect
    from pipeline.compare.recommend import recommendations, score_floor
    from pipeline.compare.results import find_axes, points_table
    from pipeline.sweep.search import trial_order

    table = curves(full)
    scores = {p: list(g.sort_values("epoch")["score"]) for p, g in table.groupby("point")}
    found = collect([full])
    runs = pd.DataFrame(found.runs)
    rows = []
    for grace in graces:
        for reduction in reductions:
            for seed in range(seeds):
                bracket, trained = _Bracket(grace, max(map(len, scores.values())), reduction, 0), {}
                for point in trial_order(sorted(scores), seed):
                    trial, curve = SimpleNamespace(trial_id=point), scores[point]
                    stop = next((e for e in range(1, len(curve)) if bracket.on_result(trial, e, curve[e - 1]) ==
                                 "STOP"), None)
                    trained[point] = stop or len(curve)
                finished = runs[runs["run_dir"].map(lambda d: trained[Path(d).name] == len(scores[Path(d).name]))]
                axes = find_axes(finished, found.grid)
                recs = recommendations(points_table(finished, "map50_95", axes), axes, 1.0, "map50_95", "mAP50-95",
                                       score_floor("map50_95", 3))
                text = " ".join(recs).lower()
                verdict = "no signal" if "no signal" in text else (m.group(1) if (m := re.search(
                    r"freeze `([^`]+)`", " ".join(recs))) else text[:40])
                rows.append({"grace": grace, "reduction": reduction, "seed": seed, "finished": len(finished),
                             "epochs": f"{100 * sum(trained.values()) / sum(map(len, scores.values())):.0f} %",
                             "recommends": verdict})
    return pd.DataFrame(rows)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3, help="search seeds (orders of the points)")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--grace", type=int, default=4, help="sweep.search.grace_epochs")
    parser.add_argument("--reduction", type=float, default=3.0, help="sweep.search.reduction")
    parser.add_argument("--no-train", action="store_true", help="tabulate the finished sweeps of --work, train none")
    parser.add_argument("--replay", action="store_true",
                        help="also replay ASHA's decisions on the full grid's curves for grace 2-5, reduction 2-4")
    parser.add_argument("--work", type=Path, default=REPO / "runs" / "bench-search")
    parser.add_argument("--grids", type=Path, nargs="+", default=[],
                        help="--replay-paired: full-grid sweep folders trained with per_image: epochs")
    parser.add_argument("--replay-paired", action="store_true",
                        help="replay sweep.search method paired on --grids (grace 2-3, reduction 2-3, 3 seeds) and "
                             "print what it trains and answers against each full grid; trains nothing")
    return parser.parse_args()


def main() -> None:
    opts = parse_args()
    if opts.replay_paired:
        from pipeline.sweep.replay import replay_paired

        rows = [replay_paired(grid.resolve(), grace, reduction, seed, 1.0) for grid in opts.grids
                for grace, reduction in ((2, 2.0), (2, 3.0), (3, 2.0)) for seed in range(opts.seeds)]
        table = pd.DataFrame(rows)
        print(table.to_markdown(index=False))
        share = table["epochs"].str.rstrip(" %").astype(float)
        print(f"\n{len(table)} replays: {int(table['names a rejected depth'].sum())} name a depth the full grid "
              f"rejects, {int(table['names a depth not shown within'].sum())} one it does not show within the "
              f"tolerance; epochs {share.mean():.0f} % of the full grids' on average (at most {share.max():.0f} %)")
        return
    work, runs = opts.work.resolve(), opts.work.resolve() / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    if not (work / "kitti_mini").is_dir():  # a copy: Ultralytics writes label caches beside the labels
        shutil.copytree(SHARED / "data" / "kitti_mini", work / "kitti_mini")
    wall_file = work / "wall.json"
    walls = json.loads(wall_file.read_text()) if wall_file.is_file() else {}
    search = {"method": "asha", "grace_epochs": opts.grace, "reduction": opts.reduction}
    recipes = [recipe(work, "search-full", opts, None)]
    name = f"search-asha-g{opts.grace}-r{opts.reduction:g}"
    recipes += [recipe(work, f"{name}-s{k}", opts, {**search, "seed": k}) for k in range(opts.seeds)]
    for path in recipes if not opts.no_train else []:
        print(f"running {path.stem} ...", flush=True)
        run_sweep(path, runs, walls, wall_file)
    full_epochs = len(DEPTHS) * 3 * opts.epochs
    found = {p.stem: d for p in recipes if (d := finished_sweep(runs, p.stem))}
    print(pd.DataFrame([summary(n, d, walls, full_epochs) for n, d in found.items()]).to_markdown(index=False))
    if "search-full" in found:
        print("\nEarly-stopping bias (full grid; rank of each depth's mean over seeds):")
        print(bias_table(found["search-full"], [2, 3, 4, 6, 9]).to_markdown())
        print(rank_agreement(found["search-full"]).to_markdown(index=False))
    if opts.replay and "search-full" in found:
        print("\nReplayed on the full grid's curves (Ray's ASHA bracket, no training):")
        print(replay(found["search-full"], [2, 3, 4, 5], [2.0, 3.0, 4.0], opts.seeds).to_markdown(index=False))


if __name__ == "__main__":
    main()
