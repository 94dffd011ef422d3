"""A checkpoint records no machine-specific data path, and still finds its data elsewhere."""

from __future__ import annotations

import json
from pathlib import Path

from support import write_fake_mnist
from vaekit.format import CONFIG
from vaekit.train import DataConfig, VAEConfig, build_model, save_checkpoint
from vaekit.train.checkpoint import load_checkpoint_split

REPO = Path(__file__).resolve().parents[2]


def test_the_default_data_root_is_not_recorded_and_is_found_when_read(tmp_path, monkeypatch):
    ckpt = save_checkpoint(tmp_path / "ckpt", build_model(VAEConfig(dim=8, dim_mults=(1, 2))),
                           data=DataConfig())
    assert json.loads((ckpt / CONFIG).read_text())["data"]["data_root"] == ""
    # another machine: the default root is looked up when the images are read
    root = write_fake_mnist(tmp_path / "elsewhere", train=2, test=6, style="noise")
    monkeypatch.setattr("vaekit.train.config.default_data_root", lambda: str(root))
    assert DataConfig().root() == root
    assert load_checkpoint_split(ckpt, limit=4).images.shape == (4, 1, 28, 28)


def test_the_shipped_checkpoints_record_no_absolute_path():
    for config in sorted((REPO / "checkpoints").glob(f"*/{CONFIG}")):
        root = json.loads(config.read_text())["data"]["data_root"]
        assert not Path(root).is_absolute(), f"{config} records {root!r}: make it \"\""
