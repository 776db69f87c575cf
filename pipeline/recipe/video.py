"""The ``video:`` recipe section and CLI options; pydantic only, so the recipe schema can import it cheaply."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Backend = Literal["torch", "onnx", "openvino"]
Tracker = Literal["bytetrack", "botsort"]


class VideoConfig(BaseModel):
    """How to run the video demo: the source clip plus the options of ``python -m pipeline.video``."""

    model_config = ConfigDict(extra="forbid")

    source: Path
    imgsz: int = Field(640, ge=32, description="inference size (longest side), a multiple of the model stride")
    conf: float = Field(0.25, ge=0.0, le=1.0)
    iou: float = Field(0.7, ge=0.0, le=1.0)
    classes: list[str] | None = Field(None, description="class names to keep; None keeps all")
    track: Tracker | None = Field(None, description="Ultralytics tracker; None draws detections without ids")
    batch: int = Field(8, ge=1, le=256, description="frames per inference call")
    device: str | None = Field(None, description="'cpu', '0', ...; None: first GPU when there is one, else CPU")
    max_frames: int | None = Field(None, ge=1)
    save_video: bool = True
    backend: Backend | None = Field(None, description="None: the fastest installed for the device")

    @field_validator("classes", mode="before")
    @classmethod
    def _split_names(cls, value: object) -> object:
        """Accept ``"car,pedestrian"`` as well as a list, as the CLI and YAML write it."""
        if isinstance(value, str):
            return [name.strip() for name in value.split(",") if name.strip()]
        return value

    @field_validator("device", mode="before")
    @classmethod
    def _device_text(cls, value: object) -> object:
        """YAML reads ``device: 0`` as an int; Ultralytics takes the string."""
        return None if value is None else str(value)
