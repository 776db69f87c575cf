"""Bad recipes are rejected before any work: exit 2, every problem by dotted key with a fix, no run folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import REPO

from pipeline.run import main as run_main


def run_cli(capsys, *argv: str) -> tuple[int, str]:
    code = run_main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.fixture
def base(synth_yaml) -> dict:
    return {"name": "bad", "task": "detect", "model": "yolov8n.yaml", "data": str(synth_yaml),
            "train": {"epochs": 1, "imgsz": 64}}


def assert_rejected(capsys, tmp_path: Path, recipe_path: Path, *needles: str, extra: tuple = ()) -> str:
    runs = tmp_path / "runs"
    code, out = run_cli(capsys, str(recipe_path), "--runs-dir", str(runs), *extra)
    assert code == 2, out
    assert "Traceback" not in out
    for needle in needles:
        assert needle in out, f"{needle!r} not in:\n{out}"
    assert not runs.exists(), "a rejected recipe must not create a run folder"
    return out


def test_malformed_yaml_reports_line(capsys, tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\ntask: detect\ntrain: {epochs: 1\nmodel: y\n")
    assert_rejected(capsys, tmp_path, path, "malformed YAML", "line 4")


def test_every_schema_problem_listed_at_once(capsys, tmp_path, base, write_recipe):
    base.update(modle="x", freeze="backbon", stages=[{"name": "head", "epochs": -3}])
    base["train"].update(epoch=3, imgsz="big", lr0="fast")
    out = assert_rejected(
        capsys, tmp_path, write_recipe(base),
        "modle: Extra inputs", "did you mean `model`", "freeze:", "none, backbone, all-but-head",
        "stages.0.epochs: Input should be greater than 0", "train.epoch: not an Ultralytics train argument",
        "did you mean `epochs`", "train.lr0: expected a number", "train.imgsz: an image size is an integer",
    )
    assert "7 problems" in out


def test_schema_and_preflight_problems_in_one_round(capsys, tmp_path, base, write_recipe):
    """A freeze beyond the model shows beside a train-argument typo and a bad stage, not one round later."""
    base.update(freeze=30, stages=[{"name": "head", "epochs": 1}, {"name": "full", "epochs": 0}])
    base["train"].update(epoch=3, optimizer="NoSuchOptimizer", batch=0, device=99)
    out = assert_rejected(
        capsys, tmp_path, write_recipe(base),
        "freeze: 30 goes beyond the model's 23 layers", "train.epoch: not an Ultralytics train argument",
        "stages.1.epochs: Input should be greater than 0", "train.optimizer: not an Ultralytics optimizer",
        "train.batch: a batch size is an integer >= 1",
        "train.device: GPU 99 asked for",
    )
    assert "6 problems" in out


def test_wrong_type_and_negative_epochs(capsys, tmp_path, base, write_recipe):
    base["train"]["epochs"] = -1
    base["train"]["batch"] = "sixteen"
    assert_rejected(capsys, tmp_path, write_recipe(base), "train.epochs: must be between 1 and",
                    "train.batch: expected a number")


@pytest.mark.parametrize("override, needle", [
    ("train.epochs=100000000000000000000000", "train.epochs: must be between 1 and 100,000"),
    ("train.epochs=1.0e23", "train.epochs: expected an integer"),
    ("train.epochs=null", "train.epochs: null is not a value here"),
    ("train.imgsz=0", "train.imgsz: an image size is an integer from 32"),
    ("train.imgsz=-64", "train.imgsz: an image size is an integer from 32"),
    ("train.batch=0", "train.batch: a batch size is an integer >= 1"),
    ("train.optimizer=NoSuchOptimizer", "train.optimizer: not an Ultralytics optimizer"),
    ("train.cfg=old-run/args.yaml", "train.cfg: set by roadtune"),
    ("train.save_dir=elsewhere", "train.save_dir: set by roadtune"),
    ("name=..", "name: Value error, `..` is not a folder name"),
    ("name=.", "name: Value error, `.` is not a folder name"),
    ("stages=[{name: '..', epochs: 1}]", "stages.0.name: Value error, `..` is not a folder name"),
    ("data=https://example.com/kitti.yaml", "URLs are not supported"),
    ("freeze=[0,1", "not a YAML value"),
    ("model={repo}/datasets/synth-road.yaml", "is not a model architecture"),
    ("train.device=0", "train.device: GPU 0 asked for"),
])
def test_values_ultralytics_would_misread_are_rejected(capsys, tmp_path, base, write_recipe, override, needle):
    """Each of these used to pass, be silently adjusted, or end in a traceback (after the run folder existed)."""
    if override.startswith("train.device") and __import__("torch").cuda.is_available():
        pytest.skip("this machine has a GPU 0")
    override = override.replace("{repo}", str(REPO))
    assert_rejected(capsys, tmp_path, write_recipe(base), needle, extra=("--set", override))


def test_managed_train_args_point_to_their_recipe_key(capsys, tmp_path, base, write_recipe):
    base["train"]["freeze"] = 3
    assert_rejected(capsys, tmp_path, write_recipe(base), "train.freeze: set by roadtune", "top-level `freeze`")


def test_missing_model_and_data_files(capsys, tmp_path, base, write_recipe):
    base.update(model="nowhere/my_model.pt", data="missing.yaml")
    out = assert_rejected(capsys, tmp_path, write_recipe(base), "model: weights file not found", "ROADTUNE_WEIGHTS",
                          "data: dataset file not found")
    assert "2 problems" in out


def test_offline_official_checkpoint_names_file_and_variable(capsys, tmp_path, base, write_recipe, monkeypatch):
    monkeypatch.delenv("ROADTUNE_WEIGHTS", raising=False)
    base["model"] = "yolo11x.pt"
    assert_rejected(capsys, tmp_path, write_recipe(base), "yolo11x.pt", "$ROADTUNE_WEIGHTS", "github.com/ultralytics")


@pytest.mark.parametrize(
    ("freeze", "needle"),
    [
        (24, "goes beyond the model's 23 layers"),
        (23, "freezes every parameter"),
        ([0, 40], "goes beyond"),
        (list(range(23)), "freezes every parameter"),
    ],
)
def test_freeze_out_of_range_or_everything(capsys, tmp_path, base, write_recipe, freeze, needle):
    base["freeze"] = freeze
    assert_rejected(capsys, tmp_path, write_recipe(base), "freeze:", needle)


def test_stage_freeze_problem_has_stage_key(capsys, tmp_path, base, write_recipe):
    base["stages"] = [{"name": "head", "epochs": 1, "freeze": "backbone"}, {"name": "full", "epochs": 1, "freeze": 99}]
    assert_rejected(capsys, tmp_path, write_recipe(base), "stages.1.freeze:", "beyond")


def test_segment_model_with_detect_task_and_reverse(capsys, tmp_path, base, write_recipe):
    base["model"] = "yolov8n-seg.yaml"
    assert_rejected(capsys, tmp_path, write_recipe(base, "a.yaml"), "is a segment model but task is detect")
    base.update(model="yolov8n.yaml", task="segment")
    assert_rejected(capsys, tmp_path, write_recipe(base, "b.yaml"), "is a detect model but task is segment")


def test_segment_task_needs_polygon_labels(capsys, tmp_path, base, write_recipe):
    root = tmp_path / "boxes"
    for split in ("train", "val"):
        (root / "images" / split).mkdir(parents=True)
        (root / "labels" / split).mkdir(parents=True)
        (root / "labels" / split / "a.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (root / "data.yaml").write_text("train: images/train\nval: images/val\nnames: {0: car}\n")
    base.update(model="yolov8n-seg.yaml", task="segment", data=str(root / "data.yaml"))
    assert_rejected(capsys, tmp_path, write_recipe(base), "data:", "no polygon labels")


def test_overrides_apply_and_are_validated(capsys, tmp_path, base, write_recipe):
    path = write_recipe(base)
    assert_rejected(capsys, tmp_path, path, "freeze:", extra=("--set", "freeze=backbone2"))
    assert_rejected(capsys, tmp_path, path, "expected KEY=VALUE", extra=("--set", "freeze"))
    code, out = run_cli(capsys, str(path), "--dry-run", "--set", "freeze=all-but-head", "--set", "train.epochs=2")
    assert code == 0, out
    assert "frozen layers: 22" in out


def test_missing_recipe_file(capsys, tmp_path):
    assert_rejected(capsys, tmp_path, tmp_path / "nope.yaml", "recipe file not found")


@pytest.mark.parametrize("name", ["quickstart", "freeze10", "two-stage", "seg-freeze10"])
def test_shipped_recipes_are_valid(capsys, name):
    """Shipped recipes validate as is (the .pt ones with their architecture, since official weights are offline)."""
    recipe = Path(__file__).resolve().parents[2] / "recipes" / f"{name}.yaml"
    model = {"freeze10": "yolov8n.yaml", "two-stage": "yolov8n.yaml", "seg-freeze10": "yolov8n-seg.yaml"}.get(name)
    extra = ("--set", f"model={model}") if model else ()
    code, out = run_cli(capsys, str(recipe), "--dry-run", *extra)
    assert code == 0, out
    assert "trainable" in out and "frozen" in out


def test_docs_reference_covers_every_schema_key():
    """The recipe reference in docs/recipes.md is checked against the schema, so neither drifts."""
    from pipeline.recipe.schema import Recipe, Stage

    docs = (Path(__file__).resolve().parents[2] / "docs" / "recipes.md").read_text()
    reference = docs.split("## Recipe reference", 1)[1].split("\n## ", 1)[0]
    for key in Recipe.model_fields:
        assert f"| `{key}` |" in reference, f"docs/recipes.md recipe reference lacks `{key}`"
    for key in Stage.model_fields:
        assert f"`{key}`" in reference, f"docs/recipes.md recipe reference lacks stage key `{key}`"


def test_a_bad_sweep_lists_its_own_and_its_points_problems_at_once(capsys, tmp_path, base, write_recipe):
    base.update(sweep={"freeze": ["none", 99], "repeats": 0})
    base["train"]["epoch"] = 3
    out = assert_rejected(capsys, tmp_path, write_recipe(base), "sweep.repeats: Input should be greater than or equal",
                          "freeze: 99 goes beyond the model's 23 layers", "train.epoch: not an Ultralytics")
    assert out.count("train.epoch:") == 1, "a base recipe problem is listed once, not once per point"


@pytest.mark.parametrize("section, problem", [
    ({"augment": {"presetz": ["rain"]}}, "augment.presetz: Extra inputs are not permitted (did you mean `presets`?)"),
    ({"video": {"sourc": "a.mp4"}}, "video.sourc: Extra inputs are not permitted (did you mean `source`?)"),
    ({"stages": [{"name": "head", "epochs": 1, "frezee": 3}]},
     "stages.0.frezee: Extra inputs are not permitted (did you mean `freeze`?)"),
    ({"distill": {"teacher": "t.pt", "weights": {"bx": 1.0}}},
     "distill.weights.bx: Extra inputs are not permitted (did you mean `box`?)"),
    ({"distill": {"teacher": "t.pt", "weights": {"depth": 1.0}}},
     "distill.weights.depth: Extra inputs are not permitted (remove it; valid keys: cls, box, feature, mask)"),
])
def test_a_misspelt_key_is_matched_against_its_own_section(section, problem):
    from pipeline.errors import UserError
    from pipeline.recipe.schema import parse_recipe

    raw = {"name": "x", "task": "detect", "model": "yolov8n.yaml", "data": "d.yaml", **section}
    with pytest.raises(UserError) as err:
        parse_recipe(raw)
    assert problem in err.value.problems
