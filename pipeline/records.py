"""The JSON files of a run folder as typed records: each one read and written here, and nowhere else.

A writer builds the record and calls ``write(folder)`` (atomic, :func:`pipeline.run_folder.write_atomic`); a reader
gets it back with ``Record.read(folder)`` and uses its attributes, so a new figure is one field of one record.
A key the writer left out stays out of the file (``exclude_unset``: a classify run has no mAP keys), a key a
record does not know is kept as it was read (a newer roadtune's ``status.json`` entry, say), and a file that is
missing, not JSON or not the record is a UserError naming the file and every problem.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from pipeline.errors import UserError
from pipeline.run_folder import (
    BEST,
    ENV,
    EXPORT_JSON,
    METRICS,
    POINT_STATUS,
    PROBE_JSON,
    PSEUDO_COUNTS_FILE,
    STAGE_SUMMARY,
    SWEEP_MARKER,
    stage_dir,
    write_atomic,
)
from pipeline.textfile import read_json


def problems_of(exc: ValidationError) -> str:
    """A pydantic error as one line: the missing keys first, then each wrong value by its dotted key."""
    missing = [".".join(map(str, e["loc"])) for e in exc.errors() if e["type"] == "missing"]
    wrong = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors() if e["type"] != "missing"]
    return "; ".join(([f"missing {', '.join(missing)}"] if missing else []) + wrong)


class Record(BaseModel):
    """One JSON file of a run folder: its name in the folder (FILE) and what errors call it (WHAT)."""

    model_config = ConfigDict(extra="allow")
    FILE: ClassVar[str]
    WHAT: ClassVar[str]

    @classmethod
    def path(cls, folder: Path) -> Path:
        """Where the record lives in `folder`."""
        return Path(folder) / cls.FILE

    @classmethod
    def read(cls, folder: Path) -> Any:
        """The record in `folder`; a UserError naming the file when it is missing, not JSON or not this record."""
        path = cls.path(folder)
        data = read_json(path, cls.WHAT)
        if not isinstance(data, dict):
            raise UserError(f"{path}: the {cls.WHAT} is not a mapping but {type(data).__name__}")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise UserError(f"{path}: the {cls.WHAT} is not one roadtune writes ({problems_of(exc)})") from None

    def to_json(self) -> dict[str, Any]:
        """The file's content: every key the writer set (or the file held), in the record's order."""
        return self.model_dump(mode="json", exclude_unset=True)

    def write(self, folder: Path) -> Path:
        """Write the record into `folder` atomically; its path."""
        path = self.path(folder)
        write_atomic(path, json.dumps(self.to_json(), indent=2))
        return path


class Figures(Record):
    """What a trained model scored on the val split and what its training cost: a stage's, or the run's.

    mAP keys for detect (and mask_ keys for segment), top1/top5 for classify; per_class is mAP50-95 per class
    (top-1 accuracy for classify), null for a class absent from val. Timing: see
    :func:`pipeline.train.metrics.timing_summary` (batches null for epochs recorded before they were counted).
    """

    map50: float | None = None
    map50_95: float | None = None
    mask_map50: float | None = None
    mask_map50_95: float | None = None
    top1: float | None = None
    top5: float | None = None
    precision: float | None = None
    recall: float | None = None
    per_class: dict[str, float | None] = {}
    epochs: int | None = None
    train_time_s: float | None = None
    time_per_epoch_s: float | None = None
    batches: int | None = None
    images_seen: int | None = None
    time_per_batch_s: float | None = None
    images_per_s: float | None = None
    peak_memory_mb: float | None = None
    memory_kind: Literal["cuda", "rss"] | None = None
    inference_ms_per_image: float | None = None

    def figures(self) -> dict[str, Any]:
        """The figures this record holds (of those every :class:`Figures` has), as set by its writer."""
        return self.model_dump(include=set(Figures.model_fields), exclude_unset=True)

    def headline(self) -> str:
        """The accuracy figures a run prints when it ends: top-1/top-5 for classify, mAP50 and mAP50-95 otherwise."""
        keys = ("top1", "top5") if self.top1 is not None else ("map50", "map50_95")
        return "  ".join(f"{k} {getattr(self, k)}" for k in keys)


class StageSummary(Figures):
    """summary.json in a stage folder: the stage's figures, its start weights, freeze and optimizer."""

    FILE: ClassVar[str] = STAGE_SUMMARY
    WHAT: ClassVar[str] = "stage summary"
    name: str
    start_weights: str | None = None
    freeze: int | list[int] | str | None = None
    frozen_layers: int | None = None
    lr0: float | None = None
    optimizer: str | None = None


class PseudoCounts(Record):
    """counts.json of the teacher-labelled frames (distill.unlabeled): written last, so it marks a complete set."""

    FILE: ClassVar[str] = PSEUDO_COUNTS_FILE
    WHAT: ClassVar[str] = "teacher label counts"
    teacher: str
    conf: float | str | None = None
    ignore_conf: float | None = None
    labeled_repeats: int | None = None
    labelled_frames: int | None = None
    thresholds: dict[str, float] = {}
    teacher_imgsz: int | list[int] | None = None
    every_n_frames: int | None = None
    sources: list[str] = []
    frames: int
    frames_without_boxes: int | None = None
    boxes: int
    per_class: dict[str, int] = {}
    ignored_boxes: int | None = None
    teacher_seconds: float | None = None
    teacher_frames_per_s: float | None = None


