"""Exporting real tiny runs: the recipe's `export:` and the CLI write export.json with real measurements; bad input
exits 2 before anything is written."""

from __future__ import annotations

import json
import os
import shutil
from importlib.util import find_spec
from pathlib import Path

import pytest

from pipeline.export.__main__ import main as export_main

pytestmark = pytest.mark.slow


@pytest.fixture
def run_dir(exported_run) -> Path:
    return exported_run


def test_recipe_export_writes_a_complete_export_json(run_dir):
    assert (run_dir / "metrics.json").is_file()
    assert sorted(p.name for p in (run_dir / "export").iterdir()) == [".lock", "onnx"]  # no partial folder left
    record = json.loads((run_dir / "export" / "onnx" / "export.json").read_text())
    artifact = run_dir / "export" / "onnx" / record["artifact"]
    assert record["artifact"] == "best.onnx" and record["size_mb"] == round(artifact.stat().st_size / 1e6, 3)
    assert (record["format"], record["precision"], record["imgsz"]) == ("onnx", "fp32", 64)
    latency = record["latency_ms"]
    assert (latency["batch"], latency["runs"]) == (1, 50)
    for part in ("total", "preprocess", "inference", "postprocess"):
        assert 0 < latency[part]["median"] <= latency[part]["p90"], part
    assert latency["inference"]["median"] < latency["total"]["median"]
    assert record["throughput"]["batch"] == 2 and record["throughput"]["images_per_s"] > 0
    exported, pytorch = record["accuracy"], record["pytorch"]["accuracy"]
    assert set(exported) == {"map50", "map50_95"} == set(pytorch)
    assert record["accuracy_delta_pts"]["map50_95"] == round((exported["map50_95"] - pytorch["map50_95"]) * 100, 3)
    assert record["machine"]["cpu_count"] == os.cpu_count() and "onnxruntime" in record["machine"]["versions"]


def test_cli_keeps_an_export_and_overwrites_on_request(run_dir, capsys):
    before = (run_dir / "export" / "onnx" / "export.json").read_text()
    assert export_main([str(run_dir)]) == 0
    assert "kept (exported before" in capsys.readouterr().out
    assert (run_dir / "export" / "onnx" / "export.json").read_text() == before


def _copy(run_dir: Path, dest: Path) -> Path:
    shutil.copytree(run_dir, dest, ignore=shutil.ignore_patterns("export"))
    return dest


@pytest.mark.parametrize("case, message", [
    ("unfinished", "unfinished run"), ("no weights", "no final weights"), ("not a checkpoint", "cannot load"),
    ("no dataset", "not found"), ("unknown format", "format"), ("engine", "CUDA GPU"),
])
def test_bad_input_exits_2_and_writes_nothing(run_dir, tmp_path, capsys, case, message):
    copy = _copy(run_dir, tmp_path / "run")
    best = next(copy.glob("stages/*/weights/best.pt"))
    args = [str(copy)]
    if case == "unfinished":
        (copy / "metrics.json").unlink()
    elif case == "no weights":
        best.unlink()
    elif case == "not a checkpoint":
        best.write_text("not a checkpoint")
    elif case == "no dataset":
        args += ["--int8", "--format", "openvino", "--data", str(tmp_path / "gone.yaml")]
    elif case == "unknown format":
        args += ["--format", "onnx,tflite"]
    else:
        args += ["--format", "engine"]
    assert export_main(args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (copy / "export").exists()


@pytest.mark.skipif(find_spec("nncf") is not None, reason="nncf is installed here: nothing is missing")
def test_missing_package_names_the_install_line(run_dir, capsys):
    assert export_main([str(run_dir), "--format", "openvino", "--int8"]) == 2
    assert 'pip install "roadtune[export]"' in capsys.readouterr().err


def test_a_sweep_exports_each_finished_point(run_dir, tmp_path, capsys):
    sweep = tmp_path / "sweep"
    finished, unfinished = _copy(run_dir, sweep / "points" / "a"), _copy(run_dir, sweep / "points" / "b")
    (unfinished / "metrics.json").unlink()
    (sweep / "sweep.json").write_text("{}")
    assert export_main([str(sweep), "--throughput-batch", "2"]) == 0
    out = capsys.readouterr().out
    assert "skipped (unfinished point)" in out and "points/b" in out
    record = json.loads((finished / "export" / "onnx" / "export.json").read_text())
    assert record["weights"] == str(next(finished.glob("stages/*/weights/best.pt")))
    assert not (unfinished / "export").exists()
