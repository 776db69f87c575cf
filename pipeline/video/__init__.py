"""Video demo (issue 7): annotated video, per-frame detections and tracks, FPS.

Importing this package does not import Ultralytics or torch (the recipe schema imports :class:`VideoConfig`).
"""

from pipeline.video.cli import main
from pipeline.video.config import VideoConfig
from pipeline.video.run import run_video

__all__ = ["VideoConfig", "main", "run_video"]
