"""The demo's fast-decoder switch: the explorer decodes with decoder.fast.onnx where a model ships one."""

from __future__ import annotations

import numpy as np
import pytest
from vaekit.demo.app import build_app, load_models
from vaekit.demo.handlers import Handlers

pytestmark = pytest.mark.slow  # exports a tiny model with a student


@pytest.fixture(scope="module")
def models(fast_ckpt, exported):
    return load_models([fast_ckpt / "onnx", exported["mnist-tiny"]], providers="cpu")


def test_a_model_with_a_student_gets_its_fast_decoder(models):
    fast, plain = models["onnx"] if "onnx" in models else models["ckpt"], models["mnist-tiny"]
    assert fast.fast is not None and fast.fast.decoder_kind == "fast"
    assert "fast decoder" in fast.describe()
    assert plain.fast is None and "fast decoder" not in plain.describe()


def test_the_explorer_switch_picks_the_decoder(models):
    name = next(n for n, m in models.items() if m.fast is not None)
    m = models[name]
    m.prepare_explorer()
    h = Handlers(models)
    quick = h.explore(name, 0.5, -0.5, fast=True)
    full = h.explore(name, 0.5, -0.5, fast=False)
    assert "(fast decoder)" in quick.details and "(fast decoder)" not in full.details
    z = np.array([[0.5, -0.5]], np.float32)
    assert np.allclose(m.fast.decode(z), m.decoder(True).decode(z))
    assert m.decoder(False) is m.vae


def test_the_switch_is_shown_only_for_a_model_with_a_fast_decoder(models):
    app = build_app(models, delete_cache=None)
    switch = next(b for b in app.blocks.values() if getattr(b, "elem_id", None) == "explorer-fast")
    opening = next(m for m in models.values() if m.plottable)  # the page opens on it
    assert switch.visible == (opening.fast is not None) and switch.value == (opening.fast is not None)
    assert "Fast decoder" in switch.label
