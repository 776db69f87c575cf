"""``--set dotted.key=value`` overrides: applied to a raw recipe (values parsed as YAML), and their file paths
made absolute against the working directory before the recipe's own folder is known."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipeline.errors import UserError
from pipeline.textfile import RefusedDocument, parse_yaml

# Recipe keys that name files. A value typed with --set resolves against the working directory, as a shell user
# expects; a value written in the recipe file resolves against the recipe's folder.
PATH_KEYS = ("data", "model", "weights", "distill.teacher", "video.source", "distill.unlabeled")
SEARCHED_KEYS = ("model", "weights", "distill.teacher")  # a bare name is looked up (ROADTUNE_WEIGHTS, ...) instead


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply `--set dotted.key=value` overrides (values parsed as YAML) to a raw recipe dict, in place."""
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"--set {item!r}: expected KEY=VALUE, e.g. --set train.epochs=1")
        parts = key.split(".")
        node: Any = raw
        for part in parts[:-1]:
            if isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            elif isinstance(node, dict):
                node = node.setdefault(part, {})
            else:
                raise UserError(f"--set {key}: `{part}` is not a section of the recipe")
        leaf = parts[-1]
        parsed = override_value(key, value)
        if isinstance(node, list) and leaf.isdigit() and int(leaf) < len(node):
            node[int(leaf)] = parsed
        elif isinstance(node, dict):
            node[leaf] = parsed
        else:
            raise UserError(f"--set {key}: `{leaf}` is not a key of the recipe")
    return raw


def override_value(key: str, value: str) -> Any:
    """The YAML value of one `--set key=value`; malformed YAML is a UserError that shows the value."""
    try:
        return parse_yaml(value, f"--set {key}") if value else None
    except RefusedDocument:
        raise  # an alias bomb: the value itself is not worth showing
    except UserError as exc:
        raise UserError(f"--set {key}={value}: not a YAML value ({exc}); quote lists, e.g. "
                        f"--set '{key}=[0, 1]'") from None


def cli_paths_absolute(overrides: list[str], cwd: Path | None = None) -> list[str]:
    """`--set` overrides with their file paths made absolute against the working directory.

    A bare checkpoint name (`weights=yolov5n_coco_state_dict.pt`, `model=yolov8n.pt`) stays as it is: it is looked
    up (working directory, $ROADTUNE_WEIGHTS, ...) like one written in a recipe.
    """
    cwd = cwd or Path.cwd()
    out = []
    for item in overrides:
        key, sep, value = item.partition("=")
        path_key = key.removeprefix("sweep.")  # a sweep grid of paths: `sweep.model=[a.yaml, models/b.yaml]`
        parsed = override_value(key, value) if sep and path_key in PATH_KEYS else None
        if isinstance(parsed, list) and all(isinstance(p, str) for p in parsed):  # distill.unlabeled: [a, b]
            item = f"{key}={json.dumps([_against(cwd, path_key, p) for p in parsed])}"
        elif isinstance(parsed, str) and parsed and path_key == key:
            item = f"{key}={_against(cwd, key, parsed)}"
        out.append(item)
    return out


def _against(cwd: Path, key: str, path: str) -> str:
    """`path` absolute against `cwd`, unless it is a URL or a bare checkpoint name that is looked up."""
    bare = key in SEARCHED_KEYS and "/" not in path and not path.startswith(("~", "."))
    return path if bare or "://" in path else str((cwd / Path(path).expanduser()).resolve())
