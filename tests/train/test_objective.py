import math

import pytest
import torch
from vaekit.train import VAEConfig, build_model
from vaekit.train.objective import (
    gaussian_kl,
    get_likelihood,
    kl_warmup,
    log_mean_exp,
    nats_to_bits_per_dim,
)


def test_kl_matches_hand_computation():
    # dim 1: mean 1, var 1 -> 0.5 * (1 + 1 - 1 - 0) = 0.5
    # dim 2: mean 0, var 2 -> 0.5 * (0 + 2 - 1 - ln 2)
    kl = gaussian_kl(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, math.log(2)]]))
    assert kl.item() == pytest.approx(0.5 + 0.5 * (1 - math.log(2)), abs=1e-6)


def _fixed_model():
    """A 28x28 Bernoulli VAE whose posterior and decoder are pinned to known values."""
    torch.manual_seed(0)
    model = build_model(VAEConfig(dim=8, latent_dim=2))
    head = model.encoder.head[-1]
    torch.nn.init.zeros_(head.weight)
    with torch.no_grad():
        head.bias.copy_(torch.tensor([1.0, 0.0, 0.0, math.log(2)]))  # mean (1, 0), logvar (0, ln 2)
    out = model.decoder.output_projection[-1]
    torch.nn.init.zeros_(out.weight)
    torch.nn.init.zeros_(out.bias)  # logits 0: every pixel has probability 1/2
    return model


def test_elbo_of_a_known_tiny_case_matches_hand_computation():
    model = _fixed_model()
    x = (torch.rand(5, 1, 28, 28) > 0.5).float()
    terms = model.terms(x)
    recon = 784 * math.log(2)
    kl = 0.5 + 0.5 * (1 - math.log(2))
    assert torch.allclose(terms["recon"], torch.full((5,), recon), atol=1e-3)
    assert torch.allclose(terms["kl"], torch.full((5,), kl), atol=1e-5)
    assert torch.allclose(terms["elbo"], torch.full((5,), -(recon + kl)), atol=1e-3)
    out = model(x)  # per-dimension units
    assert out["elbo"].item() == pytest.approx(-(recon + kl) / 784, abs=1e-5)
    assert nats_to_bits_per_dim(recon, 784) == pytest.approx(1.0)  # a coin flip per pixel


def test_importance_bound_is_at_least_the_elbo_on_the_same_samples():
    torch.manual_seed(1)
    model = build_model(VAEConfig(dim=8, latent_dim=2)).eval()
    x = (torch.rand(6, 1, 28, 28) > 0.5).float()
    logw = model.log_importance_weights(x, None, 32, chunk=8, generator=torch.Generator().manual_seed(0))
    assert logw.shape == (32, 6)
    iwae, elbo = log_mean_exp(logw, 0), logw.mean(0)
    assert (iwae >= elbo).all()
    assert (iwae - elbo).max() > 0  # strictly tighter for a model with a non-degenerate posterior


def test_importance_weights_average_to_the_analytic_elbo():
    model = _fixed_model().eval()
    x = (torch.rand(1, 1, 28, 28) > 0.5).float()
    logw = model.log_importance_weights(x, None, 1000, generator=torch.Generator().manual_seed(0))
    expected = -(784 * math.log(2) + 0.5 + 0.5 * (1 - math.log(2)))
    # log p(z) - log q(z) has variance 1.5 here: 1000 samples give a standard error of 0.04
    assert logw.mean().item() == pytest.approx(expected, abs=0.16)


@pytest.mark.parametrize("loc,log_scale", [(0.0, -2.0), (0.9, -4.0), (-1.2, 0.5), (0.3, -7.0)])
def test_discretized_logistic_is_a_distribution_over_256_values(loc, log_scale):
    lik = get_likelihood("logistic")
    x = torch.arange(256, dtype=torch.float32).div(255).view(256, 1, 1, 1)
    params = torch.tensor([loc, log_scale]).view(1, 2, 1, 1).expand(256, 2, 1, 1)
    total = torch.exp(-lik.nll(params, x)).sum().item()
    assert total == pytest.approx(1.0, abs=1e-3)


def test_bernoulli_mean_is_sigmoid_and_logistic_mean_is_in_unit_range():
    assert get_likelihood("bernoulli").mean(torch.zeros(1, 1, 2, 2)).eq(0.5).all()
    mean = get_likelihood("logistic").mean(torch.tensor([-3.0, 0.0]).view(1, 2, 1, 1))
    assert mean.item() == 0.0


def test_kl_warmup_is_a_pure_function_of_the_step():
    assert [kl_warmup(s, 10) for s in (0, 5, 10, 20)] == [0.0, 0.5, 1.0, 1.0]
    assert kl_warmup(0, 0) == 1.0


def test_unknown_likelihood_names_the_choices():
    with pytest.raises(ValueError, match="bernoulli"):
        get_likelihood("gaussian")
