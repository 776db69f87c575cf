"""The comparison report over real tiny runs: repeats, separate tables, incomplete folders; recommendation; advice."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import REPO, copy_shared_dataset, shared_path, write_synth_yaml

from pipeline.compare.__main__ import main as compare_main
from pipeline.compare.plots import pareto_front
from pipeline.compare.recommend import recommend
from pipeline.run import main as run_main

TRAIN = {"epochs": 1, "imgsz": 64, "batch": 8, "workers": 0, "plots": False}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """Three real runs: dataset A with seeds 0 and 1 (repeats of one point), dataset B with seed 0."""
    folder = tmp_path_factory.mktemp("compare")
    data = {"A": write_synth_yaml(folder), "B": write_synth_yaml(folder, train=8, val=8)}
    found = {}
    for key, dataset, seed in [("A0", "A", 0), ("A1", "A", 1), ("B0", "B", 0)]:
        recipe = folder / f"{key}.yaml"
        recipe.write_text(yaml.safe_dump({"name": key, "task": "detect", "model": "yolov8n.yaml",
                                          "data": str(data[dataset]), "train": {**TRAIN, "seed": seed}}))
        assert run_main([str(recipe), "--runs-dir", str(folder / "runs")]) == 0
        (found[key],) = (folder / "runs" / key).iterdir()
    return found


def metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


@pytest.mark.slow
def test_repeats_are_averaged_and_datasets_get_separate_tables(runs, tmp_path):
    assert compare_main([str(runs["A0"]), str(runs["A1"]), str(runs["B0"]), "--out", str(tmp_path)]) == 0
    report = pd.read_csv(tmp_path / "report.csv")
    assert len(report) == 2 and list(report["n"]) == [2, 1]
    assert report["dataset"].str.endswith(("synth-16-8-128x96.yaml", "synth-8-8-128x96.yaml")).all()
    times = pd.Series([metrics(runs[k])["time_per_epoch_s"] for k in ("A0", "A1")])
    assert report.loc[0, "time_per_epoch_s"] == pytest.approx(times.mean())
    assert report.loc[0, "time_per_epoch_s_std"] == pytest.approx(times.std())
    assert pd.isna(report.loc[1, "time_per_epoch_s_std"])
    markdown = (tmp_path / "report.md").read_text()
    assert markdown.count("## detect on") == 2 and markdown.count("**Recommendation**") == 2
    # Neither table recommends anything: 1-epoch runs at 64 px score below the floor (no signal), and even above it
    # the repeats of one point and the single run have no swept key to compare.
    for section, row in zip(markdown.split("## detect on")[1:], report.itertuples()):  # in report.csv order
        assert f"- {'**No signal**' if row.map50_95 < 0.01 else f'one point only ({row.n} run(s))'}" in section
    assert " ± " in markdown and f"[{runs['A1'].name}](" in markdown
    assert (tmp_path / "report.html").read_text().count("data:image/png;base64,") == 10
    assert len(list(tmp_path.glob("*.png"))) == 10


@pytest.mark.slow
def test_incomplete_folder_is_an_error_or_a_listed_skip(runs, tmp_path, capsys):
    unfinished = shutil.copytree(runs["B0"], tmp_path / "unfinished")
    (unfinished / "metrics.json").unlink()
    assert compare_main([str(runs["A0"]), str(unfinished), "--out", str(tmp_path / "r1")]) == 2
    err = capsys.readouterr().err
    assert "no metrics.json" in err and str(unfinished) in err and "--skip-incomplete" in err
    assert not (tmp_path / "r1").exists()

    out = tmp_path / "r2"
    assert compare_main([str(runs["A0"]), str(unfinished), "--out", str(out), "--skip-incomplete", "--no-links"]) == 0
    assert f"skipped (no metrics.json): {unfinished}" in capsys.readouterr().out
    markdown = (out / "report.md").read_text()
    assert "## Skipped" in markdown and str(unfinished) in markdown
    assert f"[{runs['A0'].name}](" not in markdown and runs["A0"].name in markdown  # --no-links: named, not linked
    assert "<a href" not in (out / "report.html").read_text()


def test_not_a_run_folder(tmp_path, capsys):
    assert compare_main([str(tmp_path)]) == 2
    assert "not a run folder" in capsys.readouterr().err


def points(maps: list[float], stds: list[float], n: int) -> pd.DataFrame:
    """A points table of one family at depths 0, 10, 22 (the columns `recommend` reads)."""
    return pd.DataFrame({"freeze": ["none", "backbone", "all-but-head"], "frozen_layers": [0, 10, 22],
                         "params_trainable": [3_000_000, 1_700_000, 750_000], "map50_95": maps,
                         "map50_95_std": stds, "n": n, "config": ["a", "b", "c"], "model": "yolov8n.pt",
                         "weights": "", "memory_kind": "cuda",
                         "time_saved_pct": [0.0, 20.0, 45.0], "memory_saved_pct": [0.0, 28.0, 40.0]})


def test_recommendation_follows_the_tolerance_and_names_the_noise():
    table = points([0.300, 0.295, 0.250], [None] * 3, 1)
    assert recommend(table, 1.0).startswith("**yolov8n.pt**: freeze `backbone` (10 layers frozen")
    assert "20% less time per epoch and 28% less peak GPU memory" in recommend(table, 1.0)
    assert "noise of the repeats is unknown" in recommend(table, 1.0)
    assert "freeze `all-but-head`" in recommend(table, 5.0)
    assert "freeze `none`" in recommend(table, 0.1)
    noisy = points([0.300, 0.295, 0.290], [0.01, 0.01, 0.01], 3)
    assert recommend(noisy, 0.1).startswith("**yolov8n.pt**: no signal: all freeze depths lie within the noise of "
                                            "the repeats (spread 1.0 points, std up to 1.0)")
    assert "freeze `" not in recommend(noisy, 0.1), "inside the noise: nothing is recommended"
    tight = points([0.300, 0.295, 0.250], [0.006, 0.006, 0.006], 3)
    assert "gap (0.5 points) is inside the noise" in recommend(tight, 1.0)


def test_pareto_front_marks_the_undominated_points():
    cost, accuracy = pd.Series([10.0, 8.0, 5.0, 9.0]), pd.Series([0.30, 0.29, 0.20, 0.25])
    assert list(pareto_front(cost, accuracy)) == [True, True, True, False]


def test_advise_without_pretrained_weights(synth_yaml, tmp_path, capsys):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump({"name": "a", "task": "detect", "model": "yolov8n.yaml",
                                      "data": str(synth_yaml), "train": TRAIN}))
    assert compare_main(["--advise", str(recipe)]) == 0
    out = capsys.readouterr().out
    assert "16 train images" in out and "no pretrained class list" in out
    assert "start from: freeze: none" in out and "not a result" in out


def test_advise_kitti_with_coco_weights(tmp_path, monkeypatch, capsys):
    weights = shared_path("weights/yolov5n_coco_state_dict.pt")
    data = copy_shared_dataset("kitti_mini", tmp_path)
    monkeypatch.setenv("ROADTUNE_WEIGHTS", str(weights.parent))
    assert compare_main(["--advise", str(REPO / "recipes" / "freeze-sweep-kitti.yaml"), "--set", f"data={data}"]) == 0
    out = capsys.readouterr().out
    assert "150 train images" in out and "80 classes" in out and "2/3 (car, pedestrian)" in out
    assert "start from: freeze: all-but-head" in out


def test_swept_paths_are_shown_by_name_inside_lists_too():
    from pipeline.compare.results import shown_value

    assert shown_value("model", "/x/models/my.yaml") == "my.yaml"
    frames = '["/data/video/drive.mp4", "/data/cctv_traffic_mini/images"]'
    assert shown_value("distill.unlabeled", frames) == "[drive.mp4, cctv_traffic_mini/images]"
    assert shown_value("distill.method", "roadtune") == "roadtune" and shown_value("x", "[1, 2]") == "[1, 2]"
