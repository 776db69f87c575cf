"""Models: where a named checkpoint or architecture is found (the recipe's folder, the working directory,
$ROADTUNE_WEIGHTS, offline or not), a dataset YAML given as a model, and weights carried over by name and shape
(the layers that start fresh are named). Small networks built on the CPU, no training."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pipeline.errors import UserError
from pipeline.recipe.models import build_model, read_state_dict, resolve_model_file, transfer_weights


def test_an_architecture_file_is_found_beside_the_recipe_then_in_the_working_directory(tmp_path, monkeypatch):
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "mine.yaml").write_text("x")
    (tmp_path / "cwd.yaml").write_text("x")
    monkeypatch.chdir(tmp_path)
    assert resolve_model_file("mine.yaml", tmp_path / "recipes") == str(tmp_path / "recipes" / "mine.yaml")
    assert resolve_model_file("cwd.yaml", tmp_path / "recipes") == str(tmp_path / "cwd.yaml")


def test_an_ultralytics_architecture_is_kept_by_name_and_an_unknown_one_is_refused(tmp_path):
    assert resolve_model_file("yolov8n.yaml", tmp_path) == "yolov8n.yaml"
    assert resolve_model_file("yolov8s-seg.yaml", tmp_path) == "yolov8s-seg.yaml"  # scale s of yolov8-seg.yaml
    for name in ("yolov99n.yaml", "models/yolov8n.yaml"):
        with pytest.raises(UserError, match=f"model architecture not found: {name}"):
            resolve_model_file(name, tmp_path)


def test_a_checkpoint_is_found_beside_the_recipe_then_in_roadtune_weights(tmp_path, monkeypatch):
    (tmp_path / "recipes").mkdir()
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "coco.pt").write_bytes(b"x")
    (tmp_path / "recipes" / "coco.pt").write_bytes(b"x")
    monkeypatch.setenv("ROADTUNE_WEIGHTS", str(tmp_path / "weights"))
    assert resolve_model_file("coco.pt", tmp_path / "recipes") == str(tmp_path / "recipes" / "coco.pt")
    (tmp_path / "recipes" / "coco.pt").unlink()
    assert resolve_model_file("coco.pt", tmp_path / "recipes") == str(tmp_path / "weights" / "coco.pt")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve_model_file("~/weights/coco.pt", tmp_path / "recipes") == str(tmp_path / "weights" / "coco.pt")


def test_offline_a_missing_checkpoint_lists_where_it_was_looked_for(tmp_path, monkeypatch):
    monkeypatch.setenv("YOLO_OFFLINE", "1")
    monkeypatch.setenv("ROADTUNE_WEIGHTS", str(tmp_path / "weights"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match="weights file not found: yolo11n.pt") as raised:
        resolve_model_file("yolo11n.pt", tmp_path / "recipes")
    looked, offline, arch = raised.value.problems
    assert looked.startswith(f"looked in: {tmp_path / 'recipes' / 'yolo11n.pt'}, yolo11n.pt, "
                             f"{tmp_path / 'weights' / 'yolo11n.pt'}, ")
    assert "$ROADTUNE_WEIGHTS" in offline and arch == "or build from an architecture, e.g. model: yolov8n.yaml"


def test_online_a_bare_name_is_left_to_ultralytics_download_but_a_path_is_not(tmp_path, monkeypatch):
    monkeypatch.delenv("YOLO_OFFLINE", raising=False)
    assert resolve_model_file("yolo11n.pt", tmp_path) == "yolo11n.pt"
    with pytest.raises(UserError, match="weights file not found: models/yolo11n.pt"):
        resolve_model_file("models/yolo11n.pt", tmp_path)


def test_a_dataset_yaml_given_as_the_model_says_what_to_do(tmp_path):
    data = tmp_path / "data.yaml"
    data.write_text("train: images/train\nval: images/val\nnames: [car]\n")
    with pytest.raises(UserError, match=r"is not a model architecture \(no `backbone:` and `head:`\): is it a "
                                        r"dataset YAML\? Give it as `data:`"):
        build_model(str(data))


TINY = """nc: 5
backbone:
  - [-1, 1, Conv, [8, 3, 2]]
  - [-1, 1, Conv, [16, 3, 2]]
head:
  - [[1], 1, Detect, [nc]]
"""


@pytest.fixture
def detector(tmp_path) -> torch.nn.Module:
    """A two-layer detector with 5 classes: the same Detect head as yolov8n, built in milliseconds."""
    (tmp_path / "tiny.yaml").write_text(TINY)
    return build_model(str(tmp_path / "tiny.yaml"))


def coco_like(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """`state` as an 80-class checkpoint of the same network holds it: other values, 80 class outputs per scale."""
    return {k: torch.full((80, *v.shape[1:]), 0.5) if k.startswith("model.2.cv3.") and v.ndim and v.shape[0] == 5
            else (v + 1 if v.is_floating_point() else v) for k, v in state.items()}


def test_weights_carry_over_by_name_and_shape_and_the_head_starts_fresh(detector):
    own = {k: v.clone() for k, v in detector.state_dict().items()}
    source = coco_like(own)
    transfer = transfer_weights(detector, source)
    differing = sorted(k for k in own if own[k].shape != source[k].shape)
    assert differing == ["model.2.cv3.0.2.bias", "model.2.cv3.0.2.weight"]
    assert (transfer.transferred, transfer.total, transfer.fresh_layers) == (len(own) - 2, len(own), [2])
    assert transfer.fraction == (len(own) - 2) / len(own)
    after = detector.state_dict()
    assert torch.equal(after["model.0.conv.weight"], source["model.0.conv.weight"])
    assert torch.equal(after["model.2.cv3.0.2.bias"], own["model.2.cv3.0.2.bias"])  # kept its own start


def test_nothing_carries_over_between_unrelated_networks(detector):
    transfer = transfer_weights(detector, {"backbone.stem.weight": torch.zeros(3)})
    assert (transfer.transferred, transfer.fraction, transfer.fresh_layers) == (0, 0.0, [0, 1, 2])


@pytest.mark.parametrize("wrap", [lambda s: s, lambda s: {"state_dict": s, "epoch": 3}])
def test_a_state_dict_file_is_read_plain_or_wrapped(tmp_path, wrap):
    state = {"model.0.conv.weight": torch.ones(2, 2), "note": "not a tensor"}
    torch.save(wrap(state), tmp_path / "w.pt")
    assert list(read_state_dict(tmp_path / "w.pt")) == ["model.0.conv.weight"]


def test_a_file_without_tensors_is_refused(tmp_path):
    torch.save({"epoch": 3, "names": ["car"]}, tmp_path / "w.pt")
    with pytest.raises(UserError, match=r"w.pt holds no tensors: expected a checkpoint or a state dict"):
        read_state_dict(Path(tmp_path / "w.pt"))
