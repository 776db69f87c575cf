"""The ``roadtune`` console script: ``roadtune run|compare|video|export|datasets ...``, as ``python -m pipeline.X``."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

# subcommand: (module whose ``main(argv)`` runs it, the one line ``roadtune --help`` shows for it)
SUBCOMMANDS = {
    "run": ("pipeline.run", "run a recipe (training, stages, sweeps), or --resume an interrupted run"),
    "compare": ("pipeline.compare.__main__",
                "compare finished runs and sweeps in one report, or --advise a freeze depth"),
    "video": ("pipeline.video.__main__", "annotated video, per-frame detections and tracks, and FPS for a model"),
    "export": ("pipeline.export.__main__",
               "export a run's final weights (ONNX, OpenVINO, TensorRT) and measure latency and accuracy after export"),
    "datasets": ("pipeline.datasets.__main__", "convert datasets to YOLO format, check them, preview augmentations"),
}


def prog(command: str) -> str:
    """A command's name in its usage line, as the user typed it: `roadtune run` or `python -m pipeline.run`."""
    if Path(sys.argv[0]).name == "roadtune":
        return f"roadtune {command}"
    return f"python -m {SUBCOMMANDS[command][0].removesuffix('.__main__')}"


def _parser() -> argparse.ArgumentParser:
    """The top-level parser, for ``--help`` and errors only: each subcommand parses its own arguments."""
    parser = argparse.ArgumentParser(prog="roadtune", description="Fine-tune YOLO for driving scenes.",
                                     epilog="`roadtune COMMAND --help` shows a command's options.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (_, summary) in SUBCOMMANDS.items():
        sub.add_parser(name, help=summary, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch to the subcommand's own ``main``; exit codes are the subcommand's."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in SUBCOMMANDS:
        parser = _parser()
        parser.parse_args(args)  # exits: the command list for --help (0), else an error naming the commands (2)
        parser.error("the command comes first: roadtune COMMAND [options]")  # in case argparse ever accepts it
    module = importlib.import_module(SUBCOMMANDS[args[0]][0])
    return module.main(args[1:])


if __name__ == "__main__":
    sys.exit(main())