class Metrics(Figures):
    """metrics.json: the final model's figures (the last stage's best.pt), totals over stages, parameter counts and
    each stage's summary; it exists once the run finished (docs/run-folder.md lists every key)."""

    FILE: ClassVar[str] = METRICS
    WHAT: ClassVar[str] = "metrics file"
    frozen_layers: int
    params_trainable: int
    params_frozen: int | None = None
    params_total: int
    weights_transferred: int | None = None
    weights_total: int | None = None
    stages: list[StageSummary] = []
    teacher_labels: PseudoCounts | None = None

    def final_weights(self, run_dir: Path) -> Path:
        """The run's final model: the best.pt of its last stage."""
        if not self.stages:
            raise UserError(f"{self.path(run_dir)}: the {self.WHAT} lists no stage, so it names no final weights")
        return stage_dir(run_dir, self.stages[-1].name) / BEST


class Environment(Record):
    """env.json: versions, git commit and hardware of the run, so every figure can be traced."""

    FILE: ClassVar[str] = ENV
    WHAT: ClassVar[str] = "environment file"
    python: str | None = None
    platform: str | None = None
    roadtune: str | None = None
    torch: str | None = None
    ultralytics: str | None = None
    git_commit: str | None = None
    device: str | None = None
    device_kind: str | None = None
    gpus: list[str] = []
    cpu: str | None = None
    cpu_count: int | None = None
    argv: list[str] = []


class _Marked(Record):
    """A record whose `kind` is always written: what tells roadtune's file from another one of that name."""

    def model_post_init(self, context: Any) -> None:
        self.model_fields_set.add("kind")


class SweepFile(_Marked):
    """sweep.json, the marker of a sweep folder: the base recipe (with its sweep section) and where paths resolve."""

    FILE: ClassVar[str] = SWEEP_MARKER
    WHAT: ClassVar[str] = "sweep file"
    kind: Literal["roadtune-sweep"] = "roadtune-sweep"
    base: dict[str, Any]
    base_dir: str


class PointStatus(Record):
    """status.json in a sweep point's folder: how its child process ended (keys it does not know are kept)."""

    FILE: ClassVar[str] = POINT_STATUS
    WHAT: ClassVar[str] = "point status"
    point: str | None = None
    returncode: int | None  # None: a search stopped the point before its process ended
    error: str | None = None
    wall_s: float | None = None
    peak_rss_mb: float | None = None
    device: str | None = None
    stopped: dict[str, Any] | None = None  # where a search stopped it: epoch, rung, metric, value (sweep.search)

    @property
    def ok(self) -> bool:
        return self.returncode == 0 or self.stopped is not None


class ProbePoint(Record):
    """One freeze depth in probe.json: the batch that fits the budget and the images/s at it and at the default."""

    point: str
    freeze: str
    frozen_layers: int | None = None
    default_batch: int
    default_peak_mb: float | None = None
    default_images_per_s: float | None = None
    probe_batch: int
    probe_peak_mb: float | None = None
    probe_images_per_s: float | None = None
    measurements: list[dict[str, Any]] = []


class Probe(_Marked):
    """probe.json in a sweep folder (--probe-batch): the memory budget and, per freeze depth, the batch in it."""

    FILE: ClassVar[str] = PROBE_JSON
    WHAT: ClassVar[str] = "probe file"
    kind: Literal["roadtune-probe"] = "roadtune-probe"
    budget_mb: float
    device: str
    default_batch: int
    max_batch: int | None = None
    warmup_batches: int | None = None
    timed_batches: int | None = None
    points: list[ProbePoint]


class Spread(Record):
    """Median and 90th percentile of timed calls, in ms."""

    median: float
    p90: float


class Latency(Record):
    """ms per call at `batch`: `total`, and Ultralytics' preprocess/inference/postprocess split (kept as read)."""

    batch: int
    runs: int | None = None
    warmup: int | None = None
    total: Spread


class Throughput(Record):
    """Images per second at `batch`, over `calls` calls."""

    batch: int
    calls: int | None = None
    images_per_s: float


class Measured(Record):
    """Latency, throughput and accuracy (val split) of one model file."""

    latency_ms: Latency
    throughput: Throughput
    accuracy: dict[str, float]


class ExportRecord(Measured):
    """export.json in export/<format>[-int8]/: the artifact, its measurements beside PyTorch's and the machine;
    written last, beside the artifact, so it marks a complete export."""

    FILE: ClassVar[str] = EXPORT_JSON
    WHAT: ClassVar[str] = "export record"
    format: str | None = None
    precision: str | None = None
    artifact: str | None = None
    size_mb: float
    pytorch_size_mb: float | None = None
    weights: str | None = None
    task: str | None = None
    imgsz: int | None = None
    data: str | None = None
    accuracy_delta_pts: dict[str, float]
    pytorch: Measured | None = None
    machine: dict[str, Any]
    options: dict[str, Any] = {}
