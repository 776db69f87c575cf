"""An export is made in a private folder and put in place by renames: export/<format> holds a complete export or
nothing, an earlier export of the same format is replaced, unfinished private folders are cleared. No export here
(tests/export/test_export_run.py runs real ones)."""

from __future__ import annotations

from pipeline.export.artifact import PARTIAL, clear_partials, device_for, new_work_folder, put_in_place, size_mb


def test_tensorrt_is_exported_on_the_gpu_the_others_on_the_cpu():
    assert [device_for(f) for f in ("engine", "onnx", "openvino", "torchscript")] == ["0", "cpu", "cpu", "cpu"]


def test_size_counts_a_file_or_every_file_of_a_folder(tmp_path):
    (tmp_path / "model.onnx").write_bytes(b"x" * 1_500_000)
    folder = tmp_path / "model_openvino_model"
    (folder / "sub").mkdir(parents=True)
    (folder / "model.xml").write_bytes(b"x" * 250_000)
    (folder / "sub" / "model.bin").write_bytes(b"x" * 1_000_000)
    assert (size_mb(tmp_path / "model.onnx"), size_mb(folder)) == (1.5, 1.25)


def test_a_work_folder_is_private_and_empty_beside_the_exports(tmp_path):
    export_dir = tmp_path / "run" / "export"
    first, second = new_work_folder(export_dir, "onnx"), new_work_folder(export_dir, "onnx")
    assert first != second and first.parent == second.parent == export_dir
    assert first.name.startswith(f"{PARTIAL}onnx-") and list(first.iterdir()) == []


def test_put_in_place_makes_the_work_folder_the_export_and_replaces_an_earlier_one(tmp_path):
    export_dir = tmp_path / "export"
    work = new_work_folder(export_dir, "onnx")
    (work / "new.onnx").write_text("new")
    dest = export_dir / "onnx"
    (dest / "old").mkdir(parents=True)
    (dest / "old" / "old.onnx").write_text("old")
    put_in_place(work, dest)
    assert sorted(p.name for p in dest.iterdir()) == ["new.onnx"] and not work.exists()
    assert sorted(p.name for p in export_dir.iterdir()) == ["onnx"]  # the replaced export is gone too
    second = new_work_folder(export_dir, "openvino")
    put_in_place(second, export_dir / "openvino")
    assert sorted(p.name for p in export_dir.iterdir()) == ["onnx", "openvino"]


def test_clear_partials_removes_unfinished_work_folders_only(tmp_path):
    export_dir = tmp_path / "export"
    for name in ("onnx", "openvino-int8"):
        (new_work_folder(export_dir, name) / "half.onnx").write_text("x")
    (export_dir / "onnx").mkdir()
    (export_dir / f"{PARTIAL}onnx-replaced").mkdir()
    clear_partials(export_dir)
    assert [p.name for p in export_dir.iterdir()] == ["onnx"]
    clear_partials(tmp_path / "absent")  # no export folder yet: nothing to do
    assert not (tmp_path / "absent").exists()
