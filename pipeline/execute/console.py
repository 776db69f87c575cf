"""What a run shows on the console: roadtune's log lines on stdout, and the closing lines of a finished run
(``python -m pipeline.run`` and a sweep point's worker alike)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from pipeline.run_folder import final_weights, shown

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


def report_finished(metrics: dict, run_dir: Path) -> None:
    """The closing lines of a run: its folder, the final weights (as the video demo takes them) and headline."""
    from pipeline.train.metrics import headline  # torch: the console is set up before the recipe is checked

    print(f"run folder: {shown(run_dir)}\nweights: {shown(final_weights(run_dir, metrics))}\n"
          f"{headline(metrics)}  trainable params {metrics['params_trainable']:,}  time {metrics['train_time_s']} s")
