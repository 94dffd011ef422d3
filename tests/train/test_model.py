import pytest
import torch
from vaekit.train import MODELS, BetaVAE, BetaVAEConfig, VAEConfig, build_model
from vaekit.train.config import model_config_from_dict
from vaekit.train.model import bottleneck_shape

CASES = {
    "mnist-28-gray": VAEConfig(in_channels=1, image_size=28, dim=8, dim_mults=(1, 2), latent_dim=2),
    "celeba-64-rgb": VAEConfig(in_channels=3, image_size=64, dim=8, dim_mults=(1, 2, 4, 8),
                               latent_dim=16, likelihood="logistic"),
}


@pytest.mark.parametrize("name", CASES)
def test_encoder_decoder_shapes(name):
    cfg = CASES[name]
    model = build_model(cfg)
    x = torch.rand(3, cfg.in_channels, cfg.image_size, cfg.image_size)
    mean, logvar = model.encoder(x)
    assert mean.shape == logvar.shape == (3, cfg.latent_dim)
    params = model.decoder(mean)
    p = model.likelihood.param_channels(cfg.in_channels)
    assert params.shape == (3, p, cfg.image_size, cfg.image_size)
    image = model.decoder_mean()(mean)
    assert image.shape == x.shape
    assert 0 <= image.min() and image.max() <= 1


@pytest.mark.parametrize("name", CASES)
def test_forward_returns_named_per_dimension_terms(name):
    cfg = CASES[name]
    model = build_model(cfg)
    x = torch.rand(4, cfg.in_channels, cfg.image_size, cfg.image_size)
    if model.likelihood.binary:
        x = x.round()
    out = model(x)
    assert set(out) == {"loss", "elbo", "recon", "kl"}
    assert torch.allclose(out["elbo"], -(out["recon"] + out["kl"]))
    assert all(v.ndim == 0 and torch.isfinite(v) for v in out.values())


def test_bottleneck_shape_follows_the_config():
    assert bottleneck_shape(CASES["mnist-28-gray"]) == (16, 7, 7)
    assert bottleneck_shape(CASES["celeba-64-rgb"]) == (64, 4, 4)


def test_stage_count_that_does_not_divide_the_image_is_refused():
    with pytest.raises(ValueError, match="fewer stages"):
        VAEConfig(image_size=28, dim_mults=(1, 2, 4))


def test_more_blocks_per_stage_and_bottleneck_blocks_build():
    cfg = VAEConfig(dim=8, blocks_per_stage=2, bottleneck_blocks=2, norm="batch")
    model = build_model(cfg)
    assert len(model.encoder.stages[0]) == 3  # 2 ConvBlocks + Downsample
    assert len(model.decoder.bottleneck) == 2
    assert model.decoder_mean()(torch.randn(2, 2)).shape == (2, 1, 28, 28)


def test_beta_vae_is_a_registered_subclass_weighting_kl():
    assert MODELS["beta_vae"] is BetaVAE
    model = build_model(BetaVAEConfig(dim=8, beta=4.0))
    assert isinstance(model, BetaVAE)
    assert model.kl_weight(0.5) == pytest.approx(2.0)  # beta times the loop's warm-up factor
    assert build_model(VAEConfig(dim=8)).kl_weight(0.5) == pytest.approx(0.5)


def test_config_round_trips_and_unknown_keys_are_errors():
    cfg = BetaVAEConfig(dim=8, beta=2.0)
    assert model_config_from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown BetaVAEConfig keys.*dimm"):
        model_config_from_dict({**cfg.to_dict(), "dimm": 3})


def test_coupled_colour_likelihood_needs_colour_images_and_names_the_fix():
    with pytest.raises(ValueError, match="in_channels >= 2, got 1.*--likelihood logistic for single-channel"):
        VAEConfig(in_channels=1, likelihood="logistic_ar")
    with pytest.raises(ValueError, match=r"unknown likelihood 'gaussian'.*'logistic_ar'"):
        VAEConfig(likelihood="gaussian")
    with pytest.raises(ValueError, match="in_channels >= 2"):  # a checkpoint's config.json too
        model_config_from_dict({**VAEConfig().to_dict(), "likelihood": "logistic_ar"})


def test_rgb_model_with_coupled_channels_trains_a_step_and_decodes_colour_means():
    torch.manual_seed(0)
    cfg = VAEConfig(in_channels=3, image_size=16, dim=8, dim_mults=(1, 2), latent_dim=3,
                    likelihood="logistic_ar")
    model = build_model(cfg)
    out_conv = model.decoder.output_projection[-1]
    assert out_conv.out_channels == 3 + 3 + 3  # locs, log scales, 3 coefficients
    grey = torch.rand(8, 1, 16, 16, generator=torch.Generator().manual_seed(1))
    x = (grey.expand(8, 3, 16, 16) * 255).round() / 255  # R = G = B: fully coupled colours
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    before = model(x)["loss"]
    before.backward()
    assert out_conv.bias.grad[6:].abs().min() > 0  # the coefficients learn
    opt.step()
    with torch.no_grad():
        after = model(x)["loss"]
    assert torch.isfinite(before) and after < before
    image = model.decoder_mean()(torch.randn(2, 3))
    assert image.shape == (2, 3, 16, 16) and 0 <= image.min() and image.max() <= 1
