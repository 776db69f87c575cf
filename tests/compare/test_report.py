"""The comparison report over run and sweep folders written on disk (the report reads files alone, so no training):
swept keys as columns and recommendations, no-signal verdicts, signed deltas, environments, unreadable files."""

from __future__ import annotations

import json
import re
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest
import yaml

from pipeline.compare.__main__ import main as compare_main
from pipeline.compare.plots import accuracy_vs_cost
from pipeline.compare.report import build_report

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "example-report"
CLASSES = ["car", "truck", "pedestrian", "traffic_sign", "traffic_light"]
DEPTHS = {"none": 0, "backbone": 10, "all-but-head": 22}
TRAINABLE = {0: 3_011_807, 10: 1_739_151, 22: 752_287}
ENV = {"python": "3.11.7", "platform": "Linux", "roadtune": "0.1.0", "torch": "2.14.1+cu130",
       "ultralytics": "8.4.190", "git_commit": "405b2fccb70aac535a7bc6d9e2a9bbc28b27e479", "device": "cpu",
       "device_kind": "cpu", "gpus": [], "cpu": "x86_64", "cpu_count": 2, "argv": ["pipeline/run.py"]}


def recipe(freeze: str = "none", method: str = "roadtune", seed: int = 0, task: str = "detect",
           lr0: float = 0.01) -> dict:
    """A resolved recipe as pipeline.run writes it into recipe.yaml."""
    return {"name": "cmp", "task": task, "model": "yolov8n-cls.yaml" if task == "classify" else "yolov8n.yaml",
            "data": "/data/datasets/synth-road.yaml", "freeze": freeze,
            "distill": {"teacher": "yolov8s.yaml", "method": method, "temperature": 2.0, "alpha": 0.5,
                        "weights": {"cls": 1.0, "box": 1.0, "feature": 0.5, "mask": 1.0}},
            "train": {"epochs": 10, "imgsz": 256, "batch": 8, "workers": 0, "lr0": lr0, "seed": seed}}


def metrics(score: float, freeze: str = "none", time_s: float = 10.0, task: str = "detect") -> dict:
    """A metrics.json as the runner writes it (the figures the report reads)."""
    layers = DEPTHS[freeze]
    accuracy = {"top1": score, "top5": min(1.0, 2 * score)} if task == "classify" else {
        "map50": min(1.0, 1.6 * score), "map50_95": score}
    return {**accuracy, "precision": 0.5, "recall": 0.4, "per_class": {c: score for c in CLASSES},
            "epochs": 10, "train_time_s": time_s, "time_per_epoch_s": time_s / 10, "images_per_s": 60.0,
            "peak_memory_mb": 1300.0 - layers, "memory_kind": "rss", "inference_ms_per_image": 2.0,
            "params_total": 3_011_823, "params_trainable": TRAINABLE[layers],
            "params_frozen": 3_011_823 - TRAINABLE[layers], "frozen_layers": layers, "stages": []}


def write_run(run_dir: Path, run_recipe: dict, run_metrics: dict, env: dict | None = None) -> Path:
    """A finished run folder: recipe.yaml, env.json, metrics.json, status.json."""
    run_dir.mkdir(parents=True)
    (run_dir / "recipe.yaml").write_text(yaml.safe_dump(run_recipe, sort_keys=False))
    (run_dir / "env.json").write_text(json.dumps(env or ENV, indent=2))
    (run_dir / "metrics.json").write_text(json.dumps(run_metrics, indent=2))
    (run_dir / "status.json").write_text(json.dumps({"returncode": 0}))
    return run_dir


def write_sweep(folder: Path, grid: dict, points: dict[str, tuple[dict, dict]], repeats: int = 1) -> Path:
    """A sweep folder: sweep.json with the grid, one run folder per point id -> (recipe, metrics)."""
    base = {k: v for k, v in recipe().items() if k != "freeze"} | {"sweep": {**grid, "repeats": repeats}}
    folder.mkdir(parents=True)
    (folder / "sweep.json").write_text(json.dumps({"kind": "roadtune-sweep", "base": base, "base_dir": "/data"}))
    for point_id, (run_recipe, run_metrics) in points.items():
        write_run(folder / "points" / point_id, run_recipe, run_metrics)
    return folder


def report_of(folders: list[Path], out: Path, *args: str) -> tuple[pd.DataFrame, str]:
    assert compare_main([*map(str, folders), "--out", str(out), *args]) == 0
    return pd.read_csv(out / "report.csv"), (out / "report.md").read_text()


def recs(markdown: str) -> list[str]:
    """The recommendation bullets of the report."""
    return re.findall(r"^- (.*)$", markdown.split("**Recommendation**")[1].split("![")[0], re.M)


