"""Class maps: which source labels become which output classes, read from editable YAML files.

A class map file lists the output classes in id order and maps source labels onto them; labels it does not list
are dropped (and counted in the conversion report). Source labels match case-insensitively (``Car`` = ``car``)::

    names: [car, pedestrian, cyclist]   # output ids 0, 1, 2
    map:
      Car: car
      Van: car
      Pedestrian: pedestrian

``--classes road`` uses ``pipeline/datasets/classmaps/<format>.yaml``; ``--classes all`` keeps every source class
under its own name; ``--classes FILE.yaml`` reads a team's own map.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.errors import UserError
from pipeline.textfile import read_yaml

CLASSMAP_DIR = Path(__file__).resolve().parent / "classmaps"


@dataclass(frozen=True)
class ClassMap:
    """Output class names (index = class id) and the source label -> output name mapping."""

    names: tuple[str, ...]
    mapping: dict[str, str]
    folded: dict[str, str] = field(init=False, repr=False)  # the mapping by case-folded source label

    def __post_init__(self) -> None:
        object.__setattr__(self, "folded", {k.casefold(): v for k, v in self.mapping.items()})

    def index(self, label: str) -> int | None:
        """Output class id of a source label (an exact match first, else case-insensitive), or None when the map
        drops it."""
        target = self.mapping.get(label) or self.folded.get(label.casefold())
        return None if target is None else self.names.index(target)


def read_classmap(path: Path) -> ClassMap:
    """Load and validate a class map file; every problem is reported at once."""
    raw = read_yaml(path, "class map file")
    if not isinstance(raw, dict):
        raise UserError(f"invalid class map {path}: a mapping with `names` and `map` expected, not "
                        f"{type(raw).__name__}")
    names, mapping = raw.get("names"), raw.get("map")
    problems = []
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        problems.append("`names` must be a non-empty list of class names")
        names = []
    elif len(set(names)) != len(names):
        problems.append(f"`names` repeats a class: {names}")
    if not isinstance(mapping, dict) or not mapping:
        problems.append("`map` must map source labels to entries of `names`")
        mapping = {}
    problems += [f"map: {src!r} -> {dst!r} is not in names" for src, dst in mapping.items() if dst not in names]
    targets: dict[str, set[str]] = {}
    for src, dst in mapping.items():
        targets.setdefault(str(src).casefold(), set()).add(str(dst))
    problems += [f"map: {src!r} differs from another source label only in case but maps elsewhere: {sorted(dsts)}"
                 for src, dsts in targets.items() if len(dsts) > 1]
    if problems:
        raise UserError(f"invalid class map {path}", problems=problems)
    return ClassMap(tuple(names), {str(k): str(v) for k, v in mapping.items()})


def resolve_classmap(spec: str, fmt: str, known: Sequence[str], seen: Iterable[str]) -> ClassMap:
    """Class map for ``--classes SPEC``: ``road`` (the format's shipped map), ``all`` or a YAML file.

    ``all`` keeps the format's known classes in their usual order, followed by any other label found, sorted.
    """
    if spec == "road":
        return read_classmap(CLASSMAP_DIR / f"{fmt}.yaml")
    if spec == "all":
        names = list(known) + sorted(set(seen) - set(known))
        return ClassMap(tuple(names), {n: n for n in names})
    if spec.endswith((".yaml", ".yml")):
        return read_classmap(Path(spec))
    raise UserError(f"--classes must be road, all or a .yaml class map file, got {spec!r}")
