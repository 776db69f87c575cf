"""The recipe: one YAML file is one experiment. Parsing and schema validation (``--set`` overrides:
:mod:`pipeline.recipe.overrides`).

Every problem is collected and reported at once, by dotted key with a fix, before any work starts:

>>> from pipeline.recipe.schema import parse_recipe
>>> parse_recipe({"name": "x", "task": "detect", "model": "yolov8n.yaml", "data": "d.yaml",
...               "stages": [{"name": "head", "epochs": 0}]})
Traceback (most recent call last):
pipeline.errors.UserError: invalid recipe <recipe> (1 problem)
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pipeline.errors import UserError
from pipeline.recipe.augment import AugmentConfig
from pipeline.recipe.distill import DistillConfig
from pipeline.recipe.export import ExportConfig
from pipeline.recipe.overrides import apply_overrides
from pipeline.recipe.train_args import MAX_EPOCHS, check_train_args
from pipeline.recipe.video import VideoConfig
from pipeline.textfile import read_yaml

FreezeName = Literal["none", "backbone", "all-but-head"]
FreezeSpec = Union[Annotated[int, Field(ge=0)], list[Annotated[int, Field(ge=0)]], FreezeName]
FOLDER_NAME = r"^[A-Za-z0-9_.-]+$"  # run and stage names become folder names; `.` and `..` are refused apart

class Strict(BaseModel):
    """Base for every recipe section: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


def _plain_folder_name(name: str) -> str:
    if set(name) == {"."}:
        raise ValueError(f"`{name}` is not a folder name of its own: use letters, digits, `_`, `.` or `-`")
    return name


class Stage(Strict):
    """One step of the schedule: train `epochs` with `freeze`, at `lr0 * lr_scale`."""

    name: str = Field(pattern=FOLDER_NAME, description="stage folder name, e.g. head or full")
    freeze: FreezeSpec | None = Field(None, description="freeze spec for this stage; default: the recipe's")
    epochs: int = Field(gt=0, le=MAX_EPOCHS, description="epochs of this stage")
    lr_scale: float = Field(1.0, gt=0, description="multiplies train.lr0 (and warmup_bias_lr) for this stage")
    train: dict[str, Any] = Field(default_factory=dict, description="extra Ultralytics train args for this stage")

    _name_is_plain = field_validator("name")(_plain_folder_name)


class Recipe(Strict):
    """A whole experiment. See docs/recipes.md, "Recipe reference", for every key."""

    name: str = Field(pattern=FOLDER_NAME, description="run folder name: runs/<name>/<timestamp>")
    task: Literal["detect", "segment", "classify"] = Field(description="detect, segment or classify")
    model: str = Field(description="checkpoint (.pt name or path) or architecture (.yaml)")
    data: str = Field(description="dataset YAML (classify: image-folder root), relative to the recipe's folder")
    weights: str | None = Field(None, description="initialise `model` from this checkpoint or state dict")
    freeze: FreezeSpec = Field("none", description="int N (layers 0..N-1), list of indices, or a named part")
    train: dict[str, Any] = Field(default_factory=dict, description="any Ultralytics train argument")
    stages: list[Stage] | None = Field(None, description="schedule; default: one stage named train")
    augment: AugmentConfig | None = Field(None, description="road-condition augmentation presets")
    distill: DistillConfig | None = Field(None, description="distillation from a teacher")
    sweep: dict[str, Any] | None = Field(None, description="grid over recipe keys")
    video: VideoConfig | None = Field(None, description="run the video demo on the final weights")
    export: ExportConfig | None = Field(None, description="export and measure the final weights when the run ends")
    per_image: Literal["final", "epochs"] = Field("final", description="per-image validation records kept: of the "
                                                  "final model (final), or also after every epoch (epochs)")

    _name_is_plain = field_validator("name")(_plain_folder_name)

    @field_validator("data")
    @classmethod
    def _local_data(cls, data: str) -> str:
        if "://" in data:
            raise ValueError(f"URLs are not supported ({data}): download the dataset and give its YAML's path")
        return data

    @field_validator("stages")
    @classmethod
    def _unique_stage_names(cls, stages: list[Stage] | None) -> list[Stage] | None:
        names = [s.name for s in stages or []]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"stage names must be unique, repeated: {duplicated}")
        if stages is not None and not stages:
            raise ValueError("give at least one stage, or leave `stages` out for a single stage")
        return stages


def _fix_for(error_type: str, loc: tuple, message: str) -> str:
    """A short fix for one pydantic error, so each problem line says what to do."""
    key = str(loc[-1]) if loc else ""
    if error_type == "extra_forbidden":
        fields = _fields_at(loc[:-1])
        close = difflib.get_close_matches(key, fields, n=1)
        return f"did you mean `{close[0]}`?" if close else f"remove it; valid keys: {', '.join(fields)}"
    if error_type == "missing":
        return "add this key"
    if key == "freeze" or "freeze" in map(str, loc):
        return "use an int >= 0, a list of layer indices, or one of: none, backbone, all-but-head"
    return "fix the value"


