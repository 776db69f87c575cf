"""Video demo: annotated video, per-frame detections and tracks, FPS.

Importing this package imports nothing: the recipe schema takes :class:`pipeline.video.config.VideoConfig` alone,
and the command line (:mod:`pipeline.video.cli`) the rest.
"""
