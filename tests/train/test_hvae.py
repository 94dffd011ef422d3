"""The hierarchical VAE: its group spec, per-group KL terms, eps coordinates and importance
weights over the joint of all groups."""

import pytest
import torch
from support import assert_clear, run_main
from vaekit.train import HVAEConfig, build_model
from vaekit.train.cli import main, parse
from vaekit.train.hvae import kl_balance_weights
from vaekit.train.objective import log_mean_exp

SPEC = dict(dim=8, latent_scales=(2, 2, 1), latent_channels=(2, 1, 1))


def _model(seed=0, **kw):
    torch.manual_seed(seed)
    model = build_model(HVAEConfig(**{**SPEC, **kw}))
    # the posterior starts equal to the prior (zero offsets): give it something to say
    for cell in model.decoder.cells:
        torch.nn.init.normal_(cell.posterior[-1].weight, std=0.05)
    return model.eval()


def _batch(n=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 1, 28, 28, generator=g) > 0.7).float()


def test_latent_dim_is_the_size_of_all_groups_in_eps_coordinates():
    config = HVAEConfig(**SPEC)
    assert config.latent_dim == 2 * 7 * 7 + 1 * 7 * 7 + 1 * 14 * 14
    model = _model()
    mean, logvar = model.encoder(_batch())
    assert mean.shape == logvar.shape == (6, config.latent_dim)
    assert model.decoder_mean()(torch.randn(3, config.latent_dim)).shape == (3, 1, 28, 28)


@pytest.mark.parametrize("kw,words", [
    (dict(latent_scales=(3,), latent_channels=(4,)), ["do not fit", "0..2"]),
    (dict(latent_scales=(2, 1), latent_channels=(4,)), ["one entry per latent group"]),
    (dict(latent_scales=(1, 2), latent_channels=(4, 4)), ["top-down", "2 2 1"]),
    (dict(latent_scales=(2,), latent_channels=(0,)), ["latent_channels must be >= 1"]),
    (dict(latent_scales=(2,), latent_channels=(4,), latent_dim=32), ["drop --latent-dim"]),
])
def test_a_group_spec_that_does_not_fit_is_refused_naming_the_fix(kw, words):
    with pytest.raises(ValueError) as e:
        HVAEConfig(dim=8, **kw)
    assert all(w in str(e.value) for w in words), str(e.value)


def test_cli_refuses_a_group_below_the_image_in_one_line(capsys):
    code, err = run_main(main, ["--model", "hvae", "--latent-scales", "3", "--latent-channels",
                                "4", "--out", "unused"], capsys)
    assert_clear(code, err, "--latent-scales", "0..2")


def test_cli_derives_latent_dim_rather_than_taking_the_dataset_preset():
    model, *_ = parse(["--model", "hvae", "--dataset", "celeba", "--dim-mults", "1", "2", "4", "8",
                       "--latent-scales", "4", "3", "--latent-channels", "4", "2"])
    assert model.latent_dim == 4 * 4 * 4 + 2 * 8 * 8  # not the preset's 64


def test_named_group_kls_sum_to_the_kl_and_each_is_positive():
    model = _model()
    t = model.terms(_batch(), generator=torch.Generator().manual_seed(0))
    groups = [t[f"kl_g{i}"] for i in range(3)]
    assert all((g > 0).all() for g in groups)
    assert torch.allclose(sum(groups), t["kl"])
    assert torch.allclose(t["elbo"], -(t["recon"] + t["kl"]))
    logged = model(_batch())
    assert {"kl_g0", "kl_g1", "kl_g2"} <= set(logged)


def test_importance_weights_are_the_joint_over_all_groups():
    model = _model()
    x = _batch(2)
    t = model.terms(x, generator=torch.Generator().manual_seed(7))
    log_px, ratio = model.sample_weights(x, None, 1, generator=torch.Generator().manual_seed(7))
    assert torch.allclose(log_px[0], -t["recon"])  # same noise, same draw
    # E_q[log p(z) - log q(z|x)] over all groups is minus the summed per-group KL (each group's
    # analytic KL depends on the draws above it, so both sides average 300 draws; leaving one
    # group out would be off by tens of nats)
    draws = 300
    with torch.no_grad():
        _, ratios = model.sample_weights(x, None, draws, generator=torch.Generator().manual_seed(1))
        kl = model.terms(x.repeat(draws, 1, 1, 1), generator=torch.Generator().manual_seed(2))["kl"]
    assert torch.allclose(ratios.mean(0), -kl.view(draws, -1).mean(0), atol=4.0)
    logw = model.log_importance_weights(x, None, 64, chunk=16)
    assert (log_mean_exp(logw, 0) >= logw.mean(0)).all()


def test_kl_balancing_weighs_groups_by_kl_per_unit_during_warmup_only():
    w = kl_balance_weights(torch.tensor([10.0, 10.0, 40.0]), torch.tensor([10.0, 40.0, 40.0]))
    assert torch.allclose(w.mean(), torch.tensor(1.0))
    assert w[0] > w[2] > w[1]  # 1, 0.25 and 1 nats per unit (plus 0.01)
    model = _model(kl_balance=True)
    x = _batch()
    torch.manual_seed(0)
    warm = model(x, kl_scale=0.5)
    kls = torch.stack([warm[f"kl_g{i}"] for i in range(3)])  # nats per data dimension
    weights = kl_balance_weights(kls * model.data_dims,
                                 torch.tensor(model.decoder.sizes, dtype=torch.float32))
    assert torch.allclose(warm["loss"], warm["recon"] + 0.5 * (weights * kls).sum(), rtol=1e-5)
    torch.manual_seed(0)
    done = model(x, kl_scale=1.0)
    assert torch.allclose(done["loss"], -done["elbo"])


def test_the_posterior_mean_in_eps_coordinates_decodes_as_the_posterior_mean_path():
    model = _model()
    x = _batch(3)
    mean, _ = model.encoder(x)
    params, _ = model.decoder.walk(model.bottom_up(x), None)
    assert torch.allclose(model.decoder(mean), params, atol=1e-5)


def test_eps_from_n01_decodes_exactly_the_ancestral_samples_of_the_prior():
    model = _model()
    images, zs = model.ancestral_sample(5, generator=torch.Generator().manual_seed(3))
    # the same standard normal draws, in group order, as the eps the decoder graph takes
    g = torch.Generator().manual_seed(3)
    eps = torch.cat([torch.randn((5, c, s, s), generator=g).flatten(1)
                     for c, s in zip(model.config.latent_channels,
                                     (28 // 2**k for k in model.config.latent_scales))], dim=1)
    assert torch.allclose(model.decoder_mean()(eps), images, atol=1e-5)
    assert [z.shape[1] for z in zs] == list(model.decoder.sizes)
