"""One reader for every text file roadtune reads: recipes, dataset YAMLs, class maps, label and annotation files,
and the JSON and YAML files of run folders.

A file that is missing, a folder, unreadable, larger than its limit, binary, UTF-16 or otherwise not UTF-8 is a
:class:`~pipeline.errors.UserError` naming the file and what it holds, so no entry point ends in a traceback:

>>> from pathlib import Path
>>> import tempfile
>>> bad = Path(tempfile.mkdtemp()) / "recipe.yaml"
>>> _ = bad.write_bytes(bytes(range(256)) * 2)
>>> read_text(bad, "recipe")
Traceback (most recent call last):
pipeline.errors.UserError: .../recipe.yaml: the recipe is not UTF-8 text (looks binary, 512 bytes)

YAML is read by a loader that refuses documents whose aliases expand past :data:`MAX_YAML_NODES` values (an
"alias bomb" of nested anchors is a few hundred bytes and expands to billions of values), before anything is
built from them.
"""

from __future__ import annotations

import codecs
import json
import os
import re
import stat
from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import UserError

MAX_TEXT_BYTES = 64 * 2**20  # recipes, dataset YAMLs, class maps, label files, run-folder files: far below this
MAX_ANNOTATION_BYTES = 4 * 2**30  # dataset-wide annotation files (COCO instances, BDD100K labels are ~1 GB)
MAX_YAML_NODES = 100_000  # values a YAML document may hold once its aliases are expanded; a recipe holds < 1,000
_CHUNK = 2**20
_SIGNATURES = {b"PK\x03\x04": "a zip archive", b"\x1f\x8b": "a gzip archive", b"\x89PNG": "a PNG image",
               b"\xff\xd8\xff": "a JPEG image", b"%PDF": "a PDF document", b"\x7fELF": "a program"}


def _checked_size(path: Path, what: str, limit: int) -> int:
    """The size of a regular, readable file of at most `limit` bytes; else a UserError saying what it is."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise UserError(f"{what} not found: {path}") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read the {what} ({exc.strerror})") from None
    if stat.S_ISDIR(info.st_mode):
        raise UserError(f"{path} is a folder, not a {what}")
    if not stat.S_ISREG(info.st_mode):
        raise UserError(f"{path} is not a regular file (a device, pipe or socket), not a {what}")
    if info.st_size > limit:
        raise UserError(f"{path}: {info.st_size:,} bytes is too large for a {what} (at most {limit:,})")
    if not os.access(path, os.R_OK):
        raise UserError(f"{path}: cannot read the {what} (permission denied)")
    return info.st_size


def _not_text(path: Path, what: str, head: bytes, size: int, exc: UnicodeDecodeError | None) -> UserError:
    """What a file that does not decode as UTF-8 holds, as far as its first bytes tell."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        held = "UTF-16 text; save it as UTF-8"
    elif kind := next((name for magic, name in _SIGNATURES.items() if head.startswith(magic)), None):
        held = f"{kind}, {size:,} bytes"
    elif b"\0" in head or exc is None or sum(b < 9 or 13 < b < 32 for b in head[:512]) > len(head[:512]) // 20:
        held = f"looks binary, {size:,} bytes"
    else:
        held = f"byte 0x{exc.object[exc.start]:02x} at offset {exc.start:,}; save it as UTF-8"
    return UserError(f"{path}: the {what} is not UTF-8 text ({held})")


def read_bytes(path: Path, what: str, limit: int = MAX_TEXT_BYTES) -> bytes:
    """The bytes of a regular file of at most `limit` bytes (e.g. XML, which declares its own encoding)."""
    path = Path(path)
    _checked_size(path, what, limit)
    try:
        with path.open("rb") as fh:
            data = fh.read(limit + 1)  # a file that grows while read is still capped
    except OSError as exc:
        raise UserError(f"{path}: cannot read the {what} ({exc.strerror})") from None
    if len(data) > limit:
        raise UserError(f"{path}: more than {limit:,} bytes is too large for a {what}")
    return data


