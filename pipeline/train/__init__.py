"""Ultralytics stage mechanics: each stage's arguments, the stage through Ultralytics' trainer, its metrics."""
