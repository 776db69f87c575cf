"""`python -m pipeline.run` hands a recipe with `sweep:` to the sweep runner."""

from __future__ import annotations

from pipeline.run import main as run_main


def test_sweep_recipe_dry_run_lists_points(tmp_path, synth_yaml, tiny_train, write_recipe, capsys):
    recipe = write_recipe({"name": "sw", "task": "detect", "model": "yolov8n.yaml", "data": str(synth_yaml),
                           "train": tiny_train, "sweep": {"freeze": ["none", "backbone"], "repeats": 2}})
    assert run_main([str(recipe), "--dry-run", "--runs-dir", str(tmp_path / "runs")]) == 0
    out = capsys.readouterr().out
    assert "freeze-none-s0" in out and "freeze-backbone-s1" in out
    assert not (tmp_path / "runs").exists()


def test_bad_sweep_key_exits_2(tmp_path, synth_yaml, tiny_train, write_recipe, capsys):
    recipe = write_recipe({"name": "sw", "task": "detect", "model": "yolov8n.yaml", "data": str(synth_yaml),
                           "train": tiny_train, "sweep": {"frezee": ["none"]}})
    assert run_main([str(recipe), "--runs-dir", str(tmp_path / "runs")]) == 2
    assert "did you mean" in capsys.readouterr().err