def _fields_at(loc: tuple) -> list[str]:
    """Field names of the recipe section at `loc` (for suggestions), found by walking the schema's models:
    `stages.0` is a Stage, `distill.weights` a DistillWeights, `augment` an AugmentConfig."""
    model: type[BaseModel] = Recipe
    for part in loc:
        field = model.model_fields.get(part) if isinstance(part, str) else None  # an int indexes a list
        model = (_model_in(field.annotation) if field else None) or model
    return list(model.model_fields)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The section model inside a field's type (`X | None`, `list[X]`), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return next((m for m in map(_model_in, get_args(annotation)) if m is not None), None)


def format_validation_error(err: ValidationError) -> list[str]:
    """One `dotted.key: message (fix)` line per pydantic error, de-duplicated across union branches."""
    problems: dict[str, str] = {}
    for e in err.errors():
        loc = tuple(p for p in e["loc"] if not _is_union_tag(p))
        dotted = ".".join(str(p) for p in loc) or "<recipe>"
        if dotted in problems:  # a union reports once per branch; keep the first, the fix covers all
            continue
        problems[dotted] = f"{dotted}: {e['msg']} ({_fix_for(e['type'], loc, e['msg'])})"
    return list(problems.values())


def _is_union_tag(part: object) -> bool:
    """Pydantic puts union branch names (e.g. 'int', "literal['none',...]") into error locations."""
    return isinstance(part, str) and ("[" in part or part in {"int", "list", "str", "float", "bool"})


def load_yaml(path: Path) -> Any:
    """Read a recipe file (see :func:`pipeline.textfile.read_yaml`): every fault of the file is a UserError."""
    return read_yaml(path, "recipe file")


def validate_recipe(raw: Any, origin: str = "<recipe>") -> tuple[Recipe | None, list[str]]:
    """Validate a raw recipe dict against the schema and the Ultralytics train arguments.

    Returns every problem, and the recipe when one can still be built for the checks that need files and the
    model (the keys in error are then left at their defaults), so that one round lists all problems.
    """
    if not isinstance(raw, dict):
        raise UserError(f"{origin}: a recipe is a YAML mapping of keys (name, task, model, data, ...)")
    problems: list[str] = []
    recipe = None
    try:
        recipe = Recipe.model_validate(raw)
    except ValidationError as err:
        problems += format_validation_error(err)
        in_error = {e["loc"][0] for e in err.errors() if e["loc"]}
        optional = {k for k, f in Recipe.model_fields.items() if not f.is_required()}
        droppable = optional | set(raw) - set(Recipe.model_fields)  # unknown keys are dropped too
        if in_error <= droppable:
            try:
                recipe = Recipe.model_validate({k: v for k, v in raw.items() if k not in in_error})
            except ValidationError:
                recipe = None
    train_sections = [("train", raw.get("train"))] + [
        (f"stages.{i}.train", s.get("train")) for i, s in enumerate(raw.get("stages") or []) if isinstance(s, dict)
    ]
    if isinstance(raw.get("distill"), dict):
        train_sections.append(("distill.teacher_train", raw["distill"].get("teacher_train")))
    for where, section in train_sections:
        if isinstance(section, dict):
            problems += check_train_args(section, where)
    return recipe, problems


def raise_problems(origin: str, problems: list[str]) -> None:
    """One UserError listing every problem (nothing when there are none)."""
    if problems:
        raise UserError(f"invalid recipe {origin} ({len(problems)} problem{'s' * (len(problems) != 1)})", problems)


def parse_recipe(raw: Any, origin: str = "<recipe>") -> Recipe:
    """Validate a raw recipe dict (see :func:`validate_recipe`); any problem raises one UserError listing all."""
    recipe, problems = validate_recipe(raw, origin)
    raise_problems(origin, problems)
    assert recipe is not None
    return recipe


def load_recipe(path: Path, overrides: list[str] | None = None) -> tuple[Recipe, Path, list[str]]:
    """Load, override and validate a recipe file: the recipe, the folder its paths resolve against, and the
    problems found so far (preflight adds its own and reports them all at once). Raises when no recipe can be
    built at all.
    """
    raw = load_yaml(path)
    if isinstance(raw, dict):
        apply_overrides(raw, overrides or [])
    recipe, problems = validate_recipe(raw, str(path))
    if recipe is None:
        raise_problems(str(path), problems)
    return recipe, path.resolve().parent, problems
