"""The deployed cost of each point: the export.json files ``python -m pipeline.export`` left in its run folder
(latency at batch 1, size, accuracy after export and its change against PyTorch, per format), and for a
distillation study its teacher's, when the recipe names a teacher run folder that was exported too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.compare.collect import read_record
from pipeline.compare.tables import number
from pipeline.records import ExportRecord
from pipeline.run_folder import EXPORT, STAGES, WEIGHTS, is_finished

# the deployed table's columns: name, column of deployed_rows(), digits
SHOWN = [("format", "format", None), ("latency ms", "latency_ms", 1), ("p90 ms", "latency_p90_ms", 1),
         ("images/s", "images_per_s", 1), ("size MB", "size_mb", 1), ("PyTorch ms", "pytorch_latency_ms", 1)]


def read_exports(run_dir: Path) -> dict[str, dict[str, Any]]:
    """Folder name under export/ (`onnx`, `openvino-int8`) -> the figures of its export.json; complete exports only
    (an export in progress lives in a hidden folder until it is renamed into place)."""
    found = {}
    for path in sorted((run_dir / EXPORT).glob(f"*/{ExportRecord.FILE}")):
        if path.parent.name.startswith("."):
            continue
        record = read_record(ExportRecord, path.parent)
        total = record.latency_ms.total
        found[path.parent.name] = {
            "latency_ms": total.median, "latency_p90_ms": total.p90,
            "images_per_s": record.throughput.images_per_s, "size_mb": record.size_mb,
            "pytorch_latency_ms": record.pytorch.latency_ms.total.median if record.pytorch else None,
            "accuracy": record.accuracy, "delta_pts": record.accuracy_delta_pts,
            "runtime": _runtime(path.parent.name, record.machine)}
    return found


def _runtime(fmt: str, machine: dict[str, Any]) -> str:
    """Where an export was measured, in words: `openvino-int8 on AMD EPYC (2-core CPU)`."""
    if machine.get("gpu"):
        return f"{fmt} on {machine['gpu']}"
    return f"{fmt} on {machine.get('cpu')} ({machine.get('cpu_count')}-core CPU)"


def teacher_run(teacher: str | None) -> Path | None:
    """The finished run folder whose final weights a recipe's `distill.teacher` names (the resolved recipe holds
    <run>/stages/<stage>/weights/best.pt), if it is one."""
    if not teacher or teacher == "—":
        return None
    path = Path(teacher)
    run = path if path.is_dir() else path.parents[3] if len(path.parts) > 4 else None
    if run is None or not path.is_dir() and (path.parent.name != WEIGHTS or path.parents[2].name != STAGES):
        return None
    return run.resolve() if is_finished(run) else None


def deployed_rows(points: pd.DataFrame, score: str, labels: list[str]) -> pd.DataFrame:
    """One row per point and exported format (points named by `labels`), then one per teacher format."""
    rows, teachers = [], {}
    for (_, point), label in zip(points.iterrows(), labels):
        for fmt, figures in (point.get("exports") or {}).items():
            rows.append(_row(label, "student" if point.get("teacher_dir") else "", fmt, figures, score))
        if point.get("teacher_dir"):
            teachers[point["teacher_dir"]] = read_exports(Path(point["teacher_dir"]))
    for folder, exports in teachers.items():
        rows += [_row(f"teacher {Path(folder).parent.name}/{Path(folder).name}", "teacher", fmt, figures, score)
                 for fmt, figures in exports.items()]
    return pd.DataFrame(rows)


def _row(point: str, role: str, fmt: str, figures: dict[str, Any], score: str) -> dict[str, Any]:
    return {"point": point, "role": role, "format": fmt, "score": figures["accuracy"].get(score),
            "delta_pts": figures["delta_pts"].get(score), "runtime": figures["runtime"],
            **{k: figures[k] for k in ("latency_ms", "latency_p90_ms", "images_per_s", "size_mb",
                                       "pytorch_latency_ms")}}


def deployed_table(rows: pd.DataFrame, label: str) -> pd.DataFrame:
    """The report's deployed table: figures formatted, the accuracy after export and its change against PyTorch."""
    table = pd.DataFrame({"point": rows["point"] + rows["role"].map(lambda r: f" ({r})" if r else "")})
    for name, column, digits in SHOWN:
        table[name] = rows[column] if digits is None else rows[column].map(lambda v, d=digits: number(v, d))
    table[f"{label} after export"] = rows["score"].map(lambda v: number(v, 4))
    table["Δ vs PyTorch (pts)"] = rows["delta_pts"].map(lambda v: "" if pd.isna(v) else f"{v:+.2f}")
    return table


def teacher_lines(rows: pd.DataFrame) -> list[str]:
    """Per student and format the teacher was exported to: `student X: -y points vs teacher at z× lower latency`."""
    if rows.empty or "teacher" not in set(rows["role"]):
        return []
    teachers = rows[rows["role"] == "teacher"].set_index("format")
    lines = []
    for _, student in rows[rows["role"] == "student"].iterrows():
        if student["format"] not in teachers.index:
            continue
        teacher = teachers.loc[student["format"]]
        change = round((student["score"] - teacher["score"]) * 100, 1) + 0.0  # + 0.0: no "-0.0"
        lines.append(f"student {student['point']}: {change:+.1f} points vs teacher at "
                     f"{teacher['latency_ms'] / student['latency_ms']:.1f}× lower latency on {student['runtime']}")
    return lines


def csv_columns(points: pd.DataFrame, score: str) -> pd.DataFrame:
    """report.csv's columns per exported format: `<format>_latency_ms`, `_size_mb`, `_<score>`, `_delta_pts`."""
    columns: dict[str, list[Any]] = {}
    formats = sorted({fmt for exports in points.get("exports", []) for fmt in (exports or {})})
    for fmt in formats:
        figures = [(exports or {}).get(fmt, {}) for exports in points["exports"]]
        columns[f"{fmt}_latency_ms"] = [f.get("latency_ms") for f in figures]
        columns[f"{fmt}_size_mb"] = [f.get("size_mb") for f in figures]
        columns[f"{fmt}_{score}"] = [f.get("accuracy", {}).get(score) for f in figures]
        columns[f"{fmt}_delta_pts"] = [f.get("delta_pts", {}).get(score) for f in figures]
    return pd.DataFrame(columns, index=points.index)
