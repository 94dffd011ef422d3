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


# --- logistic_ar: discretised logistics with linear dependence between colour channels -------

def _ar_params(loc, log_scale, coeffs, shape=(1, 1)):
    """``[1, 2C + C(C-1)/2, *shape]`` from per-channel lists (constant over the pixels)."""
    values = torch.tensor([*loc, *log_scale, *coeffs], dtype=torch.float32)
    return values.view(1, -1, 1, 1).expand(1, len(values), *shape).clone()


def _all_pixel_values(channels):
    """Every 8-bit value of a ``channels``-channel 1x1 image: ``[256**channels, channels, 1, 1]``."""
    levels = torch.arange(256, dtype=torch.float32).div(255)
    grid = torch.cartesian_prod(*[levels] * channels)
    return grid.view(-1, channels, 1, 1)


def test_logistic_ar_sizes_its_parameters_for_coupled_channels():
    lik = get_likelihood("logistic_ar")
    assert [lik.param_channels(c) for c in (2, 3, 4)] == [5, 9, 14]
    assert get_likelihood("logistic").param_channels(3) == 6  # unchanged for shipped checkpoints
    with pytest.raises(ValueError, match="2C"):
        lik.nll(torch.zeros(1, 6, 1, 1), torch.zeros(1, 3, 1, 1))  # a "logistic" decoder's output


def test_logistic_ar_with_zero_coefficients_is_the_independent_logistic():
    g = torch.Generator().manual_seed(0)
    loc, log_scale = torch.randn(4, 3, 5, 5, generator=g), torch.randn(4, 3, 5, 5, generator=g) - 2
    x = torch.randint(0, 256, (4, 3, 5, 5), generator=g).float() / 255
    independent = get_likelihood("logistic").nll(torch.cat([loc, log_scale], 1), x)
    coupled = get_likelihood("logistic_ar").nll(torch.cat([loc, log_scale, torch.zeros(4, 3, 5, 5)], 1), x)
    assert torch.equal(coupled, independent)


@pytest.mark.parametrize("coeffs", [(0.0,), (1.5,), (-3.0,)])
def test_logistic_ar_is_a_distribution_over_all_pairs_of_values(coeffs):
    lik = get_likelihood("logistic_ar")
    x = _all_pixel_values(2)
    params = _ar_params((0.2, -0.4), (-2.5, -3.5), coeffs).expand(len(x), -1, -1, -1)
    total = torch.exp(-lik.nll(params, x).double()).sum().item()
    assert total == pytest.approx(1.0, abs=1e-4)


def test_logistic_ar_fit_learns_the_colour_coupling_and_cuts_bits_per_dim():
    """G = R + small noise: the independent logistic must spread G over R's whole range, the
    coupled one predicts G from R. The same short fit of shared parameters finds G's
    coefficient near tanh(a) = 1 and a far lower bits/dim than the independent optimum."""
    g = torch.Generator().manual_seed(0)
    red = torch.randint(40, 216, (512,), generator=g).float()
    green = (red + torch.randn(512, generator=g).mul(2).round()).clamp(0, 255)
    x = torch.stack([red, green], 1).div(255).view(512, 2, 1, 1)

    def fit(name):
        lik = get_likelihood(name)
        params = torch.zeros(1, lik.param_channels(2), 1, 1)
        params[:, 2:4] = -2.0
        params.requires_grad_(True)
        opt = torch.optim.Adam([params], lr=0.05)
        for _ in range(400):
            opt.zero_grad()
            lik.nll(params.expand(512, -1, -1, -1), x).mean().backward()
            opt.step()
        with torch.no_grad():
            nats = lik.nll(params.expand(512, -1, -1, -1), x).mean().item()
        return nats_to_bits_per_dim(nats, 2), params.detach()

    (independent, _), (coupled, params) = fit("logistic"), fit("logistic_ar")
    assert torch.tanh(params[0, 4]).item() > 0.9  # G's location follows R
    # R costs about log2(176) = 7.5 bits either way; G: as much again alone, ~3 bits given R
    assert independent > 7.0
    assert coupled < independent - 1.5


def test_logistic_ar_mean_follows_the_earlier_channels_means():
    lik = get_likelihood("logistic_ar")
    loc, a = (0.5, -0.2, 0.1), (0.7, -1.2, 2.0)  # a_10, a_20, a_21
    m0 = loc[0]
    m1 = loc[1] + math.tanh(a[0]) * m0
    m2 = loc[2] + math.tanh(a[1]) * m0 + math.tanh(a[2]) * m1
    expected = torch.tensor([(m + 1) / 2 for m in (m0, m1, m2)]).view(1, 3, 1, 1).expand(1, 3, 2, 2)
    mean = lik.mean(_ar_params(loc, (-2.0,) * 3, a, shape=(2, 2)))
    assert mean.shape == (1, 3, 2, 2)
    torch.testing.assert_close(mean, expected, atol=1e-6, rtol=0)
    # a mean outside [0, 1] is clamped, and the next channel builds on the clamped value
    clamped = lik.mean(_ar_params((1.5, 0.0), (-2.0, -2.0), (1.0,)))
    assert clamped.flatten().tolist() == pytest.approx([1.0, (math.tanh(1.0) + 1) / 2])


def test_logistic_ar_mean_is_the_expectation_over_all_pixel_values():
    """The analytic mean is the mean of the distribution itself (scales small, away from the edges)."""
    lik = get_likelihood("logistic_ar")
    params = _ar_params((0.1, -0.3), (-3.0, -3.5), (0.8,))
    x = _all_pixel_values(2)
    p = torch.exp(-lik.nll(params.expand(len(x), -1, -1, -1), x).double())
    exact = (p[:, None] * x.flatten(1).double()).sum(0) / p.sum()
    torch.testing.assert_close(lik.mean(params).flatten().double(), exact, atol=2e-3, rtol=0)


def test_logistic_ar_initial_bias_starts_as_independent_channels():
    torch.manual_seed(0)
    model = build_model(VAEConfig(in_channels=3, image_size=8, dim=8, dim_mults=(1,), latent_dim=2,
                                  likelihood="logistic_ar"))
    bias = model.decoder.output_projection[-1].bias
    assert bias.shape == (9,)
    assert bias[3:6].eq(-2.0).all() and bias[6:].eq(0.0).all()
