"""Sweep executors: run each point as a child process, one after another, one per GPU, or as Ray tasks.

Every point is ``python -m pipeline.sweep.worker <point>`` in its own process, so a crash is
isolated, memory is measured per point, and ``CUDA_VISIBLE_DEVICES`` can be set per child. The child resumes an
interrupted point on its own (``runner.execute`` is idempotent). Each finished child leaves ``status.json``.
"""

from __future__ import annotations

import logging
import os
import queue
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import pipeline
from pipeline.errors import UserError
from pipeline.records import PointStatus
from pipeline.run_folder import POINT_CONSOLE

LOG = logging.getLogger("roadtune")
PRESTART_ENV = "ROADTUNE_PRESTART"
PRESTART_MIN_CPUS = 8  # below this, a child's imports would take CPU from the training beside it
Executor = Callable[[list[Path]], Iterator[PointStatus]]  # how each point's process ended, as it ends


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


def start_point(point_dir: Path, device: str | None = None, wait_for_go: bool = False) -> subprocess.Popen:
    """Start one point's child process, its output into console.txt in the point folder. With `wait_for_go`
    the child imports what a run needs, then waits for a line `go` on its stdin (see :func:`sequential`)."""
    env = dict(os.environ)
    package_root = str(Path(pipeline.__file__).resolve().parents[1])  # the child imports this same `pipeline`
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    if device is not None:
        env["CUDA_VISIBLE_DEVICES"] = "" if device == "cpu" else device
    cmd = [sys.executable, "-m", "pipeline.sweep.worker", str(point_dir)]
    with (point_dir / POINT_CONSOLE).open("ab") as console:
        return subprocess.Popen(cmd + (["--wait-for-go"] if wait_for_go else []), stdout=console,
                                stderr=subprocess.STDOUT, env=env, stdin=subprocess.PIPE if wait_for_go else None,
                                preexec_fn=_die_with_parent if sys.platform == "linux" else None)


def finish_point(proc: subprocess.Popen, point_dir: Path, device: str | None, start: float,
                 block: bool = True) -> PointStatus | None:
    """Wait for a point's child to end (without `block`: None while it runs); its result, with the wall time since
    `start`."""
    # wait4 gives this child's own resource usage (peak RSS), which Popen.wait does not.
    pid, status, usage = os.wait4(proc.pid, 0 if block else os.WNOHANG)
    if pid == 0:
        return None
    proc.returncode = os.waitstatus_to_exitcode(status)
    error = None if proc.returncode == 0 else last_error(point_dir / POINT_CONSOLE)
    return PointStatus(point=point_dir.name, returncode=proc.returncode, error=error,
                       wall_s=round(time.perf_counter() - start, 2), peak_rss_mb=round(usage.ru_maxrss / 1024, 1),
                       device=device)


def run_point(point_dir: Path, device: str | None = None) -> PointStatus:
    """Run one point's child process to its end; output goes to console.txt in the point folder."""
    start = time.perf_counter()
    return finish_point(start_point(point_dir, device), point_dir, device, start)


def _go(proc: subprocess.Popen, go: bool = True) -> None:
    """Let a waiting child run (`go`), or let it exit untouched (stdin closed without `go`)."""
    try:
        if go:
            proc.stdin.write(b"go\n")
        proc.stdin.close()
    except BrokenPipeError:  # the child already ended (e.g. killed): its exit status says so
        pass


def prestart_points() -> bool:
    """Whether the next point's child starts while the current one trains: on machines with cores to spare (its
    imports would slow a training on a small CPU); $ROADTUNE_PRESTART=1/0 forces it on or off."""
    forced = os.environ.get(PRESTART_ENV)
    return forced == "1" if forced in ("0", "1") else (os.cpu_count() or 1) >= PRESTART_MIN_CPUS


def sequential(point_dirs: list[Path]) -> Iterator[PointStatus]:
    """One point after another, in this machine's default device. With :func:`prestart_points`, the next point's
    child is started (python, torch and Ultralytics imported) while the current one trains, and told to go when it
    ends: a point's wall time (from its go) then holds no interpreter start-up and imports."""
    if not prestart_points():
        for point_dir in point_dirs:
            yield run_point(point_dir)
        return
    waiting = start_point(point_dirs[0], wait_for_go=True) if point_dirs else None
    try:
        for i, point_dir in enumerate(point_dirs):
            current, start = waiting, time.perf_counter()
            _go(current)
            waiting = start_point(point_dirs[i + 1], wait_for_go=True) if i + 1 < len(point_dirs) else None
            yield finish_point(current, point_dir, None, start)
    finally:
        if waiting is not None and waiting.poll() is None:  # stopped early: the waiting child exits untouched
            _go(waiting, go=False)
            waiting.wait()


def on_devices(devices: list[str]) -> Executor:
    """Points in parallel, one per device (a GPU index, or `cpu`), each child seeing only its own GPU."""

    def execute(point_dirs: list[Path]) -> Iterator[PointStatus]:
        free: queue.Queue[str] = queue.Queue()
        for device in devices:
            free.put(device)

        def on_free_device(point_dir: Path) -> PointStatus:
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

    def execute(point_dirs: list[Path]) -> Iterator[PointStatus]:
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


def run_points(executor: Executor, points_dir: Path, ids: list[str]) -> list[PointStatus]:
    """Run the points with `executor`, writing each one's status.json as it ends; return the failed ones."""
    from pipeline.ultralytics_api import TQDM

    failed = []
    results = executor([points_dir / i for i in ids])
    for result in TQDM(results, total=len(ids), desc="sweep points", unit="point"):
        result.write(points_dir / result.point)
        state = "ok" if result.ok else f"FAILED: {result.error}"
        LOG.info(f"point {result.point}: {state} ({result.wall_s:.0f} s, peak RSS {result.peak_rss_mb:.0f} MB)")
        failed += [] if result.ok else [result]
    return failed
