"""The dataset check of a run, remembered: a dataset whose files have not changed is not scanned again.

``pipeline.run`` checks the dataset before any work (every image header, label row and Ultralytics' own verdict),
which on a large set repeats, at every run and every sweep point, the scan Ultralytics then does and caches itself.
Like Ultralytics' label cache (``get_hash`` over paths and sizes), the fingerprint here is a hash over every file's
path, size and modification time plus the dataset YAML, the task, the roadtune version and the check's own
source files: listing and stat-ing the
files is all a repeated check costs. Only a check without errors is remembered (a failing run writes nothing), and
only its warnings are kept, to be shown again. ``python -m pipeline.datasets check`` always scans.

The cache folder is ``$ROADTUNE_CACHE`` (default ``~/.cache/roadtune``), one small JSON file per dataset version.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

from pipeline.cache import DATACHECK, cache_root
from pipeline.datasets import check, check_report, images
from pipeline.datasets.check import SPLITS, check_dataset, split_files
from pipeline.datasets.check_report import DatasetReport
from pipeline.errors import UserError
from pipeline.run_folder import write_atomic
from pipeline.textfile import read_json


def cache_dir() -> Path:
    """Where remembered checks live: the datacheck folder of roadtune's cache ($ROADTUNE_CACHE)."""
    return cache_root() / DATACHECK


def _stat_lines(paths: Iterable[Path]) -> Iterable[str]:
    """One line per file: path, size and mtime (ns), or 'missing'."""
    for path in paths:
        try:
            st = path.stat()
            yield f"{path}\t{st.st_size}\t{st.st_mtime_ns}"
        except OSError:
            yield f"{path}\tmissing"


def _files(data_path: Path, task: str) -> list[Path] | None:
    """Every file the check reads, or None when listing them already finds a problem (the full check reports it)."""
    if task == "classify":  # every file of the folders, less the .cache files Ultralytics writes there
        found = (p for p in data_path.rglob("*") if p.is_file() and p.suffix != ".cache")
        return sorted(found) if data_path.is_dir() else None
    from pipeline.datasets.resolve import resolve_dataset

    dataset = resolve_dataset(data_path)
    probe = DatasetReport(str(data_path), task, dataset.names)
    files = [data_path]
    for split in SPLITS:
        if dataset.config.get(split):
            images, labels = split_files(dataset.split_dirs(split), split, probe)
            files += images + labels
    return None if probe.errors else files


def fingerprint(data_path: Path, task: str) -> str | None:
    """A hash that changes whenever a file the check reads changes (None: not cacheable, check in full)."""
    from pipeline import __version__

    files = _files(data_path, task)
    if files is None:
        return None
    digest = hashlib.sha256(f"{__version__}\t{task}\t{data_path}\n".encode())
    checker = [Path(m.__file__) for m in (check, check_report, images)]  # a changed check is a new check
    for line in _stat_lines(checker + files):
        digest.update(line.encode() + b"\n")
    return digest.hexdigest()[:32]


def checked(data_path: Path, task: str) -> tuple[list[str], list[str]]:
    """The dataset check's (errors, warnings), from the cache when the files are unchanged since a clean check."""
    key = fingerprint(data_path, task)
    entry = cache_dir() / f"{key}.json" if key else None
    if entry is not None and entry.is_file():
        try:
            return [], list(read_json(entry, "dataset check cache entry")["warnings"])
        except (UserError, KeyError, TypeError):
            pass  # an unreadable entry is checked again and rewritten
    report = check_dataset(data_path, task)
    if entry is not None and not report.errors:
        try:
            entry.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(entry, json.dumps({"data": str(data_path), "task": task, "warnings": report.warnings}))
        except OSError:
            pass  # a read-only home only costs the next run a full check
    return report.errors, report.warnings
