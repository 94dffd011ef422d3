"""One record per dataset, in one registry: the CLI choices, the presets, the loader, the class
names and the export's presentation all come from it, and each record keeps its promises."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from support import write_fake_celeba, write_fake_mnist, write_idx
from vaekit.format import CONTRACT_FILE, ONNX_SUBFOLDER, Framing
from vaekit.train.checkpoint import load_configs
from vaekit.train.cli import build_parser, parse
from vaekit.train.config import PRESETS, DataConfig, VAEConfig
from vaekit.train.data import PRESENTATION, ImageSplit, load_split, presentation
from vaekit.train.datasets import DATASETS, Dataset, register_dataset
from vaekit.train.objective import LIKELIHOODS

REPO = Path(__file__).resolve().parents[2]


def _fake_fashion(root: Path) -> Path:
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 40), ("t10k", 20)):
        write_idx(root / "FashionMNIST" / "raw", prefix, rng.integers(0, 255, (n, 28, 28)),
                  np.arange(n) % 10)
    return root


#: dataset -> a writer of a few fake files in its layout under a data root; a dataset that is
#: registered needs one here, so that the test below checks its record against its loader
FAKE_FILES = {
    "mnist": lambda root: write_fake_mnist(root, train=40, test=20),
    "fashion-mnist": _fake_fashion,
    "celeba": lambda root: write_fake_celeba(root, splits=(4, 2, 2)),
}


@pytest.mark.parametrize("name", list(DATASETS))
def test_each_dataset_record_agrees_with_its_loader_and_its_preset(name, tmp_path):
    record = DATASETS[name]
    assert name in FAKE_FILES, f"add a writer of fake {name} files to FAKE_FILES"
    root = FAKE_FILES[name](tmp_path)
    for split in ("train", "valid", "test"):
        data = load_split(DataConfig(dataset=name, data_root=str(root), val_size=2, limit=2), split)
        assert data.images.dtype == torch.uint8
        assert tuple(data.images.shape[1:]) == (record.channels, record.image_size, record.image_size)
        assert data.classes == record.classes
        if record.classes:  # labels index the class names
            assert 0 <= int(data.labels.min()) and int(data.labels.max()) < len(record.classes)
        else:
            assert (data.labels == -1).all()
    # its preset builds a model of exactly that shape, with a likelihood for its channels
    model = VAEConfig(**PRESETS[name])
    assert (model.in_channels, model.image_size) == (record.channels, record.image_size)
    assert model.likelihood == record.likelihood in LIKELIHOODS


def _stripes(config, split, *, image_size, limit):
    """A fake loader: ``limit`` (else 5) RGB images of vertical stripes, labelled 0, 1, 0, ..."""
    n = limit or 5
    images = torch.zeros((n, 3, image_size, image_size), dtype=torch.uint8)
    images[..., ::2] = 255
    return ImageSplit(images, torch.arange(n) % 2)


STRIPES = Dataset(
    name="stripes", channels=3, image_size=16, likelihood="logistic",
    model={"dim": 8, "dim_mults": (1, 2), "latent_dim": 4}, loader=_stripes,
    classes=("even", "odd"), background="light",
    framing=lambda c: Framing(method="centre-crop", crop_fraction=c.crop_fraction),
)


@pytest.fixture
def stripes(monkeypatch):
    """STRIPES registered for the length of one test."""
    monkeypatch.setitem(DATASETS, STRIPES.name, STRIPES)
    return STRIPES


def test_a_registered_dataset_is_a_cli_choice_with_its_preset_loader_and_presentation(
        stripes, tmp_path):
    assert "stripes" in build_parser(VAEConfig).format_help()
    model, data, _, _ = parse(["--dataset", "stripes", "--out", str(tmp_path / "run")])
    assert (model.in_channels, model.image_size, model.latent_dim) == (3, 16, 4)
    assert model.likelihood == "logistic" and PRESETS["stripes"] == stripes.preset()

    train = load_split(DataConfig(dataset="stripes", limit=3), "train")
    assert train.images.shape == (3, 3, 16, 16) and train.classes == ("even", "odd")
    assert len(load_split(DataConfig(dataset="stripes", limit=3), "test")) == 5  # train only

    # what the exporter writes into vaekit.json for a checkpoint of this dataset
    assert "stripes" in PRESENTATION
    assert presentation(DataConfig(dataset="stripes", crop_fraction=0.5)) == {
        "background": "light", "framing": {"method": "centre-crop", "crop_fraction": 0.5}}


def test_an_unregistered_dataset_is_refused_naming_the_registered_ones(tmp_path, capsys):
    with pytest.raises(SystemExit):
        parse(["--dataset", "stripes", "--out", str(tmp_path / "run")])
    assert "invalid choice: 'stripes'" in capsys.readouterr().err
    with pytest.raises(ValueError, match=r"unknown dataset 'stripes'.*'mnist'"):
        DataConfig(dataset="stripes")


@pytest.mark.parametrize("broken,problem", [
    (lambda c, s, *, image_size, limit: ImageSplit(torch.zeros((2, 3, 8, 8), dtype=torch.uint8),
                                                   torch.zeros(2, dtype=torch.long)),
     "not uint8 (3, 16, 16)"),
    (lambda c, s, *, image_size, limit: _stripes(c, s, image_size=image_size, limit=0),
     "more than the limit of 3"),
    (lambda c, s, *, image_size, limit: ImageSplit(
        _stripes(c, s, image_size=image_size, limit=limit).images, torch.full((limit,), 2)),
     "labels in [2, 2], not in [0, 1]"),
])
def test_a_loader_that_breaks_its_record_is_named(monkeypatch, broken, problem):
    monkeypatch.setitem(DATASETS, "stripes", replace(STRIPES, loader=broken))
    with pytest.raises(ValueError) as err:
        load_split(DataConfig(dataset="stripes", limit=3), "train")
    assert problem in str(err.value) and "stripes loader" in str(err.value)
    assert "vaekit/train/datasets.py" in str(err.value)


@pytest.mark.parametrize("change,problem", [
    ({"model": {"image_size": 32}}, "belong in the record's own fields"),
    ({"background": "grey"}, "background must be one of"),
    ({"channels": 0}, "must be >= 1"),
])
def test_a_record_that_contradicts_itself_is_refused(change, problem):
    with pytest.raises(ValueError, match=problem):
        replace(STRIPES, **change)


def test_a_dataset_name_is_registered_once(stripes):
    with pytest.raises(ValueError, match="registered twice"):
        register_dataset(stripes)


def test_the_celeba_limit_is_applied_before_any_face_is_decoded(tmp_path, monkeypatch):
    monkeypatch.setenv("VAEKIT_CACHE", str(tmp_path / "cache"))
    root = write_fake_celeba(tmp_path / "data", splits=(4,))
    train = load_split(DataConfig(dataset="celeba", data_root=str(root), limit=2), "train")
    assert len(train) == 2
    cached = [p.name for p in (tmp_path / "cache").iterdir()]
    assert len(cached) == 1 and "-2-" in cached[0]  # two faces decoded and cached, not four


def test_the_shipped_exports_hold_the_presentation_their_dataset_gives_now():
    """The contract's ``background`` and ``framing`` stay byte for byte what was shipped."""
    contracts = sorted((REPO / "checkpoints").glob(f"*/{ONNX_SUBFOLDER}/{CONTRACT_FILE}"))
    assert contracts, "the shipped exports are missing from checkpoints/"
    for path in contracts:
        _, data_cfg, _ = load_configs(path.parent.parent)
        shipped = json.loads(path.read_text())
        assert shipped["dataset"] == data_cfg.dataset
        expected = {k: shipped[k] for k in ("background", "framing")}
        assert json.dumps(presentation(data_cfg), sort_keys=True) == json.dumps(
            expected, sort_keys=True), path
