"""README's Deploy command, typed from the repo root on the run the quickstart printed."""

from __future__ import annotations

import json

import pytest
from shell import type_command

pytestmark = pytest.mark.slow


def test_deploy_exports_and_measures_the_quickstart_run(user_repo, quickstart_run):
    _, run_folder = quickstart_run
    typed = "python -m pipeline.export runs/quickstart/20261124-101500 --format onnx,openvino"
    out = type_command(user_repo, typed.replace("runs/quickstart/20261124-101500", run_folder),
                       "--throughput-batch 2")
    for fmt in ("onnx", "openvino"):
        assert f"export: {run_folder}/export/{fmt} " in out
        record = json.loads((user_repo / run_folder / "export" / fmt / "export.json").read_text())
        assert record["format"] == fmt and record["imgsz"] == 64 and record["latency_ms"]["runs"] == 50
        assert (user_repo / run_folder / "export" / fmt / record["artifact"]).exists()
        assert set(record["accuracy"]) == {"map50", "map50_95"}
