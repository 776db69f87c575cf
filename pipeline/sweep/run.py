"""Sweeps: a grid over recipe keys, run point by point into one sweep folder, then compared in a report.

A recipe with a ``sweep:`` section is a grid of points (:mod:`pipeline.sweep.grid`).
The sweep folder ``runs/<name>/<timestamp>/`` holds ``sweep.json`` (the marker: base recipe, grid, points),
``points/<point-id>/`` (each a normal run folder) and the report. Running the same sweep again, or
``--resume SWEEP_DIR``, skips finished points and resumes the interrupted one.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pipeline.compare.epochs import is_done, point_stages, rung_metric
from pipeline.errors import UserError
from pipeline.evaluation.intervals import Settings
from pipeline.recipe.overrides import apply_overrides
from pipeline.recipe.schema import (
    load_yaml,
    raise_problems,
    validate_recipe,
)
from pipeline.recipe.sweep import SearchConfig, SweepConfig
from pipeline.records import SweepFile
from pipeline.run_folder import (
    METRICS,
    POINT_CONSOLE,
    POINTS,
    PROBE_JSON,
    RECIPE,
    SWEEP_MARKER,
    is_sweep_dir,
    point_dir,
    write_atomic,
)
from pipeline.sweep.grid import Point, expand, parse_sweep, point_raw
from pipeline.sweep.probe import probe_problems, probe_sweep
from pipeline.sweep.search import search_problems

LOG = logging.getLogger("roadtune")


@dataclass
class SweepSpec:
    """What defines a sweep: the base recipe (overrides applied, `sweep` included) and the folder paths resolve in."""

    base: dict[str, Any]
    base_dir: Path

    @property
    def config(self) -> SweepConfig:
        return SweepConfig.model_validate(self.base["sweep"])

    def record(self) -> SweepFile:
        return SweepFile(base=self.base, base_dir=str(self.base_dir))

    @classmethod
    def read(cls, sweep_dir: Path) -> SweepSpec:
        if not is_sweep_dir(sweep_dir):
            raise UserError(f"{sweep_dir}: not a sweep folder (no {SWEEP_MARKER})")
        record = SweepFile.read(sweep_dir)
        return cls(record.base, Path(record.base_dir))


def load_spec(recipe_path: Path, overrides: list[str], problems: list[str],
              probe: bool = False, devices: str | None = None) -> tuple[SweepSpec, list[Point]]:
    """Read a sweep recipe, apply `--set` overrides, validate the recipe, the grid and every point (preflight),
    and raise one UserError with all problems (`problems`: those the recipe's schema check found; with `probe`,
    also what keeps --probe-batch from running; with a `search`, what keeps it from running with `devices`).
    """
    raw = load_yaml(recipe_path)
    if isinstance(raw, dict):
        apply_overrides(raw, overrides)
    config, sweep_problems = parse_sweep(raw)
    spec = SweepSpec(raw, recipe_path.resolve().parent)
    points = expand(config) if config else []
    problems = list(problems) + sweep_problems + (probe_problems(raw, config) if probe else [])
    if config and config.search:
        problems += search_problems(raw, config, points, devices)
    if not problems:
        return spec, points
    try:
        resolve_points(spec, points, problems)
    except UserError as exc:
        problems = exc.problems
    raise UserError(f"invalid sweep ({len(problems)} problem{'s' * (len(problems) != 1)})", problems)


def resolve_points(spec: SweepSpec, points: list[Point],
                   known: list[str] = ()) -> dict[str, tuple[dict[str, Any], str]]:
    """Preflight every combination before anything trains: point id -> (resolved recipe, freeze plan text).

    Raises one UserError listing the problems of every point (those in `known`, found for the base recipe
    already, are not repeated per point).
    """
    from pipeline.execute.prepare import prepare

    resolved: dict[int, tuple[dict[str, Any], str]] = {}
    problems: list[str] = []
    for point in points:
        if point.combo in resolved or any(p.startswith(f"{point.combo}-") for p in problems):
            continue  # repeats of a combination share its checks
        try:
            recipe, schema_problems = validate_recipe(point_raw(spec.base, point), point.id)
            if recipe is None:
                raise_problems(point.id, schema_problems)
            prepared = prepare(recipe, spec.base_dir, schema_problems)
        except UserError as exc:
            problems += [f"{point.id}: {p}" for p in exc.problems or [str(exc)]
                         if p not in known and not any(k.endswith(f": {p}") for k in known)]
            continue
        plans = "\n".join(f"stage {name}:\n{plan.render()}" for name, plan in prepared.plans.items())
        resolved[point.combo] = (prepared.resolved_recipe(), plans)
    if problems or known:
        raise UserError("sweep points do not pass the checks", [*known, *problems])
    out = {}
    for point in points:
        recipe, plans = copy.deepcopy(resolved[point.combo])
        recipe.setdefault("train", {})["seed"] = point.seed
        if spec.config.search and spec.config.search.method == "paired":  # its rungs compare per-image records
            recipe["per_image"] = "epochs"
        out[point.id] = (recipe, plans)
    return out


def find_unfinished(runs_dir: Path, spec: SweepSpec) -> Path | None:
    """The newest sweep folder of the same recipe, grid and overrides that has points left to run."""
    parent = runs_dir / spec.base["name"]
    for folder in sorted(parent.glob("*"), reverse=True):  # timestamped names: newest first
        if is_sweep_dir(folder):
            if SweepSpec.read(folder).record() != spec.record():
                continue
            points = expand(spec.config)
            return folder if any(not is_done(point_dir(folder, p.id)) for p in points) else None
    return None


def print_dry_run(points: list[Point], resolved: dict[str, tuple[dict[str, Any], str]]) -> None:
    """The --dry-run output: the points, and the freeze plan of each combination."""
    print(f"{len(points)} points:")
    for point in points:
        print(f"  {point.id}: " + ", ".join(point.overrides()))
    shown = set()
    for point in points:
        if point.combo not in shown:
            shown.add(point.combo)
            print(f"\npoint {point.id} ({dict(point.values)}):\n{resolved[point.id][1]}")


def write_point_recipes(sweep_dir: Path, resolved: dict[str, tuple[dict[str, Any], str]], ids: list[str]) -> None:
    """Write each point's resolved recipe into its run folder, where its worker (pipeline.sweep.worker) reads it."""
    for point_id in ids:
        folder = point_dir(sweep_dir, point_id)
        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(folder / RECIPE, yaml.safe_dump(resolved[point_id][0], sort_keys=False))


