"""Loading models for the demo: a damaged examples.npz costs only that model its examples."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from vaekit.demo.handlers import Handlers
from vaekit.demo.models import load_models

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def damaged(exported, tmp_path):
    """Copies of the tiny MNIST export: one with a truncated examples.npz, one whose
    examples have the wrong image size."""
    cut = shutil.copytree(exported["mnist-tiny"], tmp_path / "cut" / "onnx")
    data = (cut / "examples.npz").read_bytes()
    (cut / "examples.npz").write_bytes(data[: len(data) // 2])
    wrong = shutil.copytree(exported["mnist-tiny"], tmp_path / "wrong" / "onnx")
    np.savez(wrong / "examples.npz", images=np.zeros((3, 1, 8, 8), np.uint8),
             labels=np.zeros(3, np.int64), classes=np.array(["0"]))
    return cut, wrong


def test_a_damaged_examples_file_is_skipped_with_a_warning(exported, damaged, caplog):
    cut, wrong = damaged
    with caplog.at_level("WARNING", logger="vaekit.demo"):
        models = load_models([exported["mnist-tiny"], cut, wrong], providers="cpu")
    assert list(models) == ["mnist-tiny", "cut", "wrong"]
    assert len(models["mnist-tiny"].examples.images) == 300, "the healthy model keeps its examples"
    for name in ("cut", "wrong"):
        m = models[name]
        assert m.examples is None and m.curated == []
        assert "examples.npz is damaged: " in m.warning and "re-export with" in m.warning
        assert "examples skipped" in m.describe()
    assert "not a readable .npz" in models["cut"].warning
    assert "the model takes uint8 [N, 1, 28, 28]" in models["wrong"].warning
    assert sum("without built-in examples" in r.message for r in caplog.records) == 2
    picture = Handlers(models).sample("cut", 0, 4, 1.0)
    assert picture.image.shape == (4 * 58, 4 * 58), "the model itself is served"
    with pytest.raises(ValueError, match="exported without examples.npz"):
        Handlers(models).reconstruct_example("cut", 0)


def test_the_export_writes_the_facts_the_demo_reads(exported):
    """vaekit.json carries background, framing and plottable, so nothing is derived."""
    models = load_models([exported["mnist-tiny"]], providers="cpu")
    f = models["mnist-tiny"].facts
    assert f.dark_background and f.plottable
    assert (f.framing.method, f.framing.centre) == ("ink-box", "mass")
    assert f.framing.box == pytest.approx(20 / 28)
    assert not {"background", "framing", "plottable"} & set(f.derived), f.derived


def test_two_models_of_the_same_name_can_be_told_apart(exported, tmp_path):
    """The info line names each model's folder, its epochs and test bound (metrics.json)."""
    import json

    twin = shutil.copytree(exported["mnist-tiny"].parent, tmp_path / "other" / "mnist-tiny")
    (twin / "metrics.json").write_text(json.dumps({"epochs": 7, "test": {
        "log_likelihood_nats": -99.5, "samples": 100, "nll_bits_per_dim": 0.183}}))
    models = load_models([exported["mnist-tiny"], twin], providers="cpu")
    assert list(models) == ["mnist-tiny", "mnist-tiny-2"]
    first, second = (m.describe() for m in models.values())
    assert str(exported["mnist-tiny"]) in first and "weights sha256" in first, "no metrics: the weights' sha256"
    assert f"folder `{twin / 'onnx'}`" in second
    assert "7 epochs · test IS log-likelihood -99.50 nats/image (K=100, 0.1830 bits/dim)" in second


def test_a_long_latent_mean_is_summarised_so_the_timing_stays_in_view():
    from vaekit.demo.handlers import LATENT_SHOWN, format_latent

    short = format_latent(np.array([0.5, -1.25]))
    assert short == "[ 0.5 , -1.25]"
    text = format_latent(np.linspace(-2, 3, 128))
    assert len(text.splitlines()) == 2 and f"({128 - LATENT_SHOWN} more)" in text
    assert "values from -2.00 to 3.00" in text


def test_an_upload_to_the_conditional_model_with_class_any_gets_its_best_fitting_class(tmp_path):
    """mnist-cvae, class menu left at "any": the upload is encoded with the class whose
    reconstruction fits it best, which for real test digits is mostly their own."""
    from PIL import Image
    from vaekit.demo.handlers import ANY_CLASS

    models = load_models([REPO / "checkpoints" / "mnist-cvae"], providers="cpu")
    h, m = Handlers(models), models["mnist-cvae"]
    right = 0
    for i in range(10):
        path = tmp_path / f"digit{i}.png"
        Image.fromarray(m.examples.images[i, 0]).save(path)
        details = h.reconstruct("mnist-cvae", str(path), ANY_CLASS).details
        assert "(the best fit of all classes" in details
        right += f"class {int(m.examples.labels[i])} (the best fit" in details
    assert right >= 8, f"only {right} of 10 test digits got their own class"


def test_a_damaged_prior_stops_start_up_with_one_line(exported, tmp_path, capsys):
    """A mixture prior that numpy cannot read (its hash updated with it) names the folder and
    the fix at start-up, whatever the runtime's reader raises."""
    import hashlib
    import json

    from vaekit.demo.__main__ import main

    folder = shutil.copytree(exported["mnist-tiny"], tmp_path / "vamp" / "onnx")
    garbage = np.random.default_rng(0).bytes(512)
    (folder / "prior.npz").write_bytes(garbage)
    contract = json.loads((folder / "vaekit.json").read_text())
    contract["prior"] = {"kind": "mixture", "file": "prior.npz", "sha256": hashlib.sha256(garbage).hexdigest()}
    (folder / "vaekit.json").write_text(json.dumps(contract))
    assert main(["--models", str(folder), "--providers", "cpu"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert f"{folder / 'prior.npz'} is damaged: not a readable .npz" in err and "re-export" in err
    assert "allow_pickle" not in err, "no advice to load an untrusted file unsafely"
