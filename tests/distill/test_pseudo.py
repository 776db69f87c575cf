"""Teacher-labelled frames (distill.unlabeled): the teacher labels video frames and image folders once, the student
trains on labelled + teacher-labelled frames, complete labels are reused, missing sources stop the run."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import cv2
import pytest
import yaml
from conftest import distill_recipe

from pipeline.datasets.images import image_suffixes
from pipeline.datasets.synth import NAMES as SYNTH_NAMES
from pipeline.recipe.distill import DistillConfig
from pipeline.recipe.models import build_model, save_checkpoint


def _write_video(path: Path, images: list[Path], size: tuple[int, int] = (128, 96)) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, size)
    for image in images:
        writer.write(cv2.resize(cv2.imread(str(image)), size))
    writer.release()
    return path


@pytest.fixture(scope="module")
def pseudo_run(tmp_path_factory, synth_yaml, synth_data, teacher_pt) -> tuple[Path, Path]:
    """Roadtune through the runner with a synthetic video (12 frames, 1 in 4 kept) and an image folder unlabeled."""
    from pipeline.run import main

    folder = tmp_path_factory.mktemp("pseudo")
    images = sorted((synth_data.parent / "images" / "train").glob("*"))[:12]
    _write_video(folder / "road.mp4", images)
    still = folder / "stills"
    still.mkdir()
    for image in images[:3]:
        (still / image.name).write_bytes(image.read_bytes())
    recipe = distill_recipe(synth_yaml, str(teacher_pt), unlabeled=["road.mp4", "stills"], every_n_frames=4,
                             conf=1e-4)  # the 1-epoch teacher is not confident of anything yet
    path = folder / "recipe.yaml"
    path.write_text(json.dumps(recipe))
    assert main([str(path), "--runs-dir", str(folder / "runs")]) == 0
    (run,) = (folder / "runs").glob("*/*")
    return run, folder


@pytest.mark.slow
def test_student_trains_on_teacher_labelled_frames(pseudo_run, synth_data):

    run, folder = pseudo_run
    pseudo = run / "pseudo"
    frames = sorted(p.name for p in (pseudo / "images").iterdir())
    assert len([f for f in frames if "road" in f]) == 3 and len([f for f in frames if "stills" in f]) == 3, frames
    labels = {p.stem: p.read_text().split("\n") for p in (pseudo / "labels").glob("*.txt")}
    assert sorted(labels) == sorted(Path(f).stem for f in frames), "one label file per frame"
    per_class = {name: 0 for name in SYNTH_NAMES.values()}
    for lines in labels.values():
        for line in filter(str.strip, lines):
            cls, *box = line.split()
            assert len(box) == 4 and all(0 <= float(v) <= 1 for v in box), line
            per_class[SYNTH_NAMES[int(cls)]] += 1
    counts = json.loads((pseudo / "counts.json").read_text())
    assert counts["per_class"] == per_class and counts["boxes"] == sum(per_class.values()) > 0
    assert counts["frames"] == 6
    assert json.loads((run / "metrics.json").read_text())["teacher_labels"] == counts
    args = yaml.safe_load((run / "stages" / "train" / "args.yaml").read_text())
    assert args["data"] == str(pseudo / "data.yaml")
    merged, original = yaml.safe_load((pseudo / "data.yaml").read_text()), yaml.safe_load(synth_data.read_text())
    root = Path(original.get("path", synth_data.parent))
    assert merged["train"] == [str((root / original["train"]).resolve()), str(pseudo / "images")]
    assert merged["val"] == [str((root / original["val"]).resolve())] and merged["names"] == original["names"]
    recorded = yaml.safe_load((run / "recipe.yaml").read_text())["distill"]["unlabeled"]
    assert recorded == [str(folder / "road.mp4"), str(folder / "stills")], "absolute in the run folder's recipe"


@pytest.mark.slow
def test_complete_labels_are_reused_incomplete_ones_redone(pseudo_run, teacher_pt, synth_yaml):
    """A complete cache (counts.json) is reused untouched; without counts.json (labelling interrupted) it is redone
    from scratch, not appended to (Ultralytics' save_txt appends)."""
    from pipeline.datasets.resolve import resolve_dataset
    from pipeline.distill.pseudo import build_pseudo_set

    run, folder = pseudo_run
    pseudo = run / "pseudo"
    cfg = DistillConfig(teacher=str(teacher_pt), unlabeled=[str(folder / "road.mp4"), str(folder / "stills")],
                        every_n_frames=4, conf=1e-4)
    args = (teacher_pt, cfg, [Path(p) for p in cfg.unlabeled], resolve_dataset(synth_yaml), 64)
    files = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in pseudo.rglob("*") if p.is_file()}
    counts = json.loads((pseudo / "counts.json").read_text())
    assert build_pseudo_set(pseudo, *args).to_json() == counts
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in pseudo.rglob("*") if p.is_file()} == files
    (pseudo / "counts.json").unlink()
    assert build_pseudo_set(pseudo, *args).to_json() == counts
    labels = {p: v[1] for p, v in files.items() if p.suffix == ".txt"}
    assert {p: p.read_bytes() for p in labels} == labels, "same labels, once each"


def test_missing_unlabeled_sources_are_listed_before_any_work(synth_yaml, write_recipe, tmp_path, capsys):
    from pipeline.run import main

    teacher = save_checkpoint(build_model("yolov8n.yaml", nc=5), tmp_path / "t.pt", SYNTH_NAMES)
    (tmp_path / "empty").mkdir()
    recipe = distill_recipe(synth_yaml, str(teacher), unlabeled=["gone.mp4", "also-gone", "empty"])
    runs = tmp_path / "runs"
    assert main([str(write_recipe(recipe)), "--runs-dir", str(runs)]) == 2
    err = capsys.readouterr().err
    assert "distill.unlabeled: 3 of 3 unlabeled sources cannot be read" in err, err
    for needle in (f"not found: {tmp_path / 'gone.mp4'}", f"not found: {tmp_path / 'also-gone'}",
                   f"folder without images ({', '.join(image_suffixes())}): {tmp_path / 'empty'}"):
        assert needle in err, err
    assert "Traceback" not in err and not runs.exists()


def test_labelled_folders_repeat_in_the_merged_train_split(synth_yaml, tmp_path):
    """labeled_repeats lists the labelled folders k times: Ultralytics keeps every listed image, so each labelled
    frame is seen k times per epoch beside the teacher-labelled ones."""
    from pipeline.datasets.resolve import resolve_dataset
    from pipeline.distill.pseudo import merged_data_yaml
    from pipeline.ultralytics_api import BaseDataset

    dataset = resolve_dataset(synth_yaml)
    pseudo = tmp_path / "pseudo" / "images"
    pseudo.mkdir(parents=True)
    labelled = dataset.split_dirs("train")
    (pseudo / "frame.jpg").write_bytes(next(labelled[0].glob("*.jpg")).read_bytes())
    merged = yaml.safe_load(merged_data_yaml(dataset, pseudo, tmp_path / "data.yaml", 3).read_text())
    assert merged["train"] == [str(d) for d in labelled] * 3 + [str(pseudo)]
    files = BaseDataset.get_img_files(SimpleNamespace(prefix="", fraction=1.0), merged["train"])
    assert len(files) == 3 * len(list(labelled[0].glob("*.jpg"))) + 1
