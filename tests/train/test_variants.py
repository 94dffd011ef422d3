import math

import pytest
import torch
from vaekit.train import (
    CVAE,
    IWAE,
    MODEL_CONFIGS,
    MODELS,
    BetaVAEConfig,
    CVAEConfig,
    HVAEConfig,
    IWAEConfig,
    MoGConfig,
    MoGPrior,
    VAEConfig,
    VampConfig,
    VampPrior,
    build_model,
    load_model,
    register,
)
from vaekit.train.cli import build_parser, parse
from vaekit.train.config import DataConfig, TrainConfig, model_config
from vaekit.train.data import load_split
from vaekit.train.loop import train
from vaekit.train.objective import gaussian_log_prob, log_mean_exp
from vaekit.train.variants import mixture_log_prob

TINY = dict(dim=8, latent_dim=4)
VARIANTS = {
    "vae": VAEConfig(**TINY),
    "beta_vae": BetaVAEConfig(**TINY, beta=2.0),
    "iwae": IWAEConfig(**TINY, k=3),
    "cvae": CVAEConfig(**TINY, num_classes=10),
    "vamp": VampConfig(**TINY, components=8),
    "mog": MoGConfig(**TINY, gaussians=6),
    "hvae": HVAEConfig(dim=8, latent_scales=(2, 1), latent_channels=(2, 1)),
}


def _batch(n=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(n, 1, 28, 28, generator=g) > 0.7).float()
    return x, torch.arange(n) % 10


def test_every_registered_config_has_one_model_class_and_the_cli_lists_them():
    assert set(MODELS) == set(MODEL_CONFIGS) == set(VARIANTS)
    for name, cls in MODELS.items():
        assert cls.config_class is MODEL_CONFIGS[name]
        assert type(build_model(VARIANTS[name])) is cls
    choices = next(a for a in build_parser(VAEConfig)._actions if a.dest == "model").choices
    assert sorted(choices) == sorted(MODEL_CONFIGS)


def test_a_name_registers_once():
    with pytest.raises(TypeError, match="registered twice"):
        model_config("iwae")(type("Other", (VAEConfig,), {}))
    with pytest.raises(TypeError, match="registered twice"):
        register(type("OtherIWAE", (IWAE,), {}))


@pytest.mark.parametrize("name", VARIANTS)
def test_training_steps_lower_the_loss_and_return_finite_named_terms(name):
    torch.manual_seed(0)
    model = build_model(VARIANTS[name])
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    x, y = _batch()
    losses = []
    for _ in range(6):
        terms = model(x, y, kl_scale=1.0)
        opt.zero_grad()
        terms["loss"].backward()
        opt.step()
        losses.append(terms["loss"].item())
    assert {"loss", "elbo", "recon", "kl"} <= set(terms)
    assert all(v.ndim == 0 and torch.isfinite(v) for v in terms.values())
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("name", VARIANTS)
def test_importance_sampled_bound_is_at_least_the_elbo(name):
    torch.manual_seed(1)
    model = build_model(VARIANTS[name]).eval()
    x, y = _batch(6)
    logw = model.log_importance_weights(x, y, 16, chunk=5, generator=torch.Generator().manual_seed(0))
    assert logw.shape == (16, 6)
    assert (log_mean_exp(logw, 0) >= logw.mean(0)).all()
    elbo = model.terms(x, y, generator=torch.Generator().manual_seed(0))["elbo"]
    assert elbo.shape == (6,) and torch.isfinite(elbo).all()


def test_iwae_with_one_sample_is_the_elbo_and_more_samples_tighten_it():
    torch.manual_seed(0)
    x, y = _batch()
    one = build_model(IWAEConfig(**TINY, k=1))
    torch.manual_seed(5)
    terms = one(x, y)
    assert torch.allclose(terms["iwae"], terms["elbo"]) and torch.allclose(terms["loss"], -terms["elbo"])
    many = build_model(IWAEConfig(**TINY, k=64))
    many.load_state_dict(one.state_dict())
    torch.manual_seed(5)
    terms = many(x, y)
    assert terms["iwae"] > terms["elbo"]


def test_kl_warmup_scales_the_variants_kl_weight():
    x, y = _batch()
    model = build_model(BetaVAEConfig(**TINY, beta=3.0))
    torch.manual_seed(0)
    t = model(x, y, kl_scale=0.5)
    assert torch.allclose(t["loss"], t["recon"] + 1.5 * t["kl"])


def test_cvae_decoder_depends_on_the_label():
    torch.manual_seed(0)
    model = build_model(CVAEConfig(**TINY, num_classes=3)).eval()
    torch.nn.init.normal_(model.decoder.label_embedding.weight)
    z = torch.zeros(3, 4)
    images = model.decoder_mean()(z, torch.tensor([0, 1, 2]))
    assert not torch.allclose(images[0], images[1])
    assert not torch.allclose(images[1], images[2])


@pytest.mark.parametrize("labels,match", [
    (torch.tensor([0, 3]), r"must be in \[0, 3\).*from 0 to 3"),
    (torch.tensor([-1, -1]), "needs class labels"),
    (torch.tensor([0.0, 1.0]), "must be integers"),
    (None, "is conditional: pass the class labels"),
    (torch.tensor([0, 1, 2]), "one label per image"),
])
def test_cvae_refuses_bad_labels_with_the_range(labels, match):
    model = build_model(CVAEConfig(**TINY, num_classes=3))
    x, _ = _batch(2)
    with pytest.raises(ValueError, match=match):
        model(x, labels)


