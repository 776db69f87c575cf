"""What the teacher says about unlabelled frames, and which of its boxes become labels.

The teacher predicts each frame once at its own image size; every box at or above a low floor is kept with its
confidence in ``$ROADTUNE_CACHE/teacher-labels/<key>.jsonl`` (one line per frame, appended per batch of frames), so
an interrupted labelling resumes where it stopped and runs that share teacher, frames and image size reuse it. The
label policy (per-class thresholds, uncertain boxes) is applied afterwards, without the teacher.

>>> label_line([2, 0.91, 0.5, 0.25, 0.1, 0.2])
'2 0.500000 0.250000 0.100000 0.200000'
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

from pipeline.cache import TEACHER_LABELS, cache_root
from pipeline.textfile import MAX_ANNOTATION_BYTES, read_text

PREDICT_BATCH = 16  # frames per teacher call: bounds memory on long videos
FLOOR = 0.05  # the lowest confidence kept in the cache; a lower conf or ignore_conf lowers it
IGNORE_FILL = 114  # Ultralytics' letterbox grey: the colour of "nothing to learn here"
Box = list[float]  # [class, confidence, cx, cy, w, h], coordinates normalised to the frame


def teacher_imgsz(teacher: Path, given: int | None, student: Any) -> Any:
    """The size the teacher labels at: `given`, else the size it was trained at, else the student's."""
    if given:
        return given
    from ultralytics import YOLO

    return YOLO(str(teacher)).overrides.get("imgsz") or student


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_file(teacher: Path, sources: list[Path], every_n_frames: int, imgsz: Any, floor: float) -> Path:
    """The predictions file for this teacher (by content), these sources (path, size, mtime), frame rate, size."""
    stats = [[str(s), s.stat().st_size, s.stat().st_mtime_ns] for s in sources]
    for source in (s for s in sources if s.is_dir()):
        stats += [[str(p), p.stat().st_size, p.stat().st_mtime_ns] for p in sorted(source.rglob("*")) if p.is_file()]
    key = json.dumps([_file_digest(teacher), stats, every_n_frames, imgsz, floor])
    return cache_root() / TEACHER_LABELS / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.jsonl"


def _read_cache(path: Path) -> dict[str, dict[str, Any]]:
    """Frame name -> its record; a last line cut short by a kill is ignored (that frame is predicted again)."""
    records = {}
    if path.is_file():
        for line in read_text(path, "teacher label cache", MAX_ANNOTATION_BYTES).splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            records[record["frame"]] = record
    return records


def _ends_with_newline(path: Path) -> bool:
    """Whether a non-empty file's last byte is a newline (read alone: the cache of a long pool is large)."""
    with path.open("rb") as fh:
        fh.seek(-1, 2)
        return fh.read(1) == b"\n"


def predict_frames(teacher: Path, frames: list[Path], imgsz: Any, floor: float, cache: Path) -> dict[str, Any]:
    """The teacher's boxes (>= `floor`) of every frame, from `cache` where there, predicted and appended otherwise;
    also the seconds the teacher took over all frames (as recorded when each was predicted)."""
    from pipeline.ultralytics_api import TQDM

    records = _read_cache(cache)
    todo = [f for f in frames if f.name not in records]
    if todo:
        from ultralytics import YOLO

        model = YOLO(str(teacher))
        cache.parent.mkdir(parents=True, exist_ok=True)
        with cache.open("a") as out:
            if out.tell() and not _ends_with_newline(cache):
                out.write("\n")  # a line cut short by a kill stays a line of its own, skipped when read
            for start in TQDM(range(0, len(todo), PREDICT_BATCH), desc=f"teacher labels {len(todo)} frames"):
                chunk = todo[start:start + PREDICT_BATCH]
                tic = time.perf_counter()
                results = model.predict([str(f) for f in chunk], conf=floor, imgsz=imgsz, verbose=False)
                seconds = (time.perf_counter() - tic) / len(chunk)
                for frame, result in zip(chunk, results):
                    boxes = result.boxes
                    rows = [[int(c), round(float(p), 4), *(round(float(v), 6) for v in xywh)]
                            for c, p, xywh in zip(boxes.cls, boxes.conf, boxes.xywhn)]
                    records[frame.name] = {"frame": frame.name, "s": round(seconds, 5), "boxes": rows}
                    out.write(json.dumps(records[frame.name]) + "\n")
                out.flush()
    return {"boxes": {f.name: records[f.name]["boxes"] for f in frames},
            "seconds": sum(records[f.name]["s"] for f in frames)}


def class_thresholds(conf: float | str, teacher: Path, data_yaml: Path, imgsz: Any, names: dict[int, str],
                     out: Path) -> dict[int, float]:
    """Each class's label threshold: `conf` for all, or (`f1`) the confidence where the teacher's F1 on the
    dataset's val split peaks for that class (classes absent from val: the peak of the mean F1)."""
    if not isinstance(conf, str):
        return dict.fromkeys(names, float(conf))
    from ultralytics import YOLO

    from pipeline.ultralytics_api import smooth

    metrics = YOLO(str(teacher)).val(data=str(data_yaml), imgsz=imgsz, batch=16, plots=False, verbose=False,
                                     project=str(out.parent), name=out.name, exist_ok=True, workers=0)
    box = metrics.box
    best = float(box.px[smooth(box.f1_curve.mean(0), 0.1).argmax()])
    per_class = {int(c): float(box.px[smooth(row, 0.1).argmax()]) for c, row in zip(box.ap_class_index, box.f1_curve)}
    return {i: round(per_class.get(i, best), 3) for i in names}


def label_line(box: Box) -> str:
    """A YOLO label line from a cached box."""
    return f"{int(box[0])} " + " ".join(f"{v:.6f}" for v in box[2:6])


def _fill(image: Any, boxes: list[Box], value: Any) -> None:
    """Write `value` (a colour, or an image of the same size) into the boxes' pixels."""
    height, width = image.shape[:2]
    for _, _, cx, cy, w, h in boxes:
        x1, y1 = max(int((cx - w / 2) * width), 0), max(int((cy - h / 2) * height), 0)
        x2, y2 = min(int(round((cx + w / 2) * width)), width), min(int(round((cy + h / 2) * height)), height)
        image[y1:y2, x1:x2] = value if isinstance(value, int) else value[y1:y2, x1:x2]


def write_labels(boxes: dict[str, list[Box]], thresholds: dict[int, float], ignore_conf: float | None,
                 images: Path, labels: Path) -> int:
    """Label files from the boxes at or above their class threshold (an empty file: a background frame); with
    `ignore_conf`, the boxes between it and the threshold are painted grey in the frame, kept boxes restored on
    top. Returns the number of boxes painted out."""
    import cv2

    labels.mkdir(parents=True, exist_ok=True)
    ignored = 0
    for name, frame_boxes in boxes.items():
        kept = [b for b in frame_boxes if b[1] >= thresholds[int(b[0])]]
        unsure = [b for b in frame_boxes if ignore_conf is not None and ignore_conf <= b[1] < thresholds[int(b[0])]]
        (labels / f"{Path(name).stem}.txt").write_text("".join(label_line(b) + "\n" for b in kept))
        if unsure:
            image = cv2.imread(str(images / name))
            original = image.copy()
            _fill(image, unsure, IGNORE_FILL)
            _fill(image, kept, original)  # an uncertain box overlapping a kept one must not erase it
            cv2.imwrite(str(images / name), image)
            ignored += len(unsure)
    return ignored
