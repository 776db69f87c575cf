"""The recipe's `distill:` section: which teacher, which method, and how much each distillation term weighs.

Kept apart from the trainer code so that validating a recipe imports neither torch nor Ultralytics:

>>> DistillConfig(teacher="runs/teacher/20250101-120000").method
'roadtune'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pipeline.errors import UserError
from pipeline.run_folder import BEST_FILE, DISTILL_CONFIG
from pipeline.textfile import read_text


class DistillWeights(BaseModel):
    """Weight of each distillation term in the student's loss; 0 turns a term off (and skips its computation)."""

    model_config = ConfigDict(extra="forbid")

    cls: float = Field(1.0, ge=0, description="teacher class scores as soft labels (confidence-weighted)")
    box: float = Field(1.0, ge=0, description="KL between teacher and student DFL box distributions")
    feature: float = Field(0.5, ge=0, description="neck features through a 1x1 projector, channel-normalised")
    mask: float = Field(1.0, ge=0, description="segment only: masks assembled from prototypes and coefficients")


class DistillConfig(BaseModel):
    """Distillation from a teacher into the recipe's model (the student)."""

    model_config = ConfigDict(extra="forbid")

    teacher: str = Field(
        description=f"teacher checkpoint (.pt name or path) or a finished run folder (its {BEST_FILE})")
    teacher_train: dict[str, Any] | None = Field(
        None, description="Ultralytics train args to fine-tune the teacher on this data first, as stage `teacher`"
    )
    method: Literal["roadtune", "native", "none"] = Field(
        "roadtune", description="roadtune (head-level), native (Ultralytics distill_model) or none (plain student)"
    )
    temperature: float = Field(2.0, gt=0, description="softens teacher and student distributions (roadtune)")
    alpha: float = Field(0.5, ge=0, le=1, description="classify only: share of the soft labels vs the hard labels")
    weights: DistillWeights = Field(default_factory=DistillWeights, description="detect/segment: each term's weight")
    ramp_epochs: float = Field(
        0.0, ge=0, description="detect/segment: the distillation weights rise linearly from 0 to their full value "
        "over this many epochs (per batch), so the student first learns from the labels; 0: full weight from the "
        "first batch (default: a 3-epoch ramp did not beat it in docs/distillation.md)")
    unlabeled: list[str] = Field(
        default_factory=list, description="detect/segment: image folders or video files the teacher labels once "
        "(cached in <run>/pseudo); the student trains on the labelled data plus these frames, val stays as is")
    every_n_frames: int = Field(10, ge=1, description="videos in `unlabeled`: keep one frame in this many")
    conf: float | Literal["f1"] = Field(
        0.25, description="`unlabeled`: the teacher's boxes at or above this confidence become labels; `f1`: per "
        "class, the confidence where the teacher's F1 on the dataset's val split peaks (docs/distillation.md)")
    ignore_conf: float | None = Field(
        None, gt=0, lt=1, description="`unlabeled`: boxes from this confidence up to the label threshold are "
        "uncertain: their pixels are painted grey so the student learns neither object nor background there; "
        "null: an uncertain box is background")
    labeled_repeats: int | Literal["auto"] = Field(
        "auto", description="`unlabeled`: the labelled train images appear this many times per epoch, so a large pool "
        "does not drown the true labels; `auto`: as many times as make them about 40% of an epoch's images (3 for "
        "150 labelled and 724 unlabelled frames, the best of docs/distillation.md)")
    teacher_imgsz: int | None = Field(
        None, ge=32, le=8192, description="`unlabeled`: the image size the teacher labels at (null: the size it "
        "was trained at, else the student's)")

    @field_validator("labeled_repeats")
    @classmethod
    def _repeats_in_range(cls, value: int | str) -> int | str:
        if not isinstance(value, str) and not 1 <= value <= 1000:
            raise ValueError(f"must be between 1 and 1000 or `auto`, got {value}")
        return value

    @field_validator("conf")
    @classmethod
    def _conf_in_range(cls, value: float | str) -> float | str:
        if not isinstance(value, str) and not 0 < value < 1:
            raise ValueError(f"must be between 0 and 1 (exclusive) or `f1`, got {value}")
        return value

    @model_validator(mode="after")
    def _ignore_below_conf(self) -> DistillConfig:
        if self.ignore_conf is not None and not isinstance(self.conf, str) and self.ignore_conf >= self.conf:
            raise ValueError(f"ignore_conf {self.ignore_conf} must be below conf {self.conf}: boxes between the two "
                             "are the uncertain ones")
        return self


def stage_config_text(cfg: DistillConfig, teacher: Path) -> str:
    """A distilled stage's distill.json: the recipe's section, its `teacher` the checkpoint the stage distils from."""
    return cfg.model_copy(update={"teacher": str(teacher)}).model_dump_json(indent=2)


def read_stage_config(stage_folder: Path) -> DistillConfig:
    """The distill.json a distillation trainer reads from its stage folder (Ultralytics' `save_dir`)."""
    path = Path(stage_folder) / DISTILL_CONFIG
    if not path.is_file():
        raise UserError(f"{path} not found: a distillation trainer distils from the teacher named in its stage "
                        "folder's config, which the run writes before the stage starts")
    return DistillConfig.model_validate_json(read_text(path, "distillation config"))