def test_distill_method_sweep_has_its_column_and_one_recommendation(tmp_path):
    figures = {"none": (0.300, 10.0), "native": (0.310, 14.0), "roadtune": (0.330, 18.0)}
    sweep = write_sweep(tmp_path / "sweep", {"distill.method": list(figures)}, {
        f"{i}-method-{m}-s0": (recipe(method=m), metrics(score, time_s=t)) for i, (m, (score, t)) in
        enumerate(figures.items())})
    report, markdown = report_of([sweep], tmp_path / "out")
    assert list(report["distill.method"]) == ["none", "native", "roadtune"]
    assert list(report.columns[:6]) == ["task", "dataset", "model", "weights", "freeze", "distill.method"]
    assert "| distill.method |" in markdown.replace("   ", " ").replace("  ", " ")
    assert recs(markdown) == ["best `distill.method` at this budget: `roadtune`, +3.0 points of mAP50-95 over "
                              "`none` (0.3300 vs 0.3000), training time ×1.8. One run per point: the noise of the "
                              "repeats is unknown (set `sweep.repeats: 3` to measure it). (no interval: some runs "
                              "have no per-image records.)"]
    assert "Δ mAP50-95" not in markdown  # no freeze axis: every point is its own `freeze: none` reference


def test_a_gain_at_more_batches_names_its_equal_batches_control(tmp_path):
    """Teacher-labelled frames give 1.8x the batches: the recommendation says so and sets the gain against the
    plain student given as many batches; at equal batches it says "equal compute"."""
    def run(name: str, method: str, score: float, batches: int, epochs: int = 10) -> Path:
        run_recipe = recipe(method=method)
        run_recipe["train"]["epochs"] = epochs
        return write_run(tmp_path / name, run_recipe, {**metrics(score), "batches": batches,
                                                       "images_seen": batches * 8, "epochs": epochs})

    plain, frames = run("plain", "none", 0.0205, 100), run("frames", "roadtune", 0.0461, 180)
    _, markdown = report_of([plain, frames], tmp_path / "out")
    assert "**Not at equal compute**: 1.8x the batches (180 vs 100); no equal-batches control here" in markdown
    control = run("plain-steps", "none", 0.0534, 180, epochs=18)
    _, markdown = report_of([plain, frames, control], tmp_path / "out2")
    (rec,) = [r for r in recs(markdown) if r.startswith("best `distill.method`")]
    assert ("1.8x the batches (180 vs 100). The equal-batches control (`none`, 180 batches) scores 0.0534: "
            "`roadtune` is -0.7 points against it.") in rec, rec
    assert "| batches |" in markdown.replace("   ", " ").replace("  ", " ")
    same = run("same", "roadtune", 0.0300, 104)
    _, markdown = report_of([plain, same], tmp_path / "out3")
    assert "Equal compute: 104 and 100 batches." in markdown


def test_freeze_by_method_grid_recommends_per_key_and_context(tmp_path):
    scores = {("none", "none"): 0.300, ("backbone", "none"): 0.295, ("none", "roadtune"): 0.320,
              ("backbone", "roadtune"): 0.290}
    sweep = write_sweep(tmp_path / "sweep", {"freeze": ["none", "backbone"], "distill.method": ["none", "roadtune"]},
                        {f"{i}-{f}-{m}-s0": (recipe(f, m), metrics(s, f, time_s=10 + 5 * (m == "roadtune")))
                         for i, ((f, m), s) in enumerate(scores.items())})
    report, markdown = report_of([sweep], tmp_path / "out")
    assert list(zip(report["freeze"], report["distill.method"])) == [
        ("none", "none"), ("backbone", "none"), ("none", "roadtune"), ("backbone", "roadtune")]
    lines = recs(markdown)
    assert len(lines) == 4
    assert lines[0].startswith("**yolov8n.yaml** (distill.method `none`): freeze `backbone` (10 layers frozen")
    assert lines[1].startswith("**yolov8n.yaml** (distill.method `roadtune`): freeze `none` (0 layers frozen")
    assert lines[2].startswith("best `distill.method` at this budget (freeze `none`): `roadtune`, +2.0 points")
    assert lines[3].startswith("best `distill.method` at this budget (freeze `backbone`): `none` itself "
                               "(mAP50-95 0.2950), 0.5 points above the next best (`roadtune`, training time ×1.5)")


