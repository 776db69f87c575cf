"""Batch from memory (``python -m pipeline.run SWEEP_RECIPE --probe-batch``): per freeze depth of a sweep, the
largest batch whose peak GPU memory fits in what ``freeze: none`` needed at the recipe's batch, and the training
throughput at it beside the one at the recipe's batch.

A measurement is the point's own first-stage Ultralytics training (trainer, freeze, data, image size and
augmentations from :func:`pipeline.execute.loop.stage_runs`) at one batch size, stopped after a few batches; its
output goes to ``<sweep>/probe/<point-id>/``, never into the points. :func:`largest_batch` is the search over such
measurements; ``probe.json`` in the sweep folder is what the report reads.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from pipeline.errors import UserError
from pipeline.recipe.sweep import SweepConfig
from pipeline.records import Probe, ProbePoint
from pipeline.run_folder import PROBE
from pipeline.sweep.grid import Point
from pipeline.train.stages import StageRun

LOG = logging.getLogger("roadtune")
WARMUP, TIMED = 2, 5  # batches: the first ones pay for cuDNN autotuning and the optimizer's state
MAX_FACTOR = 8  # the search looks no further than 8x the recipe's batch (and no further than the train set)
MAX_MEASUREMENTS = 4  # per depth
PROBE_EPOCHS = 1000  # the probe ends its training itself; the epoch count only has to outlast it


@dataclass
class Measurement:
    """One probe training: peak GPU memory (None off CUDA) and images/s of its timed batches; `fits` is False when
    the device ran out of memory at this batch."""

    batch: int
    fits: bool
    peak_mb: float | None = None
    images_per_s: float | None = None
    train_images: int = 0
    device: str = "cpu"


class _Stop(Exception):
    """Raised from a callback to end a probe training (`fits`: the batch ran without running out of memory)."""

    def __init__(self, fits: bool) -> None:
        super().__init__("probe done")
        self.fits = fits


class _BatchClock:
    """Ultralytics callbacks ``fn(trainer)``: memory left over before the trainer builds its model, the peak from
    the start of training (as :class:`pipeline.train.metrics.EpochTimer` counts it), and the time of each batch."""

    def __init__(self, batch: int, warmup: int, timed: int) -> None:
        self.batch, self.warmup, self.timed = batch, warmup, timed
        self.cuda, self.leftover, self.mark, self.index, self.done = False, 0, 0.0, 0, 0
        self.seconds, self.images, self.train_images, self.device, self.torch_device = 0.0, 0, 0, "cpu", None

    def callbacks(self) -> dict[str, Callable[[Any], None]]:
        return {"on_pretrain_routine_start": self.on_pretrain, "on_train_start": self.on_train_start,
                "on_train_epoch_start": self.on_epoch_start, "on_train_batch_end": self.on_batch_end}

    def on_pretrain(self, trainer: Any) -> None:
        self.cuda, self.torch_device = trainer.device.type == "cuda", trainer.device
        if self.cuda:
            self.leftover = torch.cuda.memory_allocated(trainer.device)
            self.device = torch.cuda.get_device_name(trainer.device)

    def on_train_start(self, trainer: Any) -> None:
        self.train_images = len(trainer.train_loader.dataset)
        if self.cuda:
            torch.cuda.reset_peak_memory_stats(trainer.device)

    def _now(self) -> float:
        if self.cuda:
            torch.cuda.synchronize()
        return time.perf_counter()

    def on_epoch_start(self, trainer: Any) -> None:
        self.index, self.mark = 0, self._now()  # an epoch's first batch is timed from here, as EpochTimer does

    def on_batch_end(self, trainer: Any) -> None:
        # Ultralytics 8.4.190 BaseTrainer._do_train halves trainer.batch_size after an OOM in epoch 1 and goes on:
        # that is "does not fit" here, never a measurement of another batch.
        if trainer.batch_size != self.batch:
            raise _Stop(fits=False)
        now = self._now()
        self.done += 1
        if self.done > self.warmup:  # the train loader's batches: full ones, then the rest of the set (8.4.190)
            self.seconds += now - self.mark
            self.images += min(self.batch, self.train_images - self.index * self.batch)
        self.index, self.mark = self.index + 1, now
        if self.done == self.warmup + self.timed:
            raise _Stop(fits=True)

    def peak_mb(self) -> float | None:
        if not self.cuda:
            return None
        return round((torch.cuda.max_memory_allocated(self.torch_device) - self.leftover) / 2**20, 1)


def probe_args(train_args: dict[str, Any], batch: int) -> dict[str, Any]:
    """The point's train arguments at `batch`, into its own folder, with no per-epoch validation or checkpoint."""
    from pipeline.ultralytics_api import DEFAULT_CFG_DICT

    close = train_args.get("close_mosaic", DEFAULT_CFG_DICT["close_mosaic"])
    # Mosaic as in the point's first epoch: Ultralytics 8.4.190 closes it from epoch `epochs - close_mosaic` on.
    closed = bool(close) and train_args["epochs"] <= close
    return {**train_args, "batch": batch, "name": f"batch-{batch}", "epochs": PROBE_EPOCHS,
            "close_mosaic": PROBE_EPOCHS if closed else close, "val": False, "save": False, "plots": False}


