"""``python -m pipeline.datasets convert|check|preview``: bring road datasets in, check them, preview augmentations.

    convert FORMAT SRC --out DST [--classes road|all|FILE.yaml] [--val-fraction 0.2] [--seed 0] [--link]
            [--overwrite] [--task detect|segment] [--keep-difficult] [--allow-unmapped]
    convert gtsrb SRC --out DST [--crop-roi] [--classes road|all|FILE.yaml] [--val-fraction 0.2] [--seed 0]
            (classify image folders, split by sign track)
    check DATA [--task auto|detect|segment|classify] [--json FILE]     exit 0 clean, 1 errors, 2 bad input
    preview DATA_YAML --augment rain,night --out grid.jpg [--n 12] [--p 1.0] [--imgsz 640] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pipeline.bootstrap import bootstrap
from pipeline.cli import prog
from pipeline.errors import cli_entry

TASKS = ("detect", "segment", "classify")


def _parser() -> argparse.ArgumentParser:
    # light imports only: --help must answer at once; ultralytics, torch and cv2 load in the subcommands
    from pipeline.datasets import FORMATS
    from pipeline.recipe.augment import PRESETS

    parser = argparse.ArgumentParser(prog=prog("datasets"),
                                     description="Bring road datasets in, check them, preview augmentations.")
    sub = parser.add_subparsers(dest="command", required=True)
    conv = sub.add_parser("convert", help="convert a KITTI/BDD100K/Cityscapes/VOC/COCO folder to YOLO format")
    conv.add_argument("format", choices=(*FORMATS, "gtsrb"), help="gtsrb: traffic signs into classify image folders")
    conv.add_argument("src", type=Path, help="the dataset folder as downloaded")
    conv.add_argument("--out", type=Path, required=True, help="new YOLO dataset folder (empty or absent)")
    conv.add_argument("--classes", default="road", help="road (shipped class map), all, or a class map .yaml")
    conv.add_argument("--val-fraction", type=float, default=0.2, help="validation share when no official split")
    conv.add_argument("--seed", type=int, default=0, help="seed of that split")
    conv.add_argument("--link", action="store_true", help="symlink images instead of copying them")
    conv.add_argument("--overwrite", action="store_true", help="replace an earlier conversion in --out")
    conv.add_argument("--task", choices=("detect", "segment"), default="detect", help="boxes or instance polygons")
    conv.add_argument("--keep-difficult", action="store_true", help="VOC: keep objects marked difficult")
    conv.add_argument("--allow-unmapped", action="store_true",
                      help="convert even when the class map drops more than 90%% of the annotations")
    conv.add_argument("--crop-roi", action="store_true", help="gtsrb: crop each image to its sign's ROI")
    check = sub.add_parser("check", help="check a dataset YAML (or classify folder) before training")
    check.add_argument("data", type=Path, help="data.yaml, or the root folder of a classify dataset")
    check.add_argument("--task", choices=("auto", *TASKS), default="auto",
                       help="auto: classify for a folder, segment when the labels hold polygons, else detect")
    check.add_argument("--json", type=Path, help="also write the full report as JSON here")
    prev = sub.add_parser("preview", help="grid of augmented training images with their boxes")
    prev.add_argument("data", type=Path, help="data.yaml")
    prev.add_argument("--augment", required=True, help=f"comma-separated presets: {', '.join(PRESETS)}")
    prev.add_argument("--out", type=Path, required=True, help="image file to write, e.g. grid.jpg")
    prev.add_argument("--n", type=int, default=12, help="number of images")
    prev.add_argument("--p", type=float, default=1.0, help="preset probability (1.0: every tile shows one)")
    prev.add_argument("--imgsz", type=int, default=640, help="training image size")
    prev.add_argument("--seed", type=int, default=0, help="which images and which random effects")
    return parser


def _task(data: Path, task: str) -> str:
    """The task to check: as given, or guessed from the data (folder -> classify, polygons -> segment)."""
    if task != "auto":
        return task
    if data.is_dir():
        return "classify"
    from pipeline.datasets.resolve import has_segment_labels, resolve_dataset

    return "segment" if has_segment_labels(resolve_dataset(data)) else "detect"


def _run(args: argparse.Namespace) -> int:
    """Execute one parsed subcommand; returns the exit code."""
    if args.command == "convert" and args.format == "gtsrb":  # classification: image folders, not YOLO labels
        from pipeline.datasets.convert_gtsrb import convert_gtsrb

        print(convert_gtsrb(args.src, args.out, args.classes, args.val_fraction, args.seed, args.crop_roi, args.link,
                            args.overwrite, args.allow_unmapped).render())
        return 0
    if args.command == "convert":
        from pipeline.datasets.convert import convert
        from pipeline.datasets.source import ReadOptions

        report = convert(args.format, args.src, args.out, args.classes, args.val_fraction, args.seed, args.link,
                         args.overwrite, ReadOptions(args.task, args.keep_difficult), args.allow_unmapped)
        print(report.render())
        return 0
    if args.command == "check":
        from pipeline.datasets.check import check_dataset

        report = check_dataset(args.data, _task(args.data, args.task))
        print(report.render())
        if args.json:
            report.write_json(args.json)
        return 0 if report.ok else 1
    from pipeline.datasets.augment import preview
    from pipeline.recipe.augment import parse_presets

    print(f"wrote {preview(args.data, parse_presets(args.augment, args.p), args.out, args.n, args.imgsz, args.seed)}")
    return 0


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the subcommand."""
    args = _parser().parse_args(argv)
    bootstrap()  # imports Ultralytics (and torch): after parsing, so --help and usage errors stay fast
    return _run(args)


if __name__ == "__main__":
    sys.exit(main())