def test_delta_against_none_is_signed_positive_is_better(tmp_path):
    scores = {"none": 0.300, "backbone": 0.320, "all-but-head": 0.290}
    sweep = write_sweep(tmp_path / "sweep", {"freeze": list(scores)}, {
        f"{i}-freeze-{f}-s0": (recipe(f), metrics(s, f)) for i, (f, s) in enumerate(scores.items())})
    report, markdown = report_of([sweep], tmp_path / "out")
    assert list(report["map_lost_pts"]) == [0.0, -2.0, 1.0]  # the CSV keeps its column: lost points
    table = pd.DataFrame([[c.strip() for c in row.split("|")[1:-1]] for row in markdown.splitlines()
                          if row.startswith("| yolov8n")])
    table.columns = table_header(markdown)
    assert list(table["Δ mAP50-95 vs none (pts)"]) == ["0.0", "+2.0", "-1.0"]
    assert "mAP lost" not in markdown


def table_header(markdown: str) -> list[str]:
    """The column names of the report's first points table."""
    return [c.strip() for c in next(r for r in markdown.splitlines() if r.startswith("| model")).split("|")[1:-1]]


@pytest.mark.parametrize(("example", "task"), [(EXAMPLE, "detect"),
                                               (EXAMPLE.with_name("example-report-seg"), "segment")])
def test_the_committed_example_report_has_the_columns_compare_writes_today(tmp_path, example, task):
    """docs/example-report (detect) and docs/example-report-seg were made by pipeline.compare on a 3-depth freeze
    sweep: the same layout written here must give the same report.csv columns and the same table header, else the
    example is stale."""
    committed = pd.read_csv(example / "report.csv")
    depths, seeds = list(committed["freeze"]), int(committed["n"].max())
    masks = {"mask_map50": 0.04, "mask_map50_95": 0.02} if task == "segment" else {}
    sweep = write_sweep(tmp_path / "sweep", {"freeze": depths}, {
        f"{i}-freeze-{f}-s{s}": (recipe(f, seed=s, task=task), {**metrics(0.05 - i / 100, f), **masks,
                                                                "memory_kind": kind, "batches": 100,
                                                                "images_seen": 1500})
        for i, (f, kind) in enumerate(zip(depths, committed["memory_kind"])) for s in range(seeds)}, repeats=seeds)
    report, markdown = report_of([sweep], tmp_path / "out", "--no-links")
    assert list(report.columns) == list(committed.columns), f"regenerate {example} (its README has the command)"
    assert table_header(markdown) == table_header((example / "report.md").read_text())
    assert depths[0] == "none" and set(depths) <= {"none", "backbone", "all-but-head"}


def test_versions_table_lists_runs_without_a_git_commit(tmp_path):
    runs = [write_run(tmp_path / f"run{s}", recipe(seed=s), metrics(0.3 + s / 100), {**ENV, "git_commit": None})
            for s in range(2)]
    _, markdown = report_of(runs, tmp_path / "out")
    versions = markdown.split("## Versions and devices")[1]
    assert re.search(r"\| 8\.4\.190 .*\| unknown +\| 2 +\|", versions), versions


def test_accuracy_vs_cost_names_its_y_axis_by_the_score(tmp_path):
    sweep = write_sweep(tmp_path / "sweep", {"freeze": ["none", "all-but-head"]}, {
        "0-freeze-none-s0": (recipe(), metrics(0.3)),
        "1-freeze-all-but-head-s0": (recipe("all-but-head"), metrics(0.25, "all-but-head"))})
    points = build_report([sweep], with_plots=False).comparisons[0].points
    figure = accuracy_vs_cost(points, "map50_95", "mAP50-95", ["freeze"])
    assert figure.axes[0].get_ylabel() == "mAP50-95"
    assert [t.get_text() for t in figure.axes[0].texts] == ["none", "all-but-head"]
    plt.close(figure)


def test_scores_at_zero_carry_no_signal(tmp_path, capsys):
    sweep = write_sweep(tmp_path / "sweep", {"freeze": ["none", "backbone"]}, {
        "0-freeze-none-s0": (recipe(), metrics(0.0)), "1-freeze-backbone-s0": (recipe("backbone"), metrics(0.004))})
    _, markdown = report_of([sweep], tmp_path / "out")
    assert recs(markdown) == ["**No signal**: the best mAP50-95 is 0.0040, below the floor of 0.0100 (1 point of "
                              "mAP50-95): these runs learned too little for their differences to mean anything; "
                              "train longer, on more data or from pretrained weights. Nothing is recommended."]
    assert "freeze backbone" not in capsys.readouterr().out


