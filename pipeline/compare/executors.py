"""Sweep executors: run each point as a child process, one after another, one per GPU, or as Ray tasks.

Every point is ``python -m pipeline.run <point>/recipe.yaml --run-dir <point>`` in its own process, so a crash is
isolated, memory is measured per point, and ``CUDA_VISIBLE_DEVICES`` can be set per child. The child resumes an
interrupted point on its own (``runner.execute`` is idempotent). Each finished child leaves ``status.json``.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pipeline
from pipeline.errors import UserError
from pipeline.run_folder import POINT_CONSOLE, POINT_STATUS, RECIPE

LOG = logging.getLogger("roadtune")
Executor = Callable[[list[Path]], Iterator["PointResult"]]


@dataclass
class PointResult:
    """How a point's child process ended."""

    point: str
    returncode: int
    error: str | None
    wall_s: float
    peak_rss_mb: float
    device: str | None

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def last_error(console: Path) -> str:
    """The line that says why a child failed: roadtune's `error:` line, else the last line (a traceback's)."""
    lines = [ln.strip() for ln in console.read_text(errors="replace").splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error:")]
    return (errors or lines or ["no output"])[-1][:400]


def _die_with_parent() -> None:
    """In the child, before exec: Linux kills it when the sweep process dies (even by SIGKILL), so an orphaned
    point never trains on beside a re-run of the sweep.
    """
    import ctypes
    import signal

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def run_point(point_dir: Path, device: str | None = None) -> PointResult:
    """Run one point's child process to its end; output goes to console.txt in the point folder."""
    env = dict(os.environ)
    package_root = str(Path(pipeline.__file__).resolve().parents[1])  # the child imports this same `pipeline`
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    if device is not None:
        env["CUDA_VISIBLE_DEVICES"] = "" if device == "cpu" else device
    cmd = [sys.executable, "-m", "pipeline.run", str(point_dir / RECIPE), "--run-dir", str(point_dir)]
    start = time.perf_counter()
    with (point_dir / POINT_CONSOLE).open("ab") as console:
        proc = subprocess.Popen(cmd, stdout=console, stderr=subprocess.STDOUT, env=env,
                                preexec_fn=_die_with_parent if sys.platform == "linux" else None)
        # wait4 gives this child's own resource usage (peak RSS), which Popen.wait does not.
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    error = None if proc.returncode == 0 else last_error(point_dir / POINT_CONSOLE)
    return PointResult(point_dir.name, proc.returncode, error, round(time.perf_counter() - start, 2),
                       round(usage.ru_maxrss / 1024, 1), device)


def sequential(point_dirs: list[Path]) -> Iterator[PointResult]:
    """One point after another, in this machine's default device."""
    for point_dir in point_dirs:
        yield run_point(point_dir)


def on_devices(devices: list[str]) -> Executor:
    """Points in parallel, one per device (a GPU index, or `cpu`), each child seeing only its own GPU."""

    def execute(point_dirs: list[Path]) -> Iterator[PointResult]:
        free: queue.Queue[str] = queue.Queue()
        for device in devices:
            free.put(device)

        def on_free_device(point_dir: Path) -> PointResult:
            device = free.get()
            try:
                return run_point(point_dir, device)
            finally:
                free.put(device)

        with ThreadPoolExecutor(max_workers=len(devices)) as pool:
            futures = [pool.submit(on_free_device, d) for d in point_dirs]
            for future in as_completed(futures):
                yield future.result()

    return execute


def on_ray(address: str) -> Executor:
    """Points as Ray tasks on the cluster at `address` (one GPU each when the cluster has GPUs).

    The sweep folder must be on a file system every node sees, and roadtune installed on every node.
    """
    try:
        import ray
    except ImportError:
        raise UserError("--ray needs Ray: pip install 'roadtune[ray]'") from None

    def execute(point_dirs: list[Path]) -> Iterator[PointResult]:
        if not ray.is_initialized():
            ray.init(address=None if address == "local" else address)
        gpus = 1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0
        # Ray sets CUDA_VISIBLE_DEVICES for a task that asks for a GPU; the child process inherits it.
        task = ray.remote(num_gpus=gpus, num_cpus=1, max_retries=0)(run_point)
        pending = [task.remote(d) for d in point_dirs]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            yield ray.get(done[0])

    return execute


def choose_executor(devices: str | None, ray_address: str | None, train: dict[str, Any]) -> Executor:
    """The executor for `--devices` / `--ray` (sequential when neither is given)."""
    if devices and ray_address:
        raise UserError("give --devices or --ray, not both (Ray assigns GPUs itself)")
    if (devices or ray_address) and train.get("device") not in (None, ""):
        raise UserError(f"train.device={train['device']!r} conflicts with --devices/--ray, which give each point "
                        "one device: remove train.device (or run without --devices for DDP on several GPUs)")
    if devices:
        return on_devices([d.strip() for d in str(devices).split(",") if d.strip()])
    return on_ray(ray_address) if ray_address else sequential


def run_points(executor: Executor, points_dir: Path, ids: list[str]) -> list[PointResult]:
    """Run the points with `executor`, writing each one's status.json as it ends; return the failed ones."""
    from pipeline.ultralytics_api import TQDM

    failed = []
    results = executor([points_dir / i for i in ids])
    for result in TQDM(results, total=len(ids), desc="sweep points", unit="point"):
        (points_dir / result.point / POINT_STATUS).write_text(json.dumps(asdict(result), indent=2))
        state = "ok" if result.ok else f"FAILED: {result.error}"
        LOG.info(f"point {result.point}: {state} ({result.wall_s:.0f} s, peak RSS {result.peak_rss_mb:.0f} MB)")
        failed += [] if result.ok else [result]
    return failed
