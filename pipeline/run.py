"""``python -m pipeline.run RECIPE [--set key=value ...] [--dry-run]`` or ``--resume RUN_DIR``: run a recipe."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from pipeline.errors import UserError, cli_entry

LOG = logging.getLogger("roadtune")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="roadtune run", description=__doc__)
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
    parser.add_argument("--run-dir", type=Path, help=argparse.SUPPRESS)  # exact folder, used by sweep executors
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


def _setup_console_log() -> None:
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


def resume(run_dir: Path) -> int:
    """Continue an interrupted run; a finished one is reported and left untouched."""
    from pipeline.preflight import prepare
    from pipeline.recipe import load_recipe
    from pipeline.runner import METRICS, execute

    if not (run_dir / "recipe.yaml").is_file():
        raise UserError(f"--resume {run_dir}: not a run folder (no recipe.yaml)")
    if (run_dir / METRICS).is_file():
        print(f"{run_dir} already finished; nothing to do (metrics: {run_dir / METRICS})")
        return 0
    recipe, base = load_recipe(run_dir / "recipe.yaml")
    metrics = execute(prepare(recipe, base), run_dir)
    from pipeline.metrics import headline

    print(f"run folder: {run_dir}\nmetrics: {headline(metrics)}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Validate the recipe (all errors at once, exit 2), then run it into a new run folder."""
    args = build_parser().parse_args(argv)
    from pipeline.bootstrap import bootstrap

    bootstrap()
    _setup_console_log()
    if args.resume:
        from pipeline.sweep import is_sweep_dir, run_sweep

        if is_sweep_dir(args.resume):
            return run_sweep(None, [], resume_dir=args.resume, devices=args.devices, ray_address=args.ray)
        return resume(args.resume)
    if args.recipe is None:
        raise UserError("give a recipe file (e.g. recipes/quickstart.yaml) or --resume RUN_DIR")
    from pipeline.preflight import prepare
    from pipeline.recipe import load_recipe
    from pipeline.runner import create_run_dir, start_run

    recipe, base = load_recipe(args.recipe, args.overrides)
    if recipe.sweep:
        from pipeline.sweep import run_sweep

        return run_sweep(args.recipe, args.overrides, runs_dir=args.runs_dir, dry_run=args.dry_run,
                         devices=args.devices, ray_address=args.ray)
    prepared = prepare(recipe, base)
    if args.dry_run:
        print_plan(prepared)
        return 0
    run_dir = args.run_dir or create_run_dir(args.runs_dir, recipe.name)
    run_dir.mkdir(parents=True, exist_ok=True)
    print(f"run folder: {run_dir}")
    metrics = start_run(prepared, run_dir)
    from pipeline.metrics import headline

    print(f"run folder: {run_dir}\n{headline(metrics)}  "
          f"trainable params {metrics['params_trainable']:,}  time {metrics['train_time_s']} s")
    return 0


main = cli_entry(main)

if __name__ == "__main__":
    sys.exit(main())
