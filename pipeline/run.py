"""``python -m pipeline.run RECIPE [--set key=value ...] [--dry-run]`` or ``--resume RUN_DIR``: run a recipe."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from pipeline.cli import prog
from pipeline.errors import UserError, cli_entry
from pipeline.records import Metrics
from pipeline.run_folder import PROBE_JSON, SWEEP_MARKER

LOG = logging.getLogger("roadtune")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog("run"), description=__doc__)
    parser.add_argument("recipe", nargs="?", type=Path, help="recipe YAML, e.g. recipes/freeze10.yaml")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a dotted recipe key, e.g. --set train.epochs=1 --set freeze=backbone")
    parser.add_argument("--dry-run", action="store_true", help="validate and print the freeze plan; train nothing")
    parser.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue an interrupted run folder")
    parser.add_argument("--runs-dir", type=Path, default=Path("runs"), help="where run folders go (default: runs)")
    parser.add_argument("--devices", metavar="0,1,2,3",
                        help="sweeps: run points in parallel, one per listed GPU (or `cpu`)")
    parser.add_argument("--ray", metavar="ADDRESS",
                        help="sweeps: run points as Ray tasks on this cluster (`auto`, `ray://HOST:10001`, "
                             "or `local` for a local instance); needs roadtune[ray]")
    parser.add_argument("--probe-batch", action="store_true",
                        help="sweeps: per freeze depth, the largest batch that fits in the GPU memory `freeze: none` "
                             f"needs at the recipe's batch, and its images/s ({PROBE_JSON}, shown in the report)")
    return parser


class _StdoutHandler(logging.StreamHandler):
    """Writes to whatever sys.stdout is at the time (tests and notebooks swap it)."""

    @property
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, _value) -> None:
        pass


_CONSOLE = _StdoutHandler()
_CONSOLE.setFormatter(logging.Formatter("roadtune: %(message)s"))


def setup_console_log() -> None:
    """roadtune's log lines on stdout."""
    if _CONSOLE not in LOG.handlers:
        LOG.addHandler(_CONSOLE)
        LOG.setLevel(logging.INFO)
        LOG.propagate = False


def print_plan(prepared) -> None:
    """The --dry-run output: each stage's freeze plan."""
    for name, plan in prepared.plans.items():
        print(f"\nstage {name} ({prepared.model_source}):\n{plan.render()}")
    if prepared.teacher:
        print(f"\nteacher: {prepared.teacher.source} (method {prepared.recipe.distill.method})")
    if prepared.transfer:
        t = prepared.transfer
        print(f"\nweights: {t.transferred}/{t.total} tensors from {prepared.weights_path}; "
              f"fresh layers {t.fresh_layers}")


def resume(run_dir: Path, dry_run: bool = False) -> int:
    """Continue an interrupted run; a finished one is reported and left untouched."""
    from pipeline.recipe.preflight import prepare
    from pipeline.recipe.schema import load_recipe
    from pipeline.run_folder import LAST_FILE, METRICS, RECIPE, is_finished, shown
    from pipeline.train.runner import execute, stage_runs

    if not (run_dir / RECIPE).exists():  # one that is there but unreadable is named by load_recipe
        raise UserError(f"--resume {shown(run_dir)}: not a run folder (no {RECIPE})")
    if is_finished(run_dir):
        print(f"{shown(run_dir)} already finished; nothing to do (metrics: {shown(run_dir / METRICS)})")
        return 0
    recipe, base, problems = load_recipe(run_dir / RECIPE)
    prepared = prepare(recipe, base, problems)
    if dry_run:
        left = [f"stage {sr.stage.name} ({f'from its {LAST_FILE}' if sr.last.is_file() else 'from the start'})"
                for sr in stage_runs(prepared, run_dir) if not sr.done()]
        print(f"would resume {shown(run_dir)}: " + ", ".join(left))
        return 0
    report_finished(execute(prepared, run_dir), run_dir)
    return 0


def report_finished(metrics: Metrics, run_dir: Path) -> None:
    """The closing lines of a run: its folder, the final weights (as the video demo takes them) and headline."""
    from pipeline.run_folder import shown

    print(f"run folder: {shown(run_dir)}\nweights: {shown(metrics.final_weights(run_dir))}\n"
          f"{metrics.headline()}  trainable params {metrics.params_trainable:,}  time {metrics.train_time_s} s")


def main(argv: Sequence[str] | None = None) -> int:
    """Validate the recipe (all errors at once, exit 2), then run it into a new run folder."""
    args = build_parser().parse_args(argv)
    from pipeline.bootstrap import bootstrap

    bootstrap()
    setup_console_log()
    if args.resume:
        return _resume(args)
    if args.recipe is None:
        raise UserError("give a recipe file (e.g. recipes/quickstart.yaml) or --resume RUN_DIR")
    from pipeline.recipe.overrides import cli_paths_absolute
    from pipeline.recipe.preflight import prepare
    from pipeline.recipe.schema import load_recipe
    from pipeline.run_folder import create_run_dir, shown
    from pipeline.train.runner import start_run

    overrides = cli_paths_absolute(args.overrides)
    runs_dir = args.runs_dir.expanduser().resolve()  # Ultralytics gets absolute paths only (see train.args.stage_args)
    recipe, base, problems = load_recipe(args.recipe, overrides)
    if recipe.sweep:
        from pipeline.sweep.run import run_sweep

        return run_sweep(args.recipe, overrides, runs_dir=runs_dir, dry_run=args.dry_run,
                         devices=args.devices, ray_address=args.ray, problems=problems, probe=args.probe_batch)
    if args.probe_batch:
        raise UserError("--probe-batch measures the freeze depths of a sweep: give a sweep recipe (with a `sweep:` "
                        "section) or --resume SWEEP_DIR")
    prepared = prepare(recipe, base, problems)
    if args.dry_run:
        print_plan(prepared)
        return 0
    run_dir = create_run_dir(runs_dir, recipe.name)
    print(f"run folder: {shown(run_dir)}")
    report_finished(start_run(prepared, run_dir), run_dir)
    return 0


def _resume(args: argparse.Namespace) -> int:
    """--resume RUN_OR_SWEEP_DIR: nothing else may change what the run was started with."""
    if args.recipe is not None or args.overrides:
        given = " and ".join(x for x, on in (("a recipe file", args.recipe), ("--set", args.overrides)) if on)
        raise UserError(f"--resume continues a run with the recipe it was started with; {given} cannot change it "
                        "(start a new run instead)")
    from pipeline.run_folder import is_sweep_dir
    from pipeline.sweep.run import run_sweep

    run_dir = args.resume.expanduser().resolve()
    if is_sweep_dir(run_dir):
        return run_sweep(None, [], resume_dir=run_dir, devices=args.devices, ray_address=args.ray,
                         dry_run=args.dry_run, probe=args.probe_batch)
    if args.probe_batch:
        raise UserError(f"--probe-batch: {run_dir} is a run folder, not a sweep folder (no {SWEEP_MARKER})")
    return resume(run_dir, args.dry_run)


main = cli_entry(main)

if __name__ == "__main__":
    sys.exit(main())
