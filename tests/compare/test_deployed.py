"""The report reads each run's export.json: a deployed table and columns per format, the accuracy-vs-latency plot,
and for a distillation study the teacher's exports beside the student's with the comparison line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from pipeline.compare.__main__ import main as compare_main
from pipeline.compare.deployed import teacher_run

pytestmark = pytest.mark.slow


def _student_of(teacher: Path, dest: Path) -> Path:
    """A copy of the exported run whose recipe names `teacher`'s final weights as its distillation teacher."""
    student = Path(shutil.copytree(teacher, dest))
    recipe = yaml.safe_load((student / "recipe.yaml").read_text())
    recipe["distill"] = {"teacher": str(next(teacher.glob("stages/*/weights/best.pt")))}
    (student / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    return student


def test_report_shows_exports_and_the_teacher(exported_run, tmp_path, capsys):
    teacher = Path(shutil.copytree(exported_run, tmp_path / "teacher"))
    student = _student_of(teacher, tmp_path / "student")
    assert teacher_run(yaml.safe_load((student / "recipe.yaml").read_text())["distill"]["teacher"]) == teacher
    assert compare_main([str(student), "--out", str(tmp_path / "report")]) == 0
    record = json.loads((student / "export" / "onnx" / "export.json").read_text())
    out = capsys.readouterr().out
    runtime = f"onnx on {record['machine']['cpu']} ({record['machine']['cpu_count']}-core CPU)"
    assert f"student none: +0.0 points vs teacher at 1.0× lower latency on {runtime}" in out
    csv = pd.read_csv(tmp_path / "report" / "report.csv")
    assert csv.loc[0, "onnx_latency_ms"] == record["latency_ms"]["total"]["median"]
    assert csv.loc[0, "onnx_map50_95"] == record["accuracy"]["map50_95"]
    assert csv.loc[0, "onnx_delta_pts"] == record["accuracy_delta_pts"]["map50_95"]
    md = (tmp_path / "report" / "report.md").read_text()
    assert "**Deployed**" in md and "none (teacher)" not in md and "(student)" in md and "(teacher)" in md
    assert (tmp_path / "report" / "accuracy-vs-latency.png").stat().st_size > 0


def test_a_report_without_exports_has_no_deployed_part(exported_run, tmp_path):
    plain = Path(shutil.copytree(exported_run, tmp_path / "run", ignore=shutil.ignore_patterns("export")))
    assert compare_main([str(plain), "--out", str(tmp_path / "report")]) == 0
    assert "Deployed" not in (tmp_path / "report" / "report.md").read_text()
    assert not (tmp_path / "report" / "accuracy-vs-latency.png").exists()
    assert "onnx_latency_ms" not in pd.read_csv(tmp_path / "report" / "report.csv")
