"""A stale export (its checkpoint trained further after the export) loads with a warning that
names the command that brings it up to date."""

from __future__ import annotations

import shutil
import warnings

import pytest
from vaekit.runtime import VAE


def test_an_export_older_than_its_checkpoint_warns_with_the_fix(tiny_ckpt, tmp_path):
    ckpt = tmp_path / "ckpt"
    shutil.copytree(tiny_ckpt, ckpt)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the fresh export loads without a word
        VAE.load(ckpt, providers="cpu")
    weights = ckpt / "model.safetensors"
    weights.write_bytes(weights.read_bytes() + b" ")  # as another epoch would change it
    with pytest.warns(UserWarning, match=rf"stale.*python -m vaekit\.export {ckpt}"):
        vae = VAE.load(ckpt, providers="cpu")
    assert vae.sample(1, seed=0).shape == (1, 1, 28, 28)  # it still runs: a warning, not a refusal


def test_an_export_folder_without_a_checkpoint_beside_it_is_not_judged(tiny_ckpt, tmp_path):
    out = tmp_path / "onnx"
    shutil.copytree(tiny_ckpt / "onnx", out)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        VAE.load(out, providers="cpu")
