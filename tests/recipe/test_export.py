"""The `export:` options: formats as a list or comma text, one precision, enough timed calls."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pipeline.recipe.export import ExportConfig


def test_formats_from_comma_text_each_once():
    cfg = ExportConfig(format="onnx, openvino,onnx")
    assert cfg.format == ["onnx", "openvino"]
    assert [cfg.folder_name(f) for f in cfg.format] == ["onnx", "openvino"]
    assert ExportConfig(format=["openvino"], int8=True).folder_name("openvino") == "openvino-int8"


@pytest.mark.parametrize("bad", [{"format": "tflite"}, {"int8": True, "half": True}, {"runs": 49}, {"batch": 0},
                                 {"fraction": 0}, {"formats": "onnx"}])
def test_bad_options_are_refused(bad):
    with pytest.raises(ValidationError):
        ExportConfig(**bad)
