"""The ``export:`` recipe section and the options of ``python -m pipeline.export``; pydantic only, so the recipe
schema imports it cheaply. What a format needs on this machine (packages, a CUDA GPU):
:func:`pipeline.export.setup.setup_problems`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Format = Literal["onnx", "openvino", "engine"]
MIN_TIMED_CALLS = 50  # a median and a p90 of fewer calls move by more than the 10 % two runs must agree within


class ExportConfig(BaseModel):
    """Which artifacts to export from a run's final weights, and how to measure them."""

    model_config = ConfigDict(extra="forbid")

    format: list[Format] = Field(["onnx"], min_length=1, description="onnx, openvino, engine (TensorRT, CUDA only)")
    int8: bool = Field(False, description="int8 quantisation, calibrated on the train split (OpenVINO: NNCF)")
    half: bool = Field(False, description="fp16 weights")
    imgsz: int | None = Field(None, ge=32, le=8192, description="inference size; None: the run's train.imgsz")
    batch: int = Field(1, ge=1, le=64, description="batch of the latency measurement")
    throughput_batch: int = Field(8, ge=1, le=256, description="batch of the images/s measurement")
    runs: int = Field(MIN_TIMED_CALLS, ge=MIN_TIMED_CALLS, le=10_000, description="timed calls for the latency")
    warmup: int = Field(10, ge=1, le=1000, description="untimed calls first (runtime set-up, caches)")
    fraction: float = Field(1.0, gt=0.0, le=1.0, description="int8: share of the train split used to calibrate")

    @field_validator("format", mode="before")
    @classmethod
    def _split_formats(cls, value: object) -> object:
        """Accept ``"onnx,openvino"`` as well as a list, as the CLI and YAML write it; each format once."""
        if isinstance(value, str):
            value = [name.strip() for name in value.split(",") if name.strip()]
        return list(dict.fromkeys(value)) if isinstance(value, list) else value

    @model_validator(mode="after")
    def _one_precision(self) -> ExportConfig:
        if self.int8 and self.half:
            raise ValueError("int8 and half exclude each other: choose one precision")
        return self

    def precision(self) -> str:
        """The precision in words: int8, fp16 or fp32."""
        return "int8" if self.int8 else "fp16" if self.half else "fp32"

    def folder_name(self, fmt: str) -> str:
        """export/<format>[-int8|-fp16]: one folder per format and precision."""
        return fmt if self.precision() == "fp32" else f"{fmt}-{self.precision()}"
