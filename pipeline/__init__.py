"""roadtune: measured, repeatable YOLO fine-tuning for driving scenes.

Importing this package has no side effects: call :func:`pipeline.bootstrap.bootstrap` (every CLI does) to
configure offline mode and Ultralytics settings before any Ultralytics import.
"""

__version__ = "0.1.0"