def test_cvae_refuses_data_with_another_class_count():
    model = build_model(CVAEConfig(**TINY, num_classes=5))
    with pytest.raises(ValueError, match="10 classes.*--num-classes 10"):
        model.check_labels(torch.tensor([0, 1]), tuple("0123456789"))


@pytest.mark.parametrize("cls,kw,match", [
    (IWAEConfig, {"k": 0}, "k must be >= 1.*--k"),
    (CVAEConfig, {"num_classes": 1}, "num_classes must be >= 2"),
    (VampConfig, {"components": 0}, "components must be >= 1"),
    (BetaVAEConfig, {"beta": 0.0}, "beta must be > 0"),
])
def test_variant_options_out_of_range_are_refused(cls, kw, match):
    with pytest.raises(ValueError, match=match):
        cls(**TINY, **kw)


def test_vamp_mixture_of_one_component_is_that_gaussian():
    z, mean, logvar = torch.randn(5, 3), torch.randn(1, 3), torch.randn(1, 3)
    assert torch.allclose(mixture_log_prob(z, mean, logvar), gaussian_log_prob(z, mean[0], logvar[0]),
                          atol=1e-5)
    two = mixture_log_prob(z, mean.repeat(2, 1), logvar.repeat(2, 1))  # same component twice
    assert torch.allclose(two, gaussian_log_prob(z, mean[0], logvar[0]), atol=1e-5)
    assert mixture_log_prob(torch.randn(2, 7, 3), mean, logvar).shape == (2, 7)


def test_vamp_pseudo_inputs_are_images_and_the_prior_follows_training():
    torch.manual_seed(0)
    model = build_model(VampConfig(**TINY, components=6))
    assert isinstance(model, VampPrior)
    u = model.pseudo_inputs()
    assert u.shape == (6, 1, 28, 28) and 0 <= u.min() and u.max() <= 1
    with torch.no_grad():
        means, _ = model.prior_components()
        assert means.shape == (6, 4)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    x, y = _batch()
    model(x, y)["loss"].backward()
    opt.step()
    with torch.no_grad():
        assert not torch.allclose(model.prior_components()[0], means)  # no stale cached prior


def test_mog_prior_is_its_learned_mixture_and_follows_training():
    torch.manual_seed(0)
    model = build_model(MoGConfig(**TINY, gaussians=6))
    assert isinstance(model, MoGPrior) and model.learned_prior == "mog"
    z = torch.randn(5, 4)
    with torch.no_grad():
        means, logvars = model.prior_components()
        assert means.shape == logvars.shape == (6, 4) and not means.requires_grad
        assert torch.allclose(model.log_prior(z), mixture_log_prob(z, means, logvars))
        before = means.clone()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    x, y = _batch()
    model(x, y)["loss"].backward()
    opt.step()
    assert not torch.allclose(model.prior_components()[0], before)  # the prior is trained


def test_cli_adds_each_variants_own_flags():
    help_text = build_parser(MODEL_CONFIGS["vamp"]).format_help()
    assert "--components" in help_text and "pseudo-inputs" in help_text
    model, *_ = parse(["--model", "iwae", "--k", "7"])
    assert isinstance(model, IWAEConfig) and model.k == 7
    with pytest.raises(SystemExit):
        parse(["--model", "vae", "--k", "7"])  # another variant's flag is an error


@pytest.mark.slow  # trains each variant twice
@pytest.mark.parametrize("name", ["iwae", "cvae", "vamp", "mog", "hvae"])
def test_variant_trains_an_epoch_resumes_and_reloads(name, tiny_mnist_root, tmp_path):
    torch.set_num_threads(1)
    config = VARIANTS[name]
    data = DataConfig(dataset="mnist", data_root=str(tiny_mnist_root), val_size=64, limit=96)
    common = dict(batch_size=48, seed=2, lr=2e-3)
    out = str(tmp_path / "run")
    train(config, data, TrainConfig(out=out, epochs=1, **common), progress=False)
    model, history = train(config, data, TrainConfig(out=out, epochs=2, resume=True, **common),
                           progress=False)
    assert [r["epoch"] for r in history] == [1, 2]
    assert all(math.isfinite(r["valid_elbo_nats"]) for r in history)
    loaded = load_model(out)
    assert type(loaded) is type(model)
    test = load_split(data, "test")
    x, y = test.float_batch(torch.arange(4)), test.labels[:4]
    x = (x > 0.5).float()
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    assert torch.equal(loaded.terms(x, y, generator=g())["elbo"],
                       model.eval().terms(x, y, generator=g())["elbo"])


def test_cvae_training_on_unlabelled_or_mismatched_data_says_what_to_change(tiny_mnist_root, tmp_path):
    data = DataConfig(dataset="mnist", data_root=str(tiny_mnist_root), val_size=64, limit=48)
    model = build_model(CVAEConfig(**TINY, num_classes=4))
    train_split = load_split(data, "train")
    with pytest.raises(ValueError, match="--num-classes 10"):
        model.check_labels(train_split.labels, train_split.classes)
    assert isinstance(build_model(CVAEConfig(**TINY)), CVAE)
