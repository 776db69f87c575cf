"""The recipe's ``augment:`` section: road-condition presets (rain, fog, night, glare, motion blur, snow) and how
often one is applied. Pydantic only; the transforms themselves are built in :mod:`pipeline.datasets.augment`.

>>> AugmentConfig(presets=["rain", "fog"]).p
0.3
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pipeline.errors import UserError

# Name -> what it simulates. The transforms themselves are built in pipeline.datasets.augment.
PRESETS: dict[str, str] = {
    "rain": "slanted rain streaks with the scene dimmed and slightly blurred",
    "fog": "uniform haze that washes out distant contrast",
    "night": "dark, low-contrast, high-gamma image with sensor noise",
    "glare": "low sun flare in the upper half of the frame",
    "motion_blur": "camera shake / ego-motion blur",
    "snow": "falling snow and bright, bleached surfaces",
}


class AugmentConfig(BaseModel):
    """Recipe ``augment:`` section: which presets to use and how often one of them is applied."""

    model_config = ConfigDict(extra="forbid")

    presets: list[str] = Field(min_length=1, description="preset names, see pipeline.recipe.augment.PRESETS")
    p: float = Field(0.3, ge=0.0, le=1.0, description="probability that one preset is applied to an image")

    @field_validator("presets")
    @classmethod
    def _known_presets(cls, value: list[str]) -> list[str]:
        unknown = [name for name in value if name not in PRESETS]
        if unknown:
            raise ValueError(f"unknown preset(s) {', '.join(unknown)}; valid presets: {', '.join(PRESETS)}")
        if len(set(value)) != len(value):
            raise ValueError(f"each preset may be listed once, got {value}")
        return value


def parse_presets(text: str, p: float = 0.3) -> AugmentConfig:
    """Build an :class:`AugmentConfig` from a comma-separated preset list, raising :class:`UserError` when invalid."""
    try:
        return AugmentConfig(presets=[name.strip() for name in text.split(",") if name.strip()], p=p)
    except ValidationError as exc:
        raise UserError("invalid --augment", problems=[e["msg"].removeprefix("Value error, ") for e in exc.errors()])
