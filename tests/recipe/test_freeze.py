"""Freeze specs resolve from the architecture, and Ultralytics really freezes what the plan says."""

from __future__ import annotations

import pytest
from torch import nn

from pipeline.recipe.freeze import freeze_plan, is_frozen, resolve_freeze
from pipeline.recipe.models import build_model, save_checkpoint

# (architecture, backbone layers, total layers): named parts come from each model's own YAML.
ARCHITECTURES = [
    ("yolov5nu.yaml", 10, 25),
    ("yolov8n.yaml", 10, 23),
    ("yolo11n.yaml", 11, 24),
    ("yolov8n-seg.yaml", 10, 23),
    ("yolo11n-seg.yaml", 11, 24),
]


@pytest.mark.parametrize(("arch", "backbone", "layers"), ARCHITECTURES)
def test_named_parts_resolve_from_architecture(arch, backbone, layers):
    model = build_model(arch, nc=3)
    assert len(model.model) == layers
    assert resolve_freeze("none", model) == []
    assert resolve_freeze("backbone", model) == list(range(backbone))
    assert resolve_freeze("all-but-head", model) == list(range(layers - 1))
    assert resolve_freeze(5, model) == [0, 1, 2, 3, 4]
    assert resolve_freeze([7, 2, 2], model) == [2, 7]


def test_plan_counts_match_roles_and_totals():
    model = build_model("yolov8n.yaml", nc=3)
    plan = freeze_plan(model, resolve_freeze("backbone", model))
    roles = [row["role"] for row in plan.rows]
    assert [(r, roles.count(r)) for r in ("backbone", "head", "neck")] == [("backbone", 10), ("head", 1), ("neck", 12)]
    assert plan.params_total == sum(p.numel() for p in model.parameters())
    backbone_params = sum(p.numel() for p in model.model[:10].parameters())
    dfl_params = model.model[-1].dfl.conv.weight.numel()  # Ultralytics always freezes the DFL
    assert plan.params_frozen == backbone_params + dfl_params
    assert "frozen layers: 10" in plan.render()


@pytest.mark.slow
def test_ultralytics_freezes_exactly_the_plan(tmp_path, synth_data, tiny_train):
    """Train through Ultralytics' freeze=; inside the trainer, gradients and BatchNorm modes follow the plan."""
    from ultralytics import YOLO

    model = build_model("yolov8n.yaml", nc=5)
    frozen = resolve_freeze(6, model)
    plan = freeze_plan(model, frozen)
    seen = {}

    def inspect(trainer) -> None:
        if seen:
            return
        named = dict(trainer.model.named_parameters())
        seen["trainable"] = sum(p.numel() for p in named.values() if p.requires_grad)
        seen["bn_modes"] = {n: m.training for n, m in trainer.model.named_modules() if isinstance(m, nn.BatchNorm2d)}

    yolo = YOLO(str(save_checkpoint(model, tmp_path / "start.pt")))
    yolo.add_callback("on_train_batch_start", inspect)
    yolo.train(data=str(synth_data), freeze=frozen, project=str(tmp_path), name="t", **tiny_train)
    assert seen["trainable"] == plan.params_trainable
    for name, training in seen["bn_modes"].items():
        assert training is (not is_frozen(name + ".", frozen)), name
