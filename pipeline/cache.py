"""roadtune's cache: one folder for what can be made again and is kept only to save time.

It is ``$ROADTUNE_CACHE`` (default ``~/.cache/roadtune``) and holds the generated synthetic sets, the remembered
dataset checks, the teacher's predictions on unlabelled frames and the video demo's model exports, each in a
folder of its own named here. Nothing is cached inside a run folder: a finished run is never written again.
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "ROADTUNE_CACHE"
SYNTH = "synth-road"  # + "-<key>": one generated synthetic set (pipeline.datasets.synth)
DATACHECK = "datacheck"  # remembered clean dataset checks (pipeline.datasets.check_cache)
TEACHER_LABELS = "teacher-labels"  # the teacher's predictions per frame (pipeline.distill.teacher_labels)
VIDEO_EXPORTS = "video-exports"  # ONNX/OpenVINO exports of the video demo's weights (pipeline.video.backend)


def cache_root() -> Path:
    """The cache folder: `$ROADTUNE_CACHE`, else ~/.cache/roadtune (created by whoever writes into it)."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "roadtune").expanduser()
