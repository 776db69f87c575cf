"""``python -m pipeline.export RUN_OR_SWEEP_DIR... [--format onnx,openvino,engine] [--int8] [--half] [--imgsz N]``:
export a finished run's final weights (every finished point of a sweep) and measure each artifact.

Writes ``<run>/export/<format>[-int8|-fp16]/`` holding the artifact and export.json: size, latency at batch 1
(median and p90 of timed calls after a warm-up; pre-processing, inference and post-processing apart), images/s at
a larger batch, accuracy on the val split beside the PyTorch best.pt at the same imgsz, and the machine.
Every run, format and package is checked before any export: a problem exits 2 and writes nothing.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from pipeline.cli import prog
from pipeline.errors import UserError, cli_entry
from pipeline.recipe.export import ExportConfig


def build_parser() -> argparse.ArgumentParser:
    fields = ExportConfig.model_fields
    parser = argparse.ArgumentParser(prog=prog("export"), description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="+", type=Path, metavar="RUN_OR_SWEEP_DIR",
                        help="finished run folders (runs/<name>/<ts>) and sweep folders, any mix")
    parser.add_argument("--format", default="onnx", help="comma-separated: onnx, openvino, engine (default onnx)")
    parser.add_argument("--int8", action="store_true", help=fields["int8"].description)
    parser.add_argument("--half", action="store_true", help=fields["half"].description)
    parser.add_argument("--imgsz", type=int, help="export and inference size (default: the run's train.imgsz)")
    parser.add_argument("--batch", type=int, default=1, help="batch of the latency measurement (default 1)")
    parser.add_argument("--throughput-batch", type=int, default=8, help="batch of the images/s measurement (default 8)")
    parser.add_argument("--runs", type=int, default=fields["runs"].default, help="timed calls (default 50, >= 50)")
    parser.add_argument("--fraction", type=float, default=1.0, help=fields["fraction"].description + " (default 1)")
    parser.add_argument("--data", type=Path, help="dataset YAML for the accuracy and int8 calibration "
                                                  "(default: the run's own)")
    parser.add_argument("--overwrite", action="store_true", help="export again a format exported before")
    return parser


def config_from(args: argparse.Namespace) -> ExportConfig:
    """The export options of the command line, checked like the recipe's `export:` section."""
    from pipeline.recipe.schema import format_validation_error

    try:
        return ExportConfig(format=args.format, int8=args.int8, half=args.half, imgsz=args.imgsz, batch=args.batch,
                            throughput_batch=args.throughput_batch, runs=args.runs, fraction=args.fraction)
    except ValidationError as err:
        problems = [line.replace("<recipe>", "options") for line in format_validation_error(err)]
        raise UserError("invalid export options", problems) from None


def main(argv: Sequence[str] | None = None) -> int:
    """Check everything, then export and measure each run's formats."""
    args = build_parser().parse_args(argv)
    from pipeline.bootstrap import bootstrap

    bootstrap()
    cfg = config_from(args)
    from pipeline.export.run import export_run, plan

    for target in plan(args.folders, cfg, args.data):
        export_run(target, cfg, overwrite=args.overwrite)
    return 0


main = cli_entry(main)

if __name__ == "__main__":
    sys.exit(main())
