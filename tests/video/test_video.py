"""Video demo: real tiny model, real videos written with OpenCV, real outputs read back."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

os.environ["YOLO_OFFLINE"] = "1"

from conftest import shared_path  # noqa: E402

from pipeline.bootstrap import bootstrap  # noqa: E402
from pipeline.cache import VIDEO_EXPORTS  # noqa: E402
from pipeline.recipe.video import VideoConfig  # noqa: E402
from pipeline.video.backend import installed  # noqa: E402
from pipeline.video.cli import main  # noqa: E402
from pipeline.video.outputs import CSV_COLUMNS, mask_areas  # noqa: E402
from pipeline.video.run import run_video  # noqa: E402

W, H, FPS, FRAMES, IMGSZ = 160, 128, 10.0, 30, 160
CAR, PEDESTRIAN = 0, 1


def scene(i: int) -> tuple[np.ndarray, list[tuple[int, tuple[int, int, int, int]]]]:
    """Frame ``i`` of the synthetic clip: a car driving right and a pedestrian walking down, with their boxes."""
    img = np.full((H, W, 3), 90, np.uint8)
    img[H // 2:] = 60  # road
    car = (4 + 4 * i, 70, 44 + 4 * i, 95)
    ped = (112, 6 + 2 * i, 124, 36 + 2 * i)
    cv2.rectangle(img, car[:2], car[2:], (30, 30, 220), -1)
    cv2.rectangle(img, ped[:2], ped[2:], (220, 120, 30), -1)
    return img, [(CAR, car), (PEDESTRIAN, ped)]


def write_video(path: Path, frames: list[np.ndarray], fourcc: str = "mp4v", fps: float = FPS) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, frames[0].shape[1::-1])
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def read_video(path: Path) -> tuple[list[np.ndarray], float]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while (got := cap.read())[0]:
        frames.append(got[1])
    fps = cap.get(cv2.CAP_PROP_FPS)
    cap.release()
    return frames, fps


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic clip (mp4v, 160x128, 10 FPS, 30 frames)."""
    return write_video(tmp_path_factory.mktemp("clip") / "moving_boxes.mp4", [scene(i)[0] for i in range(FRAMES)])