def measure_batch(stage_run: StageRun, batch: int, warmup: int = WARMUP, timed: int = TIMED) -> Measurement:
    """Train `stage_run` at `batch` for `warmup` + `timed` batches; out of memory is a Measurement that does not fit."""
    from ultralytics import YOLO

    gc.collect()  # the previous probe's trainer, so that its tensors do not count as this one's
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    model, clock, fits = YOLO(stage_run.start_weights), _BatchClock(batch, warmup, timed), True
    for event, fn in clock.callbacks().items():
        model.add_callback(event, fn)
    ultralytics_log = logging.getLogger("ultralytics")  # a probe's argument and model listings drown its figures
    level = ultralytics_log.level
    ultralytics_log.setLevel(logging.WARNING)
    try:
        model.train(**probe_args(stage_run.train_args, batch))
    except _Stop as stop:
        fits = stop.fits
    except torch.cuda.OutOfMemoryError:  # still out of memory after Ultralytics' own halvings
        fits = False
    finally:
        ultralytics_log.setLevel(level)
        _close_loaders(getattr(model, "trainer", None))
    if not fits:
        return Measurement(batch, False, train_images=clock.train_images, device=clock.device)
    speed = round(clock.images / clock.seconds, 1) if clock.seconds else None
    return Measurement(batch, True, clock.peak_mb(), speed, clock.train_images, clock.device)


def _close_loaders(trainer: Any) -> None:
    """Stop the data loaders' workers of a trainer the probe ended (Ultralytics 8.4.190 closes them only at the
    end of _do_train)."""
    for name in ("train_loader", "test_loader"):
        loader = getattr(trainer, name, None)
        if hasattr(loader, "close"):
            loader.close()


def _multiple_of_8(batch: int) -> int:
    return batch // 8 * 8 if batch >= 8 else batch


def _predict(b0: int, p0: float, b1: int, p1: float | None, budget: float, cap: int) -> int:
    """The largest batch in `budget` on the line through two measurements (memory = fixed + per image x batch)."""
    if p1 is None:  # the device ran out of memory at b1: somewhere between
        return (b0 + b1) // 2
    per_image = (p1 - p0) / (b1 - b0)
    return cap if per_image <= 0 else _multiple_of_8(int(b0 + (budget - p0) / per_image))


def largest_batch(measure: Callable[[int], float | None], default: int, budget: float, cap: int,
                  max_measurements: int = MAX_MEASUREMENTS) -> int:
    """The largest measured batch (up to `cap`) whose peak `measure(batch)` (None: out of memory) is within
    `budget`: measure `default` and twice it, predict from the line through them, verify, step down 10% (to a
    multiple of 8) until one fits. `default` when nothing larger fits; at most `max_measurements` calls.
    """
    peaks: dict[int, float | None] = {}

    def fits(batch: int) -> bool:
        if batch not in peaks:
            peaks[batch] = measure(batch)
        return peaks[batch] is not None and peaks[batch] <= budget

    if not fits(default) or default >= cap or peaks[default] == budget:  # `freeze: none` itself: at its budget
        return default
    second = min(cap, 2 * default)
    best = second if fits(second) else default
    guess = _predict(default, peaks[default], second, peaks[second], budget, cap)
    while len(peaks) < max_measurements:
        failed = [b for b in peaks if not fits(b)]
        guess = min(guess, cap, *(b - 1 for b in failed))
        if guess <= best:
            break
        if fits(guess):
            return guess
        guess = _multiple_of_8(int(guess * 0.9))
    return best