def read_text(path: Path, what: str, limit: int = MAX_TEXT_BYTES) -> str:
    """A UTF-8 text file (a leading byte-order mark is dropped); anything else is a UserError naming the file."""
    data = read_bytes(path, what, limit)
    if b"\0" in data[:4096] and not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise _not_text(Path(path), what, data[:4096], len(data), None)  # NUL is valid UTF-8 but never text
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _not_text(Path(path), what, data[:4096], len(data), exc) from None


def check_text(path: Path, what: str, limit: int = MAX_ANNOTATION_BYTES) -> None:
    """Refuse a file :func:`read_text` would refuse, without holding it in memory (for files another library
    parses, e.g. COCO instances files that Ultralytics' converter reads)."""
    path = Path(path)
    size = _checked_size(path, what, limit)
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    try:
        with path.open("rb") as fh:
            head = fh.read(_CHUNK)
            chunk = head
            while chunk:
                if b"\0" in chunk:
                    raise _not_text(path, what, head, size, None)
                decoder.decode(chunk)
                chunk = fh.read(_CHUNK)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        raise _not_text(path, what, head, size, exc) from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read the {what} ({exc.strerror})") from None


class RefusedDocument(UserError):
    """A YAML document refused for its size once expanded, or its depth: never worth showing back."""


class _ExpansionError(yaml.YAMLError):
    """A YAML document whose aliases expand past MAX_YAML_NODES values (or into themselves)."""


def _expanded_size(node: yaml.Node, sizes: dict[int, int], open_nodes: set[int]) -> int:
    """The values `node` stands for once every alias in it is copied out (aliases share their node object)."""
    key = id(node)
    if key in sizes:
        return sizes[key]
    if key in open_nodes:
        raise _ExpansionError("an alias refers to the value that holds it (a recursive document)")
    open_nodes.add(key)
    children: list[yaml.Node] = []
    if isinstance(node, yaml.SequenceNode):
        children = node.value
    elif isinstance(node, yaml.MappingNode):
        children = [part for pair in node.value for part in pair]
    total = 1
    for child in children:
        total += _expanded_size(child, sizes, open_nodes)
        if total > MAX_YAML_NODES:
            raise _ExpansionError(f"its aliases expand to more than {MAX_YAML_NODES:,} values")
    open_nodes.discard(key)
    sizes[key] = total
    return total


class BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a document whose expanded size exceeds MAX_YAML_NODES before building it, and
    reading `1e-5` as the number YAML 1.2 (and every user) takes it for: PyYAML's YAML 1.1 wants `1.0e-5`."""

    def construct_document(self, node: yaml.Node) -> Any:
        _expanded_size(node, {}, set())
        return super().construct_document(node)


BoundedLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"))


def parse_yaml(text: str, origin: str) -> Any:
    """A YAML document (`origin` names it in errors: a file or `--set key`); malformed YAML, an alias bomb or a
    document nested too deep is a UserError with the line number where there is one."""
    try:
        return yaml.load(text, Loader=BoundedLoader)  # noqa: S506 (a SafeLoader subclass)
    except _ExpansionError as exc:
        raise RefusedDocument(f"{origin}: refused: {exc}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise UserError(f"malformed YAML in {origin}{where}: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise UserError(f"malformed YAML in {origin}: {' '.join(str(exc).split())}") from None
    except RecursionError:
        raise RefusedDocument(f"{origin}: refused: nested too deeply to be a YAML document roadtune reads") from None


def read_yaml(path: Path, what: str) -> Any:
    """A YAML file through :func:`read_text` and :func:`parse_yaml`; an empty document is a UserError."""
    data = parse_yaml(read_text(path, what), str(path))
    if data is None:
        raise UserError(f"{path}: the {what} is empty")
    return data


def read_json(path: Path, what: str, limit: int = MAX_TEXT_BYTES) -> Any:
    """A JSON file through :func:`read_text`; empty or malformed JSON is a UserError with the line number."""
    text = read_text(path, what, limit)
    if not text.strip():
        raise UserError(f"{path}: the {what} is empty")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: the {what} is not valid JSON (line {exc.lineno}, column {exc.colno}: "
                        f"{exc.msg})") from None
    except RecursionError:
        raise UserError(f"{path}: the {what} is nested too deeply to be read") from None
