"""``python -m pipeline.sweep.worker POINT_DIR [--wait-for-go]``: run one sweep point into its folder.

The sweep writes each point's resolved recipe into ``POINT_DIR/recipe.yaml``; an executor
(:mod:`pipeline.sweep.executors`) starts this worker as the point's own process, which trains it, or resumes it
where an earlier worker stopped (a finished point is refused: it is never written again).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pipeline.errors import UserError, cli_entry


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipeline.sweep.worker", description=__doc__)
    parser.add_argument("point_dir", type=Path, help="the point's folder, holding its resolved recipe")
    parser.add_argument("--wait-for-go", action="store_true",
                        help="import what a run needs, then wait for a line `go` on stdin before training "
                             "(the sequential executor starts the next point while the current one trains)")
    return parser


def _wait_for_go() -> bool:
    """Import what a run needs, then wait for `go` on stdin; False when the sweep ended first (stdin closed):
    nothing is touched then."""
    import pipeline.execute.loop  # noqa: F401  (these imports are the start-up the wait takes off the point)
    import pipeline.execute.prepare  # noqa: F401

    return sys.stdin.readline().strip() == "go"


def main(argv: Sequence[str] | None = None) -> int:
    """Train (or resume) the point in POINT_DIR from its recipe.yaml."""
    args = build_parser().parse_args(argv)
    from pipeline.bootstrap import bootstrap

    bootstrap()
    if args.wait_for_go and not _wait_for_go():
        return 0
    from pipeline.execute.console import report_finished, setup_console_log
    from pipeline.execute.loop import start_run
    from pipeline.execute.prepare import prepare
    from pipeline.recipe.schema import load_recipe
    from pipeline.run_folder import RECIPE, refuse_finished, shown

    setup_console_log()
    point_dir = args.point_dir.expanduser().resolve()
    if not (point_dir / RECIPE).is_file():
        raise UserError(f"{shown(point_dir)}: not a sweep point folder (no {RECIPE})")
    refuse_finished(point_dir)
    recipe, base, problems = load_recipe(point_dir / RECIPE)
    prepared = prepare(recipe, base, problems)
    print(f"run folder: {shown(point_dir)}")
    report_finished(start_run(prepared, point_dir), point_dir)
    return 0


main = cli_entry(main)

if __name__ == "__main__":
    sys.exit(main())
