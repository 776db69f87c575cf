"""``python -m pipeline.video WEIGHTS VIDEO --out DIR [...]``: the video demo's command line."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import get_args

from pydantic import ValidationError

from pipeline.bootstrap import bootstrap
from pipeline.cli import prog
from pipeline.errors import UserError, cli_entry
from pipeline.recipe.video import Backend, Tracker, VideoConfig


def _parser() -> argparse.ArgumentParser:
    defaults = VideoConfig.model_fields
    p = argparse.ArgumentParser(prog=prog("video"),
                                description="Annotated video, per-frame detections and tracks, and FPS for a model.")
    p.add_argument("weights", type=Path, help="Ultralytics .pt checkpoint of a detect or segment model")
    p.add_argument("video", type=Path, help="input video file")
    p.add_argument("--out", type=Path, required=True, help="output folder (a numbered sibling if not empty)")
    p.add_argument("--imgsz", type=int, default=defaults["imgsz"].default,
                   help="inference size in pixels, longest side (default: %(default)s)")
    p.add_argument("--conf", type=float, default=defaults["conf"].default,
                   help="minimum confidence of a detection, 0-1 (default: %(default)s)")
    p.add_argument("--iou", type=float, default=defaults["iou"].default,
                   help="IoU above which NMS merges boxes, 0-1 (default: %(default)s)")
    p.add_argument("--classes", help="comma-separated class names to keep, e.g. car,pedestrian")
    p.add_argument("--track", choices=get_args(Tracker), help="track objects with this Ultralytics tracker")
    p.add_argument("--batch", type=int, default=defaults["batch"].default,
                   help="frames per inference call (default: %(default)s)")
    p.add_argument("--device", help="cpu, 0, ... (default: first GPU if any, else cpu)")
    p.add_argument("--max-frames", type=int, help="stop after this many frames")
    p.add_argument("--no-video", action="store_true", help="skip annotated.mp4 (detections and summary only)")
    p.add_argument("--backend", choices=get_args(Backend),
                   help="inference runtime (default: the fastest installed for the device)")
    return p


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    """Run the video demo and print where its files went."""
    args = _parser().parse_args(argv)
    bootstrap()
    try:
        cfg = VideoConfig(source=args.video, imgsz=args.imgsz, conf=args.conf, iou=args.iou, classes=args.classes,
                          track=args.track, batch=args.batch, device=args.device, max_frames=args.max_frames,
                          save_video=not args.no_video, backend=args.backend)
    except ValidationError as error:
        problems = "; ".join(f"--{'.'.join(map(str, e['loc'])).replace('_', '-')}: {e['msg']}"
                             for e in error.errors())
        raise UserError(f"invalid option: {problems}") from None
    from pipeline.video.run import run_video  # OpenCV and the backends load only for a real run, not --help

    summary = run_video(args.weights, args.video, args.out, cfg)
    skipped = f", {summary['frames_skipped']} skipped" if summary["frames_skipped"] else ""
    print(f"{summary['frames']} frames{skipped} at {summary['fps']} FPS ({summary['backend']}, {summary['device']}): "
          f"{summary['detections']} detections -> {summary['out_dir']}")
    return 0
