"""What an export needs on this machine: a format without its device is refused before any work."""

from __future__ import annotations

from pipeline.export.setup import setup_problems
from pipeline.recipe.export import ExportConfig


def test_engine_needs_a_cuda_gpu():
    (problem,) = setup_problems(ExportConfig(format="engine"), cuda=False)
    assert "CUDA GPU" in problem