def probe_problems(base: dict[str, Any], config: SweepConfig | None) -> list[str]:
    """Why `--probe-batch` cannot run this sweep (checked with the recipe, before anything is written)."""
    from pipeline.ultralytics_api import DEFAULT_CFG_DICT

    train = base.get("train") if isinstance(base.get("train"), dict) else {}
    grid = config.grid if config else {}
    problems = []
    if str(train.get("device", "")).lower() == "cpu":
        problems.append("--probe-batch: train.device is cpu, but the probe measures peak GPU memory (leave "
                        "train.device out, or give a GPU)")
    elif "," in str(train.get("device", "")):  # DDP trains in worker processes, where the probe's callbacks are not
        problems.append("--probe-batch measures one GPU: give train.device a single GPU (or leave it out)")
    elif not torch.cuda.is_available():
        problems.append("--probe-batch: no CUDA GPU is visible on this machine, and the probe measures peak GPU "
                        "memory (run it where `python -c 'import torch; print(torch.cuda.is_available())'` says True)")
    if "none" not in grid.get("freeze", []):
        problems.append("--probe-batch: sweep.freeze must list `none`: its peak memory is the budget the other "
                        "depths' batches must fit in")
    batch = grid["train.batch"][0] if "train.batch" in grid else train.get("batch", DEFAULT_CFG_DICT["batch"])
    if not isinstance(batch, int) or isinstance(batch, bool) or batch < 1:
        problems.append(f"--probe-batch: train.batch must be a fixed batch size >= 1 to start from, not {batch!r}")
    if base.get("distill"):
        problems.append("--probe-batch measures plain training; a `distill` recipe's students train with a teacher")
    return problems


def depth_points(config: SweepConfig, points: list[Point]) -> list[Point]:
    """One point per freeze value: seed 0, every other swept key at its first value."""
    first = {k: v[0] for k, v in config.grid.items() if k != "freeze"}
    return [p for p in points if p.seed == 0 and all(dict(p.values)[k] == v for k, v in first.items())]


def point_stage_run(recipe: dict[str, Any], base_dir: Path, folder: Path) -> StageRun:
    """A point's first stage as the runner builds it, writing into `folder` (with its init.pt, as the runner)."""
    from pipeline.execute.loop import stage_runs, write_init_weights
    from pipeline.execute.prepare import prepare
    from pipeline.recipe.schema import validate_recipe

    checked, problems = validate_recipe(recipe, str(folder.name))
    prepared = prepare(checked, base_dir, problems)
    folder.mkdir(parents=True, exist_ok=True)
    write_init_weights(prepared, folder)
    return stage_runs(prepared, folder)[0]


def probe_sweep(sweep_dir: Path, config: SweepConfig, points: list[Point],
                resolved: dict[str, tuple[dict[str, Any], str]], base_dir: Path) -> Path:
    """Probe every freeze depth of the sweep (see the module) and write probe.json into its folder."""
    from pipeline.compare.results import freeze_label
    from pipeline.ultralytics_api import DEFAULT_CFG_DICT

    chosen = depth_points(config, points)
    runs = {p.id: point_stage_run(resolved[p.id][0], base_dir, sweep_dir / PROBE / p.id) for p in chosen}
    reference = next(p.id for p in chosen if dict(p.values)["freeze"] == "none")
    default = runs[reference].train_args.get("batch", DEFAULT_CFG_DICT["batch"])
    cache: dict[tuple[str, int], Measurement] = {}

    def measured(point_id: str, batch: int) -> Measurement:
        if (point_id, batch) not in cache:
            m = cache[point_id, batch] = measure_batch(runs[point_id], batch)
            LOG.info(f"probe {point_id} batch {batch}: " + (f"peak {m.peak_mb:,.0f} MB, {m.images_per_s} images/s"
                                                            if m.fits else "out of GPU memory"))
        return cache[point_id, batch]

    base = measured(reference, default)
    if not base.fits:
        raise UserError(f"--probe-batch: freeze none does not fit in GPU memory at batch {default}")
    cap = min(MAX_FACTOR * default, base.train_images)
    entries = []
    for p in chosen:
        batch = largest_batch(lambda b, p=p: measured(p.id, b).peak_mb if measured(p.id, b).fits else None,
                              default, base.peak_mb, cap)
        at_default, at_probe = measured(p.id, default), measured(p.id, batch)
        entries.append(ProbePoint(
            point=p.id, freeze=freeze_label(resolved[p.id][0]), frozen_layers=len(runs[p.id].frozen),
            default_batch=default, default_peak_mb=at_default.peak_mb, default_images_per_s=at_default.images_per_s,
            probe_batch=batch, probe_peak_mb=at_probe.peak_mb, probe_images_per_s=at_probe.images_per_s,
            measurements=[asdict(m) for (pid, _), m in cache.items() if pid == p.id]))
    return Probe(budget_mb=base.peak_mb, device=base.device, default_batch=default, max_batch=cap,
                 warmup_batches=WARMUP, timed_batches=TIMED, points=entries).write(sweep_dir)
