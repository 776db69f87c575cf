"""Comparing runs: sweeps and their executors, results read back from run folders, the report with its
recommendations and plots, and the freeze-depth advice (``python -m pipeline.compare``)."""