@pytest.fixture(scope="module")
def weights(clip: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model trained for real, from scratch, on the clip's own decoded frames and known boxes.

    Nothing from shared/: 50 epochs (about 30 s on 2 CPU cores) find the car in every frame at conf >= 0.1 (a
    1-epoch model found nothing at conf 0.05, so the tests that count detections failed without shared/).
    """
    bootstrap(offline=True)
    from ultralytics import YOLO

    root = tmp_path_factory.mktemp("data")
    for split in ("train", "val"):
        (root / "images" / split).mkdir(parents=True)
        (root / "labels" / split).mkdir(parents=True)
    for i, frame in enumerate(read_video(clip)[0]):
        split = "val" if i % 10 == 9 else "train"
        cv2.imwrite(str(root / "images" / split / f"{i:03d}.jpg"), frame)
        rows = [f"{c} {(b[0] + b[2]) / 2 / W:.5f} {(b[1] + b[3]) / 2 / H:.5f} {(b[2] - b[0]) / W:.5f} "
                f"{(b[3] - b[1]) / H:.5f}" for c, b in scene(i)[1]]
        (root / "labels" / split / f"{i:03d}.txt").write_text("\n".join(rows) + "\n")
    (root / "data.yaml").write_text(f"path: {root}\ntrain: images/train\nval: images/val\n"
                                    "names: {0: car, 1: pedestrian}\n")
    model = YOLO("yolov8n.yaml")
    model.train(data=str(root / "data.yaml"), epochs=50, imgsz=IMGSZ, batch=4, workers=0, device="cpu",
                optimizer="AdamW", lr0=0.005, warmup_epochs=0, mosaic=0.0, val=False, plots=False, seed=0,
                project=str(root / "runs"), name="tiny", verbose=False)
    out = root / "tiny.pt"
    shutil.copy2(model.trainer.last, out)
    return out


def detections(rows: pd.DataFrame) -> list[tuple[int, float, list[float]]]:
    """(class, conf, xyxy) sorted by confidence, from detections.csv rows."""
    rows = rows.sort_values("conf", ascending=False)
    return [(int(r.class_id), float(r.conf), [r.x1, r.y1, r.x2, r.y2]) for r in rows.itertuples()]


def result_detections(result) -> list[tuple[int, float, list[float]]]:
    boxes = result.boxes
    found = zip(boxes.cls.int().tolist(), boxes.conf.tolist(), boxes.xyxy.tolist())
    return sorted(found, key=lambda d: -d[1])


def assert_same(a: list, b: list, frame: int) -> None:
    """Same classes, confidences within 0.01, boxes within 0.5 px (the equality rule of the video benchmark)."""
    assert len(a) == len(b), f"frame {frame}: {len(a)} vs {len(b)} detections"
    for (ca, fa, ba), (cb, fb, bb) in zip(a, b):
        assert ca == cb and abs(fa - fb) <= 0.01, f"frame {frame}: {ca} {fa} vs {cb} {fb}"
        assert np.abs(np.array(ba) - np.array(bb)).max() <= 0.5, f"frame {frame}: {ba} vs {bb}"


def run(weights: Path, video: Path, out: Path, **options) -> tuple[dict, pd.DataFrame]:
    cfg = VideoConfig(source=video, **{"imgsz": IMGSZ, "conf": 0.05, "backend": "torch", "device": "cpu", **options})
    summary = run_video(weights, video, out, cfg)
    rows = pd.read_csv(Path(summary["out_dir"]) / "detections.csv", keep_default_na=False)
    return summary, rows


def test_importing_the_config_does_not_import_ultralytics_or_torch() -> None:
    heavy = "{'torch', 'ultralytics'}"
    code = f"import sys, pipeline.video; print(sorted({{m.split('.')[0] for m in sys.modules}} & {heavy}))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.slow
def test_outputs_match_input_and_separate_predictions(weights: Path, clip: Path, tmp_path: Path) -> None:
    summary, rows = run(weights, clip, tmp_path / "out", batch=4)
    out = Path(summary["out_dir"])
    assert sorted(p.name for p in out.iterdir()) == ["annotated.mp4", "detections.csv", "summary.json"]
    assert json.loads((out / "summary.json").read_text()) == summary
    frames, fps = read_video(out / "annotated.mp4")
    assert (len(frames), frames[0].shape[:2], fps) == (FRAMES, (H, W), FPS)
    assert summary["frames"] == FRAMES and summary["frames_skipped"] == 0 and summary["input_fps"] == FPS
    assert summary["detections"] == len(rows) > 0
    assert summary["detections_per_class"] == rows["class_name"].value_counts().sort_index().to_dict()
    assert set(summary["ms_per_frame"]) == {"decode", "inference", "annotate_encode"} and summary["fps"] > 0
    assert rows["frame"].is_monotonic_increasing and (rows["track_id"] == "").all()
    assert np.allclose(rows["time_s"], rows["frame"] / FPS)
    from ultralytics import YOLO

    model, source = YOLO(weights), read_video(clip)[0]
    for i in (0, 13, FRAMES - 1):  # first, mid-batch, last (a short batch)
        alone = model.predict(source[i], imgsz=IMGSZ, conf=0.05, device="cpu", verbose=False)[0]
        assert_same(detections(rows[rows["frame"] == i]), result_detections(alone), i)


@pytest.mark.slow
def test_tracking_gives_the_moving_car_one_id(weights: Path, clip: Path, tmp_path: Path) -> None:
    summary, rows = run(weights, clip, tmp_path / "out", conf=0.1, track="bytetrack")
    cars = rows[(rows["class_name"] == "car") & (rows["track_id"] != "")]
    main_id = cars["track_id"].mode()[0]
    car = cars[cars["track_id"] == main_id].drop_duplicates("frame")
    assert len(car) >= 0.8 * FRAMES, f"the car's track covers {len(car)} of {FRAMES} frames"
    centres = ((car["x1"] + car["x2"]) / 2).to_numpy()
    assert np.all(np.diff(centres) > 0), "the tracked box moves right with the car"
    truth = np.array([(scene(i)[1][0][1][0] + scene(i)[1][0][1][2]) / 2 for i in car["frame"]])
    assert np.abs(centres - truth).max() < 12
    assert summary["unique_tracks_per_class"]["car"] == cars["track_id"].nunique()


@pytest.mark.slow
def test_cli_never_overwrites_and_filters_classes(weights: Path, clip: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "demo"
    argv = [str(weights), str(clip), "--out", str(out), "--imgsz", str(IMGSZ), "--conf", "0.05", "--backend",
            "torch", "--device", "cpu", "--max-frames", "6", "--no-video", "--classes", "car"]
    assert main(argv) == 0
    first = (out / "detections.csv").read_bytes()
    assert main(argv + ["--track", "botsort"]) == 0
    assert (out / "detections.csv").read_bytes() == first
    assert sorted(p.name for p in out.iterdir()) == ["detections.csv", "summary.json"]
    sibling = json.loads((tmp_path / "demo-2" / "summary.json").read_text())
    assert sibling["out_dir"] == str(tmp_path / "demo-2") and sibling["tracker"] == "botsort"
    assert sibling["frames"] == 6 and sibling["files"]["video"] is None
    for folder in (out, tmp_path / "demo-2"):
        rows = pd.read_csv(folder / "detections.csv")
        assert set(rows["class_name"]) <= {"car"} and rows["frame"].max() <= 5
    assert "demo-2" in capsys.readouterr().out


def exports_in(cache: Path, suffix: str = "") -> list[Path]:
    """The video exports of model.pt in the cache folder `cache` ($ROADTUNE_CACHE)."""
    folder = cache / VIDEO_EXPORTS
    return sorted(p for p in folder.iterdir() if p.name.startswith("model.") and p.name.endswith(suffix)) \
        if folder.is_dir() else []


@pytest.fixture(scope="module")
def export_home(weights: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the weights as model.pt; the export tests share the cache folder `cache` beside it."""
    return Path(shutil.copy2(weights, tmp_path_factory.mktemp("exports") / "model.pt"))


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["onnx", "openvino"])
def test_exported_backend_gives_the_same_detections(export_home: Path, clip: Path, tmp_path: Path,
                                                    backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if not installed(backend):
        pytest.skip(f"{backend} packages not installed (pip install roadtune[export])")
    cache = export_home.parent / "cache"
    monkeypatch.setenv("ROADTUNE_CACHE", str(cache))
    _, reference = run(export_home, clip, tmp_path / "torch", conf=0.2, max_frames=12)
    summary, rows = run(export_home, clip, tmp_path / backend, conf=0.2, max_frames=12, backend=backend)
    assert summary["backend"] == backend and len(rows) > 0
    for i in range(12):
        assert_same(detections(rows[rows["frame"] == i]), detections(reference[reference["frame"] == i]), i)
    assert len(exports_in(cache, {"onnx": ".onnx", "openvino": "_openvino_model"}[backend])) == 1
    assert sorted(p.name for p in export_home.parent.iterdir()) == ["cache", "model.pt"], "nothing beside the weights"


@pytest.mark.slow
def test_export_is_cached_until_the_weights_change(export_home: Path, clip: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    if not installed("onnx"):
        pytest.skip("onnx packages not installed (pip install roadtune[export])")
    import torch

    cache = tmp_path / "cache"
    monkeypatch.setenv("ROADTUNE_CACHE", str(cache))
    local = Path(shutil.copy2(export_home, tmp_path / "model.pt"))
    for cached in exports_in(export_home.parent / "cache", ".onnx"):  # the export test's export, when it ran first
        (cache / VIDEO_EXPORTS).mkdir(parents=True, exist_ok=True)
        shutil.copy2(cached, cache / VIDEO_EXPORTS / cached.name)
    run(local, clip, tmp_path / "first", max_frames=2, backend="onnx")
    (export,) = exports_in(cache)
    stamp = export.stat().st_mtime_ns
    run(local, clip, tmp_path / "again", max_frames=2, backend="onnx")
    assert exports_in(cache) == [export] and export.stat().st_mtime_ns == stamp, "cached export reused"
    checkpoint = torch.load(local, map_location="cpu", weights_only=False)
    torch.save({**checkpoint, "date": "retrained"}, local)  # new content: exported again under a new key
    summary, _ = run(local, clip, tmp_path / "changed", max_frames=2, backend="onnx")
    renewed = [p for p in exports_in(cache) if p != export]
    assert len(renewed) == 1 and export.stat().st_mtime_ns == stamp and summary["frames"] == 2


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file and folder under `folder` (relative path) with its content."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() if p.is_file() else b"<dir>" for p in folder.rglob("*")}


@pytest.mark.slow
def test_video_of_a_finished_run_writes_nothing_into_it(synth_yaml: Path, clip: Path, write_recipe, tiny_train: dict,
                                                        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`python -m pipeline.video <run>/stages/train/weights/best.pt clip`: the export goes to $ROADTUNE_CACHE,
    the finished run folder stays byte for byte as it was."""
    if not installed("onnx"):
        pytest.skip("onnx packages not installed (pip install roadtune[export])")
    from pipeline.run import main as run_main

    monkeypatch.chdir(tmp_path)
    recipe = write_recipe({"name": "tiny", "task": "detect", "model": "yolov8n.yaml", "data": str(synth_yaml),
                           "train": tiny_train})
    assert run_main([str(recipe), "--runs-dir", str(tmp_path / "runs")]) == 0
    (run_dir,) = (tmp_path / "runs" / "tiny").iterdir()
    before = snapshot(run_dir)
    assert "metrics.json" in before and "stages/train/weights/best.pt" in before
    cache = tmp_path / "cache"
    done = subprocess.run([sys.executable, "-m", "pipeline.video", str(run_dir / "stages/train/weights/best.pt"),
                           str(clip), "--out", str(tmp_path / "demo"), "--backend", "onnx", "--device", "cpu",
                           "--max-frames", "2", "--imgsz", "64"], capture_output=True, text=True,
                          env={**os.environ, "ROADTUNE_CACHE": str(cache)}, cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr
    assert snapshot(run_dir) == before
    assert [p.suffix for p in (cache / VIDEO_EXPORTS).iterdir()] == [".onnx"]
    assert json.loads((tmp_path / "demo" / "summary.json").read_text())["frames"] == 2


@pytest.mark.slow
def test_shared_dashcam_clip_keeps_frames_size_and_fps(weights: Path, tmp_path: Path) -> None:
    dashcam = shared_path("video/highway_dashcam_udacity_test_video.mp4")
    summary, rows = run(weights, dashcam, tmp_path / "out", conf=0.01, imgsz=128)
    frames, fps = read_video(Path(summary["out_dir"]) / "annotated.mp4")
    source, source_fps = read_video(dashcam)
    assert (len(frames), frames[0].shape, fps) == (len(source), source[0].shape, source_fps) == (38, (720, 1280, 3), 25)
    assert summary["frames"] == 38 and len(rows) == summary["detections"]
    assert rows[["x1", "x2"]].to_numpy().max() <= 1280 and rows[["y1", "y2"]].to_numpy().max() <= 720


@pytest.mark.slow
def test_frames_failing_to_decode_midway_are_skipped_and_counted(weights: Path, tmp_path: Path) -> None:
    path = write_video(tmp_path / "damaged.avi", [scene(i)[0] for i in range(12)], fourcc="MJPG")
    data = bytearray(path.read_bytes())
    starts = [i for i in range(len(data) - 1) if data[i:i + 2] == b"\xff\xd8"]  # one JPEG per frame
    for k in (5, 6):  # blank out two whole frames in the middle
        end = data.index(b"\xff\xd9", starts[k]) + 2
        data[starts[k]:end] = bytes(end - starts[k])
    path.write_bytes(bytes(data))
    summary, rows = run(weights, path, tmp_path / "out")
    assert (summary["frames"], summary["frames_skipped"], summary["frames_in_container"]) == (10, 2, 12)
    assert len(read_video(Path(summary["out_dir"]) / "annotated.mp4")[0]) == 10
    assert not set(rows["frame"]) & {5, 6}


@pytest.fixture(scope="module")
def seg_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained 2-class yolov8n-seg checkpoint (built from its yaml in a second) that finds instances.

    At init Ultralytics biases the class scores to about 1e-4, so an untrained model finds nothing even at conf
    0.0005; with those biases at 0 its untrained features score every anchor about sigmoid(0) = 0.5, and instances
    with masks of whatever shape the random prototypes give go through NMS and mask postprocessing at the default
    conf, as a trained model's do.
    """
    import torch

    from pipeline.recipe.models import build_model, save_checkpoint

    bootstrap(offline=True)
    torch.manual_seed(0)
    model = build_model("yolov8n-seg.yaml", nc=2)
    for branch in model.model[-1].cv3:  # the class branch of each scale, ending in a 1x1 conv
        torch.nn.init.zeros_(branch[-1].bias)
    return save_checkpoint(model, tmp_path_factory.mktemp("seg") / "seg.pt", {CAR: "car", PEDESTRIAN: "pedestrian"})


def test_a_segment_model_on_the_dashcam_clip_writes_mask_areas(seg_weights: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture) -> None:
    """`python -m pipeline.video SEG.pt clip.mp4`: one row per instance with its mask area, as Ultralytics' own
    masks of those frames give it; the annotated video and a summary naming the task."""
    dashcam = shared_path("video/highway_dashcam_udacity_test_video.mp4")
    out, frames = tmp_path / "demo", 4
    assert main([str(seg_weights), str(dashcam), "--out", str(out), "--imgsz", "96", "--max-frames", str(frames),
                 "--backend", "torch", "--device", "cpu"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    rows = pd.read_csv(out / "detections.csv", keep_default_na=False)
    assert summary["task"] == "segment" and list(rows.columns) == [*CSV_COLUMNS, "mask_area_px"]
    assert len(rows) == summary["detections"] > 0 and rows["mask_area_px"].dtype.kind == "i"
    box_area = (rows["x2"] - rows["x1"]) * (rows["y2"] - rows["y1"])
    assert rows["mask_area_px"].between(0, 1280 * 720).all()
    assert rows["mask_area_px"].sum() <= 1.01 * box_area.sum(), "Ultralytics crops each mask to its box"
    from ultralytics import YOLO

    source = read_video(dashcam)[0][:frames]
    for i, alone in enumerate(YOLO(seg_weights).predict(source, imgsz=96, device="cpu", verbose=False)):
        assert len(alone.masks) == len(alone.boxes) == (rows["frame"] == i).sum(), f"frame {i}"
        assert sorted(rows.loc[rows["frame"] == i, "mask_area_px"]) == sorted(mask_areas(alone)), f"frame {i}"
    drawn, fps = read_video(out / "annotated.mp4")
    assert (len(drawn), drawn[0].shape, fps) == (frames, (720, 1280, 3), 25)
    assert f"{summary['detections']} detections" in capsys.readouterr().out


def bad_inputs(tmp: Path, weights: Path, clip: Path) -> dict[str, tuple[list[str], str]]:
    """Each bad input: the argv and a piece of the expected one-line error."""
    (tmp / "notes.mp4").write_text("not a video at all\n")
    empty = tmp / "empty.avi"  # an AVI keeps its header and stream without frames (an empty mp4 has no stream)
    cv2.VideoWriter(str(empty), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (W, H)).release()
    (tmp / "frame.jpg").write_bytes(cv2.imencode(".jpg", scene(0)[0])[1].tobytes())
    from ultralytics import YOLO

    YOLO("yolov8n-cls.yaml").save(tmp / "classify.pt")
    w, c = str(weights), str(clip)
    return {
        "missing video": ([w, str(tmp / "nope.mp4")], "video not found"),
        "not a video": ([w, str(tmp / "notes.mp4")], "not a video"),
        "image, not video": ([w, str(tmp / "frame.jpg")], "not a video file"),
        "zero frames": ([w, str(empty)], "no decodable frames"),
        "missing weights": ([str(tmp / "nope.pt"), c], "weights not found"),
        "classify weights": ([str(tmp / "classify.pt"), c], "classify model"),
        "unknown class": ([w, c, "--classes", "car,bus"], "unknown class in --classes: bus"),
        "bad option": ([w, c, "--conf", "1.5"], "--conf"),
    }


@pytest.mark.slow
def test_bad_inputs_fail_cleanly(weights: Path, clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    for name, (argv, message) in bad_inputs(tmp_path, weights, clip).items():
        out = tmp_path / f"out_{name.replace(' ', '_')}"
        assert main([*argv, "--out", str(out), "--backend", "torch", "--imgsz", str(IMGSZ)]) == 2, name
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err, (name, err)
        assert not out.exists(), name


def test_cli_subprocess_exit_code_and_no_traceback(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "pipeline.video", str(tmp_path / "w.pt"), str(tmp_path / "v.mp4"),
                           "--out", str(tmp_path / "o")], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 2 and done.stderr.strip() == f"error: video not found: {tmp_path / 'v.mp4'}"


@pytest.mark.slow
def test_a_failed_run_leaves_no_complete_looking_outputs(weights: Path, clip: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.video import outputs

    calls = []

    def annotate_then_fail(result, fps):  # the real annotator, then a failure on the 5th frame (disk full, ...)
        calls.append(1)
        if len(calls) == 5:
            raise OSError("No space left on device")
        return real(result, fps)

    real = outputs.annotate
    monkeypatch.setattr(outputs, "annotate", annotate_then_fail)
    with pytest.raises(OSError):
        run(weights, clip, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
@pytest.mark.parametrize("case", ["under a file", "read-only folder"])
def test_an_unwritable_out_is_a_clean_error(weights: Path, clip: Path, tmp_path: Path, case: str,
                                            capsys: pytest.CaptureFixture) -> None:
    parent = tmp_path / "parent"
    if case == "under a file":
        parent.write_text("a file, not a folder\n")
        cause = f"{parent} is a file, not a folder"
    else:
        if os.geteuid() == 0:
            pytest.skip("running as root: a chmod 0o555 folder is still writable")
        parent.mkdir(mode=0o555)
        cause = f"permission denied on {parent}"
    out = parent / "demo"
    try:
        code = main([str(weights), str(clip), "--out", str(out), "--backend", "torch", "--device", "cpu"])
    finally:
        parent.chmod(0o755)
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error: cannot ") and f"--out {out}: {cause}" in err, err
    assert len(err.splitlines()) == 1 and not out.exists()


@pytest.mark.slow
@pytest.mark.parametrize("workers", [4, 0])  # a pool of draw workers (machines with cores to spare), or inline
def test_parallel_drawing_encodes_every_frame_in_order(weights: Path, clip: Path, tmp_path: Path, workers: int) -> None:
    """Frames drawn by several workers (or inline) come out exactly as drawing and encoding them one by one does."""
    from ultralytics import YOLO

    from pipeline.video.outputs import Outputs, annotate
    from pipeline.video.source import probe

    model = YOLO(weights)
    results = [model.predict(frame, imgsz=IMGSZ, conf=0.05, device="cpu", verbose=False)[0]
               for frame in read_video(clip)[0]]
    assert sum(len(r.boxes) for r in results) > 0
    with Outputs(tmp_path / "pool", probe(clip), save_video=True, workers=workers) as outputs:
        for i, result in enumerate(results):
            outputs.write(i, result, fps=float(i))  # a different overlay on every frame: order shows
        outputs.commit({})
    serial = write_video(tmp_path / "serial.mp4", [annotate(r, float(i)) for i, r in enumerate(results)])
    drawn, expected = read_video(tmp_path / "pool" / "annotated.mp4")[0], read_video(serial)[0]
    assert len(drawn) == len(expected) == FRAMES
    assert all(np.array_equal(a, b) for a, b in zip(drawn, expected))
    assert not any(np.array_equal(a, b) for a, b in zip(expected, expected[1:])), "consecutive frames differ"
    rows = pd.read_csv(tmp_path / "pool" / "detections.csv")
    for i in (0, 13, FRAMES - 1):
        assert_same(detections(rows[rows["frame"] == i]), result_detections(results[i]), i)