def test_differences_inside_the_repeat_noise_carry_no_signal(tmp_path):
    scores = {("none", 0): 0.30, ("none", 1): 0.34, ("backbone", 0): 0.31, ("backbone", 1): 0.35}
    sweep = write_sweep(tmp_path / "sweep", {"freeze": ["none", "backbone"]}, {
        f"{f}-s{s}": (recipe(f, seed=s), metrics(v, f)) for (f, s), v in scores.items()}, repeats=2)
    _, markdown = report_of([sweep], tmp_path / "out")
    (line,) = recs(markdown)
    assert line.startswith("**yolov8n.yaml**: no signal: all freeze depths lie within the noise of the repeats "
                           "(spread 1.0 points, std up to 2.8)")
    assert "freeze `" not in line


def test_three_shared_seeds_are_compared_seed_by_seed(tmp_path):
    """Seed luck moves both depths alike (0.20 to 0.40): unpaired, a 2-point gain drowns in a 10-point std; seed by
    seed, backbone wins every time and is recommended, with the seed-paired noise named."""
    scores = {("none", 0): 0.30, ("none", 1): 0.20, ("none", 2): 0.40,
              ("backbone", 0): 0.32, ("backbone", 1): 0.23, ("backbone", 2): 0.41}
    sweep = write_sweep(tmp_path / "sweep", {"freeze": ["none", "backbone"]}, {
        f"{f}-s{s}": (recipe(f, seed=s), metrics(v, f)) for (f, s), v in scores.items()}, repeats=3)
    _, markdown = report_of([sweep], tmp_path / "out")
    (line,) = recs(markdown)
    assert line.startswith("**yolov8n.yaml**: freeze `backbone`"), line
    assert "seed-paired std up to 0.5" in line and "0.3200 is the best" in line


@pytest.mark.parametrize(("top1", "verdict"), [(0.22, "**No signal**: the best top-1 accuracy is 0.2200, below the "
                                                       "floor of 0.2500 (chance level 1/5 + 0.05)"),
                                               (0.60, "**yolov8n-cls.yaml**: freeze `backbone`")])
def test_classify_at_chance_level_carries_no_signal(tmp_path, top1, verdict):
    sweep = write_sweep(tmp_path / "sweep", {"freeze": ["none", "backbone"]}, {
        "0-freeze-none-s0": (recipe(task="classify"), metrics(top1, task="classify")),
        "1-freeze-backbone-s0": (recipe("backbone", task="classify"), metrics(top1, "backbone", task="classify"))})
    _, markdown = report_of([sweep], tmp_path / "out")
    assert recs(markdown)[0].startswith(verdict)


def test_run_folders_compared_by_hand_get_their_differing_key(tmp_path):
    runs = [write_run(tmp_path / f"lr{i}", recipe(lr0=lr0), metrics(score)) for i, (lr0, score) in
            enumerate([(0.01, 0.30), (0.02, 0.28)])]
    report, markdown = report_of(runs, tmp_path / "out")
    assert list(report["train.lr0"]) == [0.01, 0.02]
    assert recs(markdown)[0].startswith("best `train.lr0` at this budget: `0.01` itself (mAP50-95 0.3000), 2.0 points")


@pytest.mark.parametrize(("name", "text", "cause"), [
    ("metrics.json", '{"map50_95": 0.3,', "not valid JSON (line 1"),
    ("recipe.yaml", "task: detect\nmodel: [yolov8n.yaml\n", "malformed YAML"),
    ("recipe.yaml", "- a list\n", "not a mapping but list"),
    ("metrics.json", '{"map50_95": 0.3}', "missing frozen_layers, params_trainable, params_total"),
])
def test_unreadable_run_file_is_a_clear_error_or_a_named_skip(tmp_path, capsys, name, text, cause):
    sweep = write_sweep(tmp_path / "sweep", {"freeze": ["none", "backbone"]}, {
        "0-freeze-none-s0": (recipe(), metrics(0.3)), "1-freeze-backbone-s0": (recipe("backbone"), metrics(0.29))})
    broken = sweep / "points" / "1-freeze-backbone-s0" / name
    broken.write_text(text)
    assert compare_main([str(sweep), "--out", str(tmp_path / "r1")]) == 2
    err = capsys.readouterr().err
    assert f"{broken}: cannot be read (" in err and cause in err and "Traceback" not in err
    assert not (tmp_path / "r1").exists()

    report, markdown = report_of([sweep], tmp_path / "r2", "--skip-incomplete")
    assert f"warning: skipped unreadable run: {broken}: cannot be read (" in capsys.readouterr().out
    assert list(report["freeze"]) == ["none"]
    assert f"- unreadable: {broken}" in markdown

    (sweep / "points" / "0-freeze-none-s0" / name).write_text(text)
    assert compare_main([str(sweep), "--out", str(tmp_path / "r3"), "--skip-incomplete"]) == 2
    err = capsys.readouterr().err
    assert "nothing to compare" in err and str(broken) in err
