"""Which models a benchmark run covers."""

from __future__ import annotations

import pytest

from .models import RGB64, model_specs


def test_full_run_covers_the_64x64_rgb_configuration():
    specs = model_specs("full")
    rgb = [s for s in specs if s.fresh_config == RGB64 or s.name == "celeba64"]
    assert rgb, f"no 64x64 RGB model among {[s.name for s in specs]}"
    assert len(specs) >= 2  # plus the shipped checkpoints (or the fresh MNIST stand-in)


def test_unknown_model_name_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown models \['nope'\].*rgb64-fresh"):
        model_specs("full", only="nope")
