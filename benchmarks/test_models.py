"""Which models a benchmark run covers."""

from __future__ import annotations

import pytest

from . import models
from .models import RGB64, model_specs


def test_full_run_covers_the_64x64_rgb_configuration():
    specs = model_specs("full")
    rgb = [s for s in specs if s.fresh_config == RGB64 or s.name == "celeba64"]
    assert rgb, f"no 64x64 RGB model among {[s.name for s in specs]}"
    assert len(specs) >= 2  # plus the shipped checkpoints (or the fresh MNIST stand-in)


def test_unknown_model_name_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown models \['nope'\].*rgb64-fresh"):
        model_specs("full", only="nope")


def test_models_whose_decoder_takes_a_label_are_left_out_of_the_latency_cases(tmp_path, monkeypatch):
    import shutil

    from vaekit.format import CONFIG, CONTRACT_FILE, ONNX_SUBFOLDER

    for name, shipped in (("plain", "mnist-z2"), ("conditional", "mnist-cvae")):
        (tmp_path / name / ONNX_SUBFOLDER).mkdir(parents=True)
        (tmp_path / name / CONFIG).write_text("{}")
        shutil.copy(models.CHECKPOINTS / shipped / ONNX_SUBFOLDER / CONTRACT_FILE,
                    tmp_path / name / ONNX_SUBFOLDER / CONTRACT_FILE)
    monkeypatch.setattr(models, "CHECKPOINTS", tmp_path)
    assert [p.name for p in models.shipped_checkpoints()] == ["plain"]
    assert "takes ['z', 'label']" in models.untimed_checkpoints()["conditional"]


def test_the_64x64_rgb_configuration_is_the_celeba_preset():
    from vaekit.train.datasets import PRESETS

    assert RGB64 == PRESETS["celeba"]


def test_a_fresh_model_names_its_dataset_and_its_checkpoint_records_it(tmp_path):
    from vaekit.train import VAEConfig
    from vaekit.train.checkpoint import load_configs
    from vaekit.train.datasets import DATASETS

    from .models import FRESH, ModelSpec

    for name, (dataset, config) in FRESH.items():  # the dataset fits the model's channels
        assert VAEConfig(**config).in_channels == DATASETS[dataset].channels, name
    spec = ModelSpec.fresh("tiny-fresh")
    _, data, _ = load_configs(models._fresh_checkpoint(spec, tmp_path))
    assert data.dataset == spec.dataset == FRESH["tiny-fresh"][0]
