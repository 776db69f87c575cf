"""Video demo: annotated video, per-frame detections and tracks, FPS (its options:
:class:`pipeline.recipe.video.VideoConfig`; the command line: :mod:`pipeline.video.cli`)."""
