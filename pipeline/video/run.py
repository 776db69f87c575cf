"""``run_video``: check the inputs, then stream the clip through the pipeline into the run folder."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.recipe.video import VideoConfig
from pipeline.video.backend import Detector, load_detector
from pipeline.video.outputs import DETECTIONS, VIDEO, Outputs, claim_out_dir
from pipeline.video.source import FrameReader, VideoInfo, probe
from pipeline.video.stream import Pipeline


def run_video(weights: Path, source: Path, out: Path, cfg: VideoConfig) -> dict[str, Any]:
    """Write ``annotated.mp4``, ``detections.csv`` and ``summary.json`` for ``source`` into ``out``.

    Every input is checked (UserError) before the output folder is created; ``out`` is never overwritten: when it
    exists and is not empty, a numbered sibling is used, named in the returned summary's ``out_dir``.
    """
    from pipeline.ultralytics_api import TQDM

    info = probe(Path(source))
    out_dir = claim_out_dir(Path(out))  # before the model loads and exports: a bad --out fails at once
    started = time.perf_counter()
    detector = load_detector(Path(weights), cfg)
    detector.warmup(np.zeros((info.height, info.width, 3), np.uint8))
    setup_s = time.perf_counter() - started
    reader = FrameReader(info, cfg.max_frames)
    pipeline = Pipeline(reader, detector, cfg.batch)
    done = 0
    with Outputs(out_dir, info, cfg.save_video, task=detector.task) as outputs, \
            TQDM(total=reader.limit, desc=f"video {info.path.name}", unit="frame") as bar:
        start = time.perf_counter()
        for index, result in pipeline:
            done += 1
            outputs.write(index, result, done / (time.perf_counter() - start))
            bar.update(1)
        outputs.flush()
        elapsed = time.perf_counter() - start
        stages = {"decode": reader.seconds, "inference": pipeline.infer_seconds, "annotate_encode": outputs.seconds}
        summary = _summary(cfg, weights, detector, info, reader, outputs, out_dir, elapsed, stages)
        summary["setup_s"] = round(setup_s, 2)
        outputs.commit(summary)
    return summary


def _summary(cfg: VideoConfig, weights: Path, detector: Detector, info: VideoInfo, reader: FrameReader,
             outputs: Outputs, out_dir: Path, elapsed: float, stages: dict[str, float]) -> dict[str, Any]:
    """The figures of ``summary.json``: counts, speeds per stage, and what ran."""
    frames = reader.decoded
    return {
        "frames": frames,
        "frames_skipped": reader.skipped,
        "frames_in_container": info.frames,
        "input_fps": round(info.fps, 3),
        "width": info.width,
        "height": info.height,
        "fps": round(frames / elapsed, 2) if elapsed > 0 else None,
        "elapsed_s": round(elapsed, 3),
        "ms_per_frame": {k: round(1000 * v / max(frames, 1), 2) for k, v in stages.items()},
        "detections": sum(outputs.detections.values()),
        "detections_per_class": dict(sorted(outputs.detections.items())),
        "unique_tracks_per_class": {k: len(v) for k, v in sorted(outputs.tracks.items())} if cfg.track else None,
        "model": str(weights),
        "task": detector.task,
        "backend": detector.backend,
        "device": detector.device,
        "imgsz": cfg.imgsz,
        "batch": cfg.batch,
        "conf": cfg.conf,
        "iou": cfg.iou,
        "classes": cfg.classes,
        "tracker": cfg.track,
        "source": str(info.path),
        "out_dir": str(out_dir),
        "files": {"video": VIDEO if cfg.save_video else None, "detections": DETECTIONS},
    }
