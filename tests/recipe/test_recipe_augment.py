"""The `augment:` section: known presets only, each once, a probability in [0, 1]; --augment's comma text."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pipeline.errors import UserError
from pipeline.recipe.augment import AugmentConfig, parse_presets


def test_config_validation():
    assert AugmentConfig(presets=["rain"]).p == 0.3
    with pytest.raises(ValidationError, match="unknown preset.*hail.*valid presets: rain, fog, night, glare"):
        AugmentConfig(presets=["rain", "hail"])
    for bad in ({"presets": ["fog"], "p": 1.5}, {"presets": []}, {"presets": ["fog"], "prob": 0.2},
                {"presets": ["fog", "fog"]}):
        with pytest.raises(ValidationError):
            AugmentConfig(**bad)
    with pytest.raises(UserError) as err:
        parse_presets("rain,smog")
    assert "valid presets: rain, fog, night, glare, motion_blur, snow" in err.value.render()
