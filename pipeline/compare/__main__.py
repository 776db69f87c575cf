"""``python -m pipeline.compare RUN_OR_SWEEP_DIR... [--out DIR]``: compare finished runs in one report.

Reads only the run folders' files and writes report.csv, report.md and a self-contained report.html (plots
embedded) with one table per task and dataset, a column per swept key, deltas against ``freeze: none`` and one
recommendation per swept key (none when the runs carry no signal).
``--advise RECIPE`` prints a freeze depth to start from, before any training.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pipeline.cli import prog
from pipeline.errors import UserError, cli_entry
from pipeline.evaluation.intervals import RESAMPLES, Settings
from pipeline.run_folder import METRICS, RECIPE


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog("compare"), description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="*", type=Path, metavar="RUN_OR_SWEEP_DIR",
                        help="run folders (runs/<name>/<ts>) and sweep folders, any mix")
    parser.add_argument("--out", type=Path, help="report folder (default: the sweep folder when one is given, "
                                                 "else runs/compare/<timestamp>)")
    parser.add_argument("--tolerance", type=float, default=1.0,
                        help="mAP50-95 points a deeper freeze may lose and still be recommended (default 1)")
    parser.add_argument("--resamples", type=int, default=RESAMPLES,
                        help=f"bootstrap resamples of the val images (and seeds) per interval (default {RESAMPLES})")
    parser.add_argument("--interval-seed", type=int, default=0, help="seed of the resamples (default 0)")
    parser.add_argument("--skip-incomplete", action="store_true",
                        help=f"list folders without {METRICS}, or with an unreadable {METRICS} or "
                             f"{RECIPE}, as skipped instead of stopping with an error")
    parser.add_argument("--no-links", action="store_true",
                        help="name the run folders instead of linking them (for a report published elsewhere)")
    parser.add_argument("--advise", type=Path, metavar="RECIPE",
                        help="print a freeze depth to start a sweep from, from the dataset and the checkpoint")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="with --advise: override a recipe key, as for pipeline.run")
    return parser


def default_out(folders: list[Path]) -> Path:
    """The sweep folder when a single sweep is compared, else a new runs/compare/<timestamp> folder."""
    from pipeline.run_folder import create_run_dir, is_sweep_dir

    if len(folders) == 1 and is_sweep_dir(folders[0]):
        return folders[0]
    return create_run_dir(Path("runs"), "compare")


def main(argv: Sequence[str] | None = None) -> int:
    """Write the comparison report of the given folders (or, with --advise, print the advice)."""
    args = build_parser().parse_args(argv)
    from pipeline.bootstrap import bootstrap

    bootstrap()
    if args.advise:
        from pipeline.compare.advise import advise

        print(advise(args.advise, args.overrides))
        return 0
    if not args.folders:
        raise UserError("give run or sweep folders to compare (e.g. runs/freeze-sweep/<ts>), or --advise RECIPE")
    if args.tolerance < 0:
        raise UserError(f"--tolerance must be >= 0 mAP50-95 points, got {args.tolerance}")
    if args.resamples < 100:
        raise UserError(f"--resamples must be at least 100 for a 95 % interval, got {args.resamples}")
    from pipeline.compare.report import build_report, write_report

    report = build_report(args.folders, tolerance=args.tolerance, skip_incomplete=args.skip_incomplete,
                          intervals=Settings(resamples=args.resamples, seed=args.interval_seed))
    print(report.summary(write_report(report, args.out or default_out(args.folders), links=not args.no_links)))
    return 0


main = cli_entry(main)

if __name__ == "__main__":
    sys.exit(main())
