"""The loop's stabilisers, which every model gets: skipping spiking or non-finite updates
(counted, not fatal) and EMA weights (validated, saved and resumed exactly)."""

import json

import pytest
import torch
from support import resume_matches_straight
from vaekit.train import VAE, HVAEConfig, VAEConfig, load_model
from vaekit.train.config import DataConfig, TrainConfig
from vaekit.train.loop import train

pytestmark = pytest.mark.slow  # trains tiny models several times over

TINY = VAEConfig(dim=8, latent_dim=2)


def _data(root):
    return DataConfig(dataset="mnist", data_root=str(root), val_size=64)


def _poison(monkeypatch, calls, factor):
    """Make the training loss of the given forward calls (1-based) ``loss * factor``."""
    forward = VAE.forward
    count = {"n": 0}

    def poisoned(self, *args, **kwargs):
        terms = forward(self, *args, **kwargs)
        count["n"] += 1
        if count["n"] in calls:
            terms = {**terms, "loss": terms["loss"] * factor}
        return terms

    monkeypatch.setattr(VAE, "forward", poisoned)


def _weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_a_non_finite_update_is_skipped_and_counted_instead_of_stopping(tiny_mnist_root, tmp_path,
                                                                        monkeypatch):
    torch.set_num_threads(1)
    _poison(monkeypatch, {3}, float("nan"))
    out = tmp_path / "run"
    cfg = TrainConfig(out=str(out), epochs=1, batch_size=64, skip_threshold=1e6, log_every=2)
    model, history = train(TINY, _data(tiny_mnist_root), cfg, progress=False)
    assert history[0]["skipped_steps"] == 1 and history[0]["step"] == 4
    assert json.loads((out / "metrics.json").read_text())["skipped_steps"] == 1
    assert all(torch.isfinite(v).all() for v in model.state_dict().values())


def test_a_spiking_update_is_skipped_and_leaves_the_weights_as_they_were(tiny_mnist_root, tmp_path,
                                                                         monkeypatch):
    torch.set_num_threads(1)
    common = dict(epochs=1, batch_size=64, seed=1, skip_threshold=50.0)
    before, _ = train(TINY, _data(tiny_mnist_root),
                      TrainConfig(out=str(tmp_path / "a"), max_steps=2, **common), progress=False)
    _poison(monkeypatch, {3}, 1e6)
    after, history = train(TINY, _data(tiny_mnist_root),
                           TrainConfig(out=str(tmp_path / "b"), max_steps=3, **common),
                           progress=False)
    assert history[0]["skipped_steps"] == 1
    for (name, a), b in zip(_weights(before).items(), _weights(after).values()):
        assert torch.equal(a, b), name


def test_a_run_whose_every_update_is_skipped_stops_and_says_what_to_change(tiny_mnist_root,
                                                                           tmp_path, monkeypatch):
    _poison(monkeypatch, set(range(1, 100)), float("inf"))
    cfg = TrainConfig(out=str(tmp_path / "run"), epochs=1, batch_size=32, skip_threshold=10.0,
                      log_every=3)
    with pytest.raises(FloatingPointError, match="all skipped.*lower --lr"):
        train(TINY, _data(tiny_mnist_root), cfg, progress=False)


def test_ema_weights_differ_from_the_raw_ones_and_are_what_the_checkpoint_holds(tiny_mnist_root,
                                                                                 tmp_path):
    torch.set_num_threads(1)
    out = tmp_path / "run"
    cfg = TrainConfig(out=str(out), epochs=1, batch_size=32, lr=3e-3, ema=0.9)
    model, _ = train(TINY, _data(tiny_mnist_root), cfg, progress=False)
    saved = load_model(out)
    raw = torch.load(out / "resume.pt", weights_only=True)["model"]
    for name, value in saved.state_dict().items():
        assert torch.equal(value, model.state_dict()[name]), name
    assert any(not torch.equal(v, raw[k]) for k, v in saved.state_dict().items())


@pytest.mark.parametrize("config", [TINY, HVAEConfig(dim=8, latent_scales=(2, 1),
                                                   latent_channels=(2, 1), kl_balance=True)],
                         ids=["vae", "hvae"])
def test_resume_with_ema_matches_an_uninterrupted_run(config, tiny_mnist_root, tmp_path):
    torch.set_num_threads(1)
    common = dict(batch_size=64, seed=3, lr=2e-3, ema=0.8, skip_threshold=1e6, kl_warmup_steps=6)
    data = _data(tiny_mnist_root)
    hist_a, hist_b = resume_matches_straight(config, data, tmp_path, **common)
    raw_a = torch.load(tmp_path / "a" / "resume.pt", weights_only=True)["model"]
    raw_b = torch.load(tmp_path / "b" / "resume.pt", weights_only=True)["model"]
    assert all(torch.equal(raw_a[k], raw_b[k]) for k in raw_a)
    assert [r["valid_elbo_nats"] for r in hist_a] == [r["valid_elbo_nats"] for r in hist_b]


@pytest.mark.parametrize("kw,match", [
    (dict(ema=1.0), r"ema must be in \[0, 1\)"),
    (dict(ema=-0.1), r"ema must be in \[0, 1\)"),
    (dict(skip_threshold=-1.0), "skip_threshold must be >= 0"),
])
def test_stabiliser_options_out_of_range_are_refused(kw, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**kw)
