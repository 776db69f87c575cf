"""Comparing finished runs: results read back from run folders, the report with its recommendations and plots,
and the freeze-depth advice (``python -m pipeline.compare``). Running sweeps is :mod:`pipeline.sweep`."""
