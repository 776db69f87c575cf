"""What a run shows on the console: roadtune's log lines on stdout, and the closing lines of a finished run
(``python -m pipeline.run`` and a sweep point's worker alike)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.run_folder import shown

if TYPE_CHECKING:
    from pipeline.records import Metrics

LOG = logging.getLogger("roadtune")


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


def report_finished(metrics: Metrics, run_dir: Path) -> None:
    """The closing lines of a run: its folder, the final weights (as the video demo takes them) and headline."""
    print(f"run folder: {shown(run_dir)}\nweights: {shown(metrics.final_weights(run_dir))}\n"
          f"{metrics.headline()}  trainable params {metrics.params_trainable:,}  time {metrics.train_time_s} s")
