"""The loop's public step API, ``Trainer``: one step (with the stabilisers that plug into it:
update skipping and EMA weights) and one epoch, on a tiny model and random images."""

from __future__ import annotations

import pytest
import torch
from vaekit.train.config import TrainConfig, VAEConfig
from vaekit.train.data import ImageSplit
from vaekit.train.feed import DeviceFeed
from vaekit.train.schedule import ema_decay
from vaekit.train.trainer import Trainer

TINY = VAEConfig(dim=8, latent_dim=2)
CPU = torch.device("cpu")


def _trainer(tmp_path, **train) -> Trainer:
    torch.set_num_threads(1)
    return Trainer(TINY, TrainConfig(out=str(tmp_path / "run"), batch_size=8, lr=3e-3, **train),
                   device=CPU)


def _batch(n=8):
    g = torch.Generator().manual_seed(0)
    return (torch.rand(n, 1, 28, 28, generator=g) > 0.7).float(), torch.full((n,), -1)


def _weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_a_step_returns_the_terms_and_moves_the_weights(tmp_path):
    t = _trainer(tmp_path)
    before = _weights(t.model)
    terms = t.train_step(*_batch(), step=0, total_steps=10)
    assert {"loss", "elbo", "recon", "kl"} <= set(terms)
    assert all(torch.isfinite(v) for v in terms.values())
    assert any(not torch.equal(before[k], v) for k, v in t.model.state_dict().items())
    assert t.kept is t.model  # no EMA: the raw weights are what a run keeps


def test_a_step_over_the_skip_threshold_changes_neither_the_weights_nor_the_ema(tmp_path):
    t = _trainer(tmp_path, skip_threshold=1e-9, ema=0.9)  # every gradient norm is above it
    model, ema = _weights(t.model), _weights(t.ema)
    assert t.train_step(*_batch(), step=0, total_steps=10) is None
    assert all(torch.equal(model[k], v) for k, v in t.model.state_dict().items())
    assert all(torch.equal(ema[k], v) for k, v in t.ema.state_dict().items())


def test_the_ema_follows_each_update_by_the_decay_of_its_step(tmp_path):
    t = _trainer(tmp_path, ema=0.99)
    start = _weights(t.model)
    assert t.train_step(*_batch(), step=3, total_steps=10) is not None
    decay = ema_decay(3, 0.99)  # held lower than 0.99 over the first steps
    for (name, new), ema in zip(t.model.named_parameters(), t.ema.parameters()):
        torch.testing.assert_close(ema, start[name] + (1 - decay) * (new - start[name]))
    assert t.kept is t.ema


def test_an_epoch_counts_its_steps_images_and_skips(tmp_path):
    t = _trainer(tmp_path, epochs=2, max_steps=5)
    g = torch.Generator().manual_seed(0)
    data = ImageSplit(torch.randint(0, 256, (24, 1, 28, 28), dtype=torch.uint8, generator=g),
                      torch.full((24,), -1))
    feed = DeviceFeed(data, CPU, binary=True)
    first = t.run_epoch(feed, epoch=0, step=0)
    assert (first.step, first.images, first.skipped) == (3, 24, 0)
    assert first.means["loss"] == pytest.approx(-first.means["elbo"])  # no KL warm-up: loss = -ELBO
    second = t.run_epoch(feed, epoch=1, step=first.step)  # max_steps=5 ends it after two
    assert (second.step, second.images) == (5, 16)
