"""The ``roadtune`` console script: ``roadtune run|compare|video|datasets ...``, same as ``python -m pipeline.X``."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

SUBCOMMANDS = {
    "run": "pipeline.run",
    "compare": "pipeline.compare",
    "video": "pipeline.video",
    "datasets": "pipeline.datasets.__main__",
}


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch to the subcommand's own ``main``; exit codes are the subcommand's."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in SUBCOMMANDS:
        print(f"usage: roadtune {{{','.join(SUBCOMMANDS)}}} ...", file=sys.stderr)
        return 0 if args[:1] in (["-h"], ["--help"]) else 2
    module = importlib.import_module(SUBCOMMANDS[args[0]])
    return module.main(args[1:])


if __name__ == "__main__":
    sys.exit(main())
