"""Run folders: create (never overwrite), record recipe and environment, run the stages, write metrics.json.

A run folder is ``runs/<name>/<YYYYmmdd-HHMMSS>/`` holding ``recipe.yaml``, ``env.json``, ``stages/<stage>/``
(Ultralytics' own output), ``metrics.json`` and ``log.txt``. ``metrics.json`` exists only once the run finished,
which is how a resume knows what is left to do.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from pipeline import __version__
from pipeline.distill_run import distill_stages
from pipeline.models import save_checkpoint
from pipeline.preflight import Prepared
from pipeline.augment import build_augmentations
from pipeline.metrics import headline, read_epochs, timing_summary
from pipeline.stages import StageRun, learning_rate_args, managed_args, plan_stages, run_stage

LOG = logging.getLogger("roadtune")
METRICS = "metrics.json"


def create_run_dir(runs_root: Path, name: str) -> Path:
    """A new, empty run folder runs/<name>/<timestamp>, suffixed -2, -3... when that exists already."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    parent = runs_root / name
    parent.mkdir(parents=True, exist_ok=True)
    for k in range(1, 1000):
        candidate = parent / (stamp if k == 1 else f"{stamp}-{k}")
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue
    raise RuntimeError(f"no free run folder under {parent}")


def environment() -> dict[str, Any]:
    """Versions, git commit and hardware, recorded in env.json so every figure can be traced."""
    import torch
    import ultralytics

    cuda = torch.cuda.is_available()
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "roadtune": __version__,
        "torch": torch.__version__,
        "ultralytics": ultralytics.__version__,
        "git_commit": _git_commit(),
        "device": torch.cuda.get_device_name(0) if cuda else "cpu",
        "device_kind": "cuda" if cuda else "cpu",
        "gpus": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "argv": sys.argv,
    }


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                             text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def attach_log(run_dir: Path) -> logging.Handler:
    """Copy roadtune's and Ultralytics' log lines into run_dir/log.txt (appending, so a resume adds to it)."""
    handler = logging.FileHandler(run_dir / "log.txt", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    for name in ("roadtune", "ultralytics"):
        logging.getLogger(name).addHandler(handler)
    return handler


def start_run(prepared: Prepared, run_dir: Path) -> dict[str, Any]:
    """Record the resolved recipe and environment in a fresh run folder, then execute it."""
    (run_dir / "recipe.yaml").write_text(yaml.safe_dump(prepared.resolved_recipe(), sort_keys=False))
    (run_dir / "env.json").write_text(json.dumps(environment(), indent=2))
    return execute(prepared, run_dir)


def stage_runs(prepared: Prepared, run_dir: Path) -> list[StageRun]:
    """The stages of the run, each starting from the previous one's last.pt."""
    recipe = prepared.recipe
    stages = plan_stages(recipe)
    start = str(run_dir / "init.pt") if prepared.transfer else prepared.model_source
    extra = {"augmentations": build_augmentations(recipe.augment)} if recipe.augment else {}
    runs = []
    for stage in stages:
        frozen = prepared.plans[stage.name].frozen_layers
        args = {**recipe.train, **stage.train,
                **learning_rate_args(recipe.train, stage, stages, len(prepared.dataset.names)),
                **managed_args(run_dir, stage, prepared.dataset.yaml_path, frozen), **extra}
        spec = recipe.freeze if stage.freeze is None else stage.freeze
        runs.append(StageRun(stage, spec, run_dir / "stages" / stage.name, start, frozen, args))
        start = str(runs[-1].last)
    return runs


def execute(prepared: Prepared, run_dir: Path) -> dict[str, Any]:
    """Run every unfinished stage (resuming an interrupted one) and write metrics.json; idempotent."""
    if (run_dir / METRICS).is_file():
        return json.loads((run_dir / METRICS).read_text())
    handler = attach_log(run_dir)
    try:
        if prepared.transfer and not (run_dir / "init.pt").is_file():
            save_checkpoint(prepared.model, run_dir / "init.pt", prepared.dataset.names)
            LOG.info(f"weights: {prepared.transfer.transferred}/{prepared.transfer.total} tensors transferred from "
                     f"{prepared.weights_path}; freshly initialised layers: {prepared.transfer.fresh_layers}")
        plan = distill_stages(prepared, run_dir, stage_runs(prepared, run_dir))
        runs = [sr for sr, _ in plan]
        summaries = [run_stage(sr, prepared.dataset.names, trainer) for sr, trainer in plan]
        totals = timing_summary([e for sr in runs for e in read_epochs(sr.epochs_log)])
        metrics = final_metrics(prepared, summaries, totals)
        if prepared.video_source:  # before metrics.json, so an interrupted demo is redone on resume
            from pipeline.video import run_video

            run_video(runs[-1].best, prepared.video_source, run_dir / "video", prepared.recipe.video)
        (run_dir / METRICS).write_text(json.dumps(metrics, indent=2))
        LOG.info(f"run finished: {run_dir} ({headline(metrics)})")
        return metrics
    finally:
        for name in ("roadtune", "ultralytics"):
            logging.getLogger(name).removeHandler(handler)
        handler.close()


def final_metrics(prepared: Prepared, summaries: list[dict[str, Any]], totals: dict[str, Any]) -> dict[str, Any]:
    """metrics.json: the final model's validation figures, totals over stages, parameter counts, per-stage figures."""
    last = summaries[-1]
    plan = prepared.plans[last["name"]]
    accuracy = ("top1", "top5", "map50", "map50_95", "mask_map50", "mask_map50_95")  # classify: top1/top5 only
    metrics = {k: last[k] for k in accuracy if k in last}
    metrics.update({
        "precision": last["precision"], "recall": last["recall"], "per_class": last["per_class"], **totals,
        "inference_ms_per_image": last["inference_ms_per_image"],
        "params_total": plan.params_total, "params_trainable": plan.params_trainable,
        "params_frozen": plan.params_frozen, "frozen_layers": len(plan.frozen_layers),
    })
    if prepared.transfer:
        metrics.update(weights_transferred=prepared.transfer.transferred, weights_total=prepared.transfer.total)
    metrics["stages"] = summaries
    return metrics
