"""``sweep.search: {method: asha}`` on Ray Tune: each point is a trial under Ray Tune's ASHAScheduler.

A trial runs the point's own worker process (:mod:`pipeline.sweep.worker`, as every sweep point) and reports the
point's validation score after each epoch (:func:`pipeline.sweep.search.recorded_scores`). When the scheduler stops a
point at a rung, :class:`StoppingASHA` writes the stop into the point's status.json first, and the trial kills the
worker. The last epoch is reported only once the worker has finished (metrics.json written), so the scheduler's
end-of-trial stop never cuts a finished point short.

Starting the search again replays: a trial first reports the scores its point recorded, so the scheduler rebuilds its
rungs from the same history; finished and stopped points end there, interrupted ones resume in their worker.
Checked on Ray 2.60.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import ray
from ray import tune
from ray.tune.schedulers import ASHAScheduler, TrialScheduler

import pipeline
from pipeline.compare.epochs import point_stages, recorded_scores, spent, stop_record
from pipeline.recipe.sweep import LOWER_IS_BETTER, SearchConfig
from pipeline.records import PointStatus
from pipeline.run_folder import POINTS, RECIPE, SEARCH, is_finished
from pipeline.sweep.executors import finish_point, start_point
from pipeline.sweep.search import trial_order
from pipeline.textfile import read_yaml

LOG = logging.getLogger("roadtune")
POLL_S = 0.5  # how often a trial looks for a new results.csv row (an epoch takes seconds to minutes)


class StoppingASHA(ASHAScheduler):
    """ASHA that records a stop in the point's status.json before the trial is stopped (so a killed search resumes
    knowing it), and logs it. A finished point reaching max_t is not a stop."""

    def __init__(self, *, max_t: int, grace_period: int, reduction_factor: float, metric_name: str) -> None:
        super().__init__(time_attr="epoch", metric="score", mode="min" if metric_name in LOWER_IS_BETTER else "max",
                         max_t=max_t, grace_period=grace_period, reduction_factor=reduction_factor)
        self.max_epochs, self.grace, self.reduction = max_t, grace_period, reduction_factor
        self.metric_name = metric_name

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> str:
        decision = super().on_trial_result(tune_controller, trial, result)
        point_dir = Path(trial.config["point_dir"])
        if decision == TrialScheduler.STOP and result["epoch"] < self.max_epochs and not stop_record(point_dir):
            epoch = int(result["epoch"])
            rung = sum(1 for k in range(64) if self.grace * self.reduction**k <= epoch)
            stopped = {"epoch": epoch, "rung": rung, "metric": self.metric_name, "value": result["score"],
                       "max_epochs": self.max_epochs}
            PointStatus(point=point_dir.name, returncode=None, wall_s=round(result.get("wall_s", 0.0), 2),
                        stopped=stopped).write(point_dir)
            LOG.info(f"point {point_dir.name}: stopped at epoch {epoch} (rung {rung}): {self.metric_name} "
                     f"{result['score']:.4f}")
        return decision


def _kill_when_stopped(pid: int, point_dir: Path, ended: threading.Event) -> None:
    """Kill the point's worker once the scheduler has recorded a stop (the trial may be blocked in tune.report).
    It only signals: reaping the worker (and its peak memory) is finish_point's."""
    while not ended.wait(POLL_S):
        if stop_record(point_dir):
            os.kill(pid, signal.SIGKILL)
            return


def run_trial(config: dict[str, Any]) -> None:
    """One point as a Ray Tune trial: replay its recorded epochs, then (unless finished or stopped) run its worker,
    reporting each new epoch's score; the last epoch once the worker has finished."""
    point_dir, metric = Path(config["point_dir"]), config["metric"]
    stages = point_stages(read_yaml(point_dir / RECIPE, "point recipe"))
    epochs, start, reported = sum(e for _, e in stages), time.perf_counter(), 0

    def report_new(final: bool) -> None:
        nonlocal reported
        scores = recorded_scores(point_dir, stages, metric)
        for k in range(reported, len(scores) if final else min(len(scores), epochs - 1)):
            tune.report({"epoch": k + 1, "score": scores[k], "wall_s": time.perf_counter() - start})
            reported = k + 1

    if is_finished(point_dir) or stop_record(point_dir):
        report_new(final=True)
        return
    proc, ended = start_point(point_dir), threading.Event()
    threading.Thread(target=_kill_when_stopped, args=(proc.pid, point_dir, ended), daemon=True).start()
    while (result := finish_point(proc, point_dir, None, start, block=False)) is None:
        report_new(final=False)
        time.sleep(POLL_S)
    ended.set()
    if stop_record(point_dir):
        return
    result.write(point_dir)
    if not result.ok:
        raise RuntimeError(f"point {point_dir.name} failed: {result.error}")
    report_new(final=True)


def _connect(address: str | None) -> int:
    """Start a local Ray (no address) or join the cluster at `address`; the cluster's GPU count."""
    if not ray.is_initialized():
        if address in (None, "local"):
            package_root = str(Path(pipeline.__file__).resolve().parents[1])  # the workers import this `pipeline`
            ray.init(include_dashboard=False, configure_logging=False,
                     runtime_env={"env_vars": {"PYTHONPATH": package_root}})
        else:
            ray.init(address=address)
    return int(ray.cluster_resources().get("GPU", 0))


def run_search(sweep_dir: Path, stages: dict[str, list[tuple[str, int]]], search: SearchConfig, metric: str,
               address: str | None) -> list[PointStatus]:
    """Run the points (id -> its stages) under ASHA, in the order `search.seed` shuffles them (a point already
    finished or stopped only replays what it recorded); return the failed ones."""
    gpus = _connect(address)
    ids = trial_order(list(stages), search.seed)
    max_t = max(sum(e for _, e in s) for s in stages.values())
    scheduler = StoppingASHA(max_t=max_t, grace_period=search.grace_epochs, reduction_factor=search.reduction,
                             metric_name=metric)
    trainable = tune.with_resources(run_trial, {"cpu": 1, "gpu": 1 if gpus else 0})
    tuner = tune.Tuner(
        trainable,
        param_space={"point_dir": tune.grid_search([str(sweep_dir / POINTS / i) for i in ids]), "metric": metric},
        tune_config=tune.TuneConfig(scheduler=scheduler, max_concurrent_trials=search.concurrent or max(gpus, 1),
                                    reuse_actors=False),
        run_config=tune.RunConfig(storage_path=str(sweep_dir / SEARCH), name=datetime.now().strftime("%Y%m%d-%H%M%S"),
                                  verbose=1, failure_config=tune.FailureConfig(max_failures=0)),
    )
    tuner.fit()
    LOG.info(f"search: {spent(sweep_dir / POINTS, stages, metric).line()}")
    return [r for i in ids if not (r := _ended(sweep_dir / POINTS / i)).ok]


def _ended(folder: Path) -> PointStatus:
    """How a point of the search ended: its status.json; a finished point is fine without one (the search was
    killed between its metrics.json and its status), any other point without one is a failure."""
    if PointStatus.path(folder).is_file():
        return PointStatus.read(folder)
    if is_finished(folder):
        return PointStatus(point=folder.name, returncode=0)
    return PointStatus(point=folder.name, returncode=None, error="the search ended before this point did")