def run_sweep(recipe: Path | None, overrides: list[str], *, runs_dir: Path = Path("runs"), dry_run: bool = False,
              devices: str | None = None, ray_address: str | None = None, resume_dir: Path | None = None,
              tolerance: float = 1.0, problems: list[str] | None = None, probe: bool = False) -> int:
    """Run every unfinished point of a sweep (new, continued, or `resume_dir`), then (with `probe`, when the folder
    has no probe.json yet) probe the batch of each freeze depth, then write the report.

    Returns 0 when every point finished, 1 when some failed (they are listed in the report).
    """
    from pipeline.run_folder import create_run_dir, hold, shown

    if resume_dir is None and recipe is None:
        raise UserError("give a sweep recipe or --resume SWEEP_DIR")
    if resume_dir:
        spec = SweepSpec.read(resume_dir)
        points = expand(spec.config)
        found = probe_problems(spec.base, spec.config) if probe else []
        found += search_problems(spec.base, spec.config, points, devices) if spec.config.search else []
        if found:
            raise UserError(f"{shown(resume_dir)} cannot resume", found)
    else:
        spec, points = load_spec(recipe, overrides, problems or [], probe, devices)
    run = _points_runner(spec, devices, ray_address, tolerance)
    resolved = resolve_points(spec, points)
    if dry_run:
        print_dry_run(points, resolved)
        return 0
    sweep_dir = resume_dir or find_unfinished(runs_dir, spec)
    if sweep_dir is None:
        sweep_dir = create_run_dir(runs_dir, spec.base["name"])
        spec.record().write(sweep_dir)
    with hold(sweep_dir):
        todo = [p.id for p in points if not is_done(point_dir(sweep_dir, p.id))]
        print(f"sweep folder: {shown(sweep_dir)}\n{len(points)} points, {len(points) - len(todo)} finished"
              f"{' or stopped' * bool(spec.config.search)}, {len(todo)} to run")
        write_point_recipes(sweep_dir, resolved, todo)
        failed = run(sweep_dir, todo, resolved)
        if probe and (sweep_dir / PROBE_JSON).is_file():
            print(f"{shown(sweep_dir / PROBE_JSON)} exists: kept (its batches were measured already)")
        elif probe:
            print(f"probe: {shown(probe_sweep(sweep_dir, spec.config, points, resolved, spec.base_dir))}")
        write_sweep_report(sweep_dir, tolerance)
    return int(bool(failed))


