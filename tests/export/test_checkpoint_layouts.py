"""Export and the runtime read every checkpoint layout: a folder of plain files (the shipped
ones, older runs, systems without links) and the versioned one (``model.safetensors`` a link
through ``current/``); a later save into the versioned folder makes the export stale."""

from __future__ import annotations

import json
import warnings

import pytest
import torch
from vaekit.export import export_checkpoint
from vaekit.format import CONTRACT_FILE, WEIGHTS
from vaekit.runtime import VAE
from vaekit.train import DataConfig, VAEConfig, build_model, save_checkpoint
from vaekit.train import checkpoint as ckpt_mod


def save(folder, data_root, seed: int):
    torch.manual_seed(seed)
    model = build_model(VAEConfig(dim=8, dim_mults=(1, 2), latent_dim=2))
    save_checkpoint(folder, model, data=DataConfig(dataset="mnist", data_root=str(data_root)))


def test_plain_and_versioned_folders_export_alike_and_a_new_save_is_seen_as_stale(
        tiny_mnist_root, tmp_path, monkeypatch):
    plain, versioned = tmp_path / "plain", tmp_path / "versioned"
    with monkeypatch.context() as m:
        m.setattr(ckpt_mod, "symlinks_work", lambda _: False)
        save(plain, tiny_mnist_root, 0)
    save(versioned, tiny_mnist_root, 0)
    assert not (plain / WEIGHTS).is_symlink() and (versioned / WEIGHTS).is_symlink()
    contracts = {}
    for folder in (plain, versioned):
        export_checkpoint(folder, examples=0, progress=False)
        contracts[folder.name] = json.loads((folder / "onnx" / CONTRACT_FILE).read_text())
    assert contracts["plain"]["checkpoint_sha256"] == contracts["versioned"]["checkpoint_sha256"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a fresh export loads without a word
        VAE.load(versioned, providers="cpu")
    save(versioned, tiny_mnist_root, 1)  # the next epoch: a new version behind the same name
    assert (versioned / "onnx" / CONTRACT_FILE).is_file()  # the export beside it is kept
    with pytest.warns(UserWarning, match=rf"stale.*python -m vaekit\.export {versioned}"):
        VAE.load(versioned, providers="cpu")