def _points_runner(spec: SweepSpec, devices: str | None, ray_address: str | None,
                   tolerance: float) -> Callable[..., list]:
    """How the points run: under the search's scheduler (`sweep.search`), else by the executor of --devices/--ray
    (one after another without either); a function (sweep_dir, ids to run, resolved points) -> the failed ones."""
    config = spec.config
    if config.search:
        metric = rung_metric(config.search, spec.base["task"])
        if config.search.method == "paired":
            return lambda sweep_dir, todo, resolved: _eliminate(sweep_dir, resolved, config.search, metric, tolerance)

        def search(sweep_dir: Path, todo: list[str], resolved: dict[str, tuple[dict[str, Any], str]]) -> list:
            from pipeline.sweep.asha import run_search

            stages = {pid: point_stages(recipe) for pid, (recipe, _) in resolved.items()}
            return run_search(sweep_dir, stages, config.search, metric, ray_address)

        return search
    from pipeline.sweep.executors import choose_executor, run_points

    executor = choose_executor(devices, ray_address, spec.base.get("train", {}))
    return lambda sweep_dir, todo, resolved: run_points(executor, sweep_dir / POINTS, todo)


def _eliminate(sweep_dir: Path, resolved: dict[str, tuple[dict[str, Any], str]], search: SearchConfig, metric: str,
               tolerance: float) -> list:
    """The paired search over every point (finished and stopped ones replay their records)."""
    from pipeline.sweep.elimination import run_elimination

    stages = {pid: point_stages(recipe) for pid, (recipe, _) in resolved.items()}
    (stage, epochs), = next(iter(stages.values()))  # search_problems refused schedules of several stages
    return run_elimination(sweep_dir, list(stages), stage, epochs, search.grace_epochs, search.reduction, metric,
                           tolerance, Settings(resamples=search.resamples, seed=search.seed))


def write_sweep_report(sweep_dir: Path, tolerance: float) -> None:
    """Write the sweep's report into its folder and print where it is and what it recommends."""
    from pipeline.compare.report import build_report, write_report

    if not any((sweep_dir / POINTS).glob(f"*/{METRICS}")):
        print(f"no point finished, so no report: see {POINT_CONSOLE} in the folders under {sweep_dir / POINTS}")
        return
    report = build_report([sweep_dir], tolerance=tolerance, skip_incomplete=True)
    print(report.summary(write_report(report, sweep_dir)))


def probe_recipe(recipe: Path, sweep_dir: Path) -> Path:
    """Probe a sweep recipe's freeze depths into `sweep_dir` without training its points (benchmarks/gpu.py)."""
    spec, points = load_spec(recipe, [], [], probe=True)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    return probe_sweep(sweep_dir, spec.config, points, resolve_points(spec, points), spec.base_dir)
