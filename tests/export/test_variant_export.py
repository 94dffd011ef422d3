"""Export and runtime of the VAE variants: a conditional model's label input, a learned prior,
a likelihood with coupled colour channels."""

import json

import numpy as np
import pytest
import torch
from support import write_fake_mnist
from vaekit.export import export_checkpoint
from vaekit.runtime import VAE
from vaekit.train import (
    CVAEConfig,
    DataConfig,
    MoGConfig,
    VAEConfig,
    VampConfig,
    build_model,
    save_checkpoint,
)

pytestmark = pytest.mark.slow  # exports a tiny model of each variant


def _checkpoint(folder, data_root, config):
    torch.manual_seed(0)
    model = build_model(config)
    if hasattr(model.decoder, "label_embedding") and model.decoder.label_embedding is not None:
        torch.nn.init.normal_(model.decoder.label_embedding.weight)  # make classes differ visibly
    save_checkpoint(folder, model, data=DataConfig(dataset="mnist", data_root=str(data_root)))
    return folder, model.eval()


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return write_fake_mnist(tmp_path_factory.mktemp("data"), train=16, test=80)


@pytest.fixture(scope="module")
def coupled_rgb(tmp_path_factory):
    """A 3 x 16 x 16 ``logistic_ar`` model after one training step, exported without a dataset."""
    torch.manual_seed(0)
    model = build_model(VAEConfig(in_channels=3, image_size=16, dim=8, dim_mults=(1, 2),
                                  latent_dim=3, likelihood="logistic_ar"))
    out = model.decoder.output_projection[-1]
    with torch.no_grad():
        out.bias[6:] = 1.5  # strongly coupled colours, so the graph's mean must carry them
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(1)))["loss"].backward()
    opt.step()
    folder = save_checkpoint(tmp_path_factory.mktemp("coupled") / "ckpt", model.eval())
    export_checkpoint(folder, progress=False)
    return folder, model


def _exported(tmp_path_factory, data_root, config, **options):
    """``(checkpoint folder, model)`` of ``config`` (seed 0), exported with ``options``."""
    folder, model = _checkpoint(tmp_path_factory.mktemp(config.model_type) / "ckpt", data_root, config)
    export_checkpoint(folder, progress=False, **options)
    return folder, model


@pytest.fixture(scope="module")
def cvae(tmp_path_factory, data_root):
    return _exported(tmp_path_factory, data_root, CVAEConfig(dim=8, latent_dim=2, num_classes=10), int8=True)


@pytest.fixture(scope="module")
def vamp(tmp_path_factory, data_root):
    return _exported(tmp_path_factory, data_root, VampConfig(dim=8, latent_dim=2, components=5))


@pytest.fixture(scope="module")
def mog(tmp_path_factory, data_root):
    return _exported(tmp_path_factory, data_root, MoGConfig(dim=8, latent_dim=2, gaussians=5))


def test_conditional_contract_names_the_label_input_and_classes(cvae):
    folder, _ = cvae
    contract = json.loads((folder / "onnx" / "vaekit.json").read_text())
    assert contract["num_classes"] == 10 and contract["class_names"] == [str(i) for i in range(10)]
    assert contract["encoder_inputs"] == ["image", "label"]
    assert contract["decoder_inputs"] == ["z", "label"]
    assert contract["decoder"]["inputs"]["label"] == ["N"]
    assert all(d <= 1e-4 for b in contract["parity"]["decoder"].values() for d in b.values())


def test_runtime_decodes_a_conditional_model_like_torch(cvae):
    folder, model = cvae
    vae = VAE.load(folder, providers="cpu")
    assert vae.conditional and len(vae.class_names) == 10
    z, labels = np.random.default_rng(0).standard_normal((3, 2), dtype=np.float32), np.array([1, 4, 9])
    with torch.no_grad():
        expected = model.decoder_mean()(torch.from_numpy(z), torch.from_numpy(labels)).numpy()
    np.testing.assert_allclose(vae.decode(z, labels=labels), expected, atol=1e-4)
    one = vae.sample(2, seed=0, labels=3)
    other = vae.sample(2, seed=0, labels=7)
    assert one.shape == (2, 1, 28, 28) and not np.allclose(one, other)  # the class changes the image
    images = vae.examples().images[:4]
    mean, _ = vae.encode(images, labels=vae.examples().labels[:4])
    assert mean.shape == (4, 2)
    assert vae.reconstruct(images, labels=0).shape == images.shape
    assert vae.interpolate(np.zeros(2), np.ones(2), 3, label=5).shape == (3, 1, 28, 28)
    int8 = VAE.load(folder, providers="cpu", precision="int8")
    assert np.abs(int8.decode(z, labels=labels) - expected).max() < 0.2


@pytest.mark.parametrize("labels,match", [
    (None, "conditional on 10 classes.*pass labels="),
    ([0, 10], r"must be in \[0, 10\).*from 0 to 10"),
    ([-1, 0], r"must be in \[0, 10\)"),
    (np.array([0.0, 1.0]), "must be integers.*float64"),
    (np.array([True, False]), "must be integers"),
    ([1, 2, 3], r"shape \(3,\) but the batch has 2"),
])
def test_runtime_refuses_bad_labels_before_running_a_graph(cvae, labels, match):
    vae = VAE.load(cvae[0], providers="cpu")
    with pytest.raises(ValueError, match=match):
        vae.decode(np.zeros((2, 2), np.float32), labels=labels)


@pytest.mark.parametrize("kind", ["vamp", "mog"])
def test_learned_prior_travels_with_the_export_and_sample_draws_from_it(kind, request):
    folder, model = request.getfixturevalue(kind)
    contract = json.loads((folder / "onnx" / "vaekit.json").read_text())
    assert contract["prior"]["name"] == kind and contract["prior"]["components"] == 5
    assert contract["prior"]["source"] == "learned" and contract["prior"]["covariance"] == "diag"
    assert contract["num_classes"] == 0 and contract["decoder_inputs"] == ["z"]
    vae = VAE.load(folder, providers="cpu")
    assert vae.priors == ("normal", kind) and vae.default_prior == kind
    with torch.no_grad():
        means, logvars = (t.numpy() for t in model.prior_components())
    # u in the k-th fifth of [0, 1) picks component k; eps = 0 gives its mean, eps = 1 mean + std
    u = (np.arange(5, dtype=np.float32) + 0.5) / 5
    np.testing.assert_allclose(vae.prior_latents(np.zeros((5, 2)), u), means, atol=1e-6)
    np.testing.assert_allclose(vae.prior_latents(np.ones((5, 2)), u), means + np.exp(0.5 * logvars), atol=1e-5)
    rng = np.random.default_rng(0)
    z = vae.prior_latents(rng.standard_normal((4000, 2)), rng.random(4000))
    # the mixture's mean, not N(0, I)'s zero (standard error about 1/sqrt(4000) of the spread)
    spread = np.sqrt(np.exp(logvars).mean(0) + means.var(0))
    assert np.all(np.abs(z.mean(0) - means.mean(0)) < 5 * spread / np.sqrt(4000))
    assert vae.sample(3, seed=1).shape == (3, 1, 28, 28)
    with pytest.raises(ValueError, match="not conditional"):
        vae.sample(2, labels=1)


def test_a_replaced_prior_file_is_refused(vamp, tmp_path):
    import shutil

    folder = tmp_path / "onnx"
    shutil.copytree(vamp[0] / "onnx", folder)
    data = bytearray((folder / "prior.onnx").read_bytes())
    data[-20] ^= 1  # one bit of the graph
    (folder / "prior.onnx").write_bytes(bytes(data))
    with pytest.raises(ValueError, match="prior.onnx is corrupt or was replaced.*python -m vaekit.export"):
        VAE.load(folder, providers="cpu")


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_figures_of_a_conditional_model_have_one_sample_row_per_class(cvae, backend, tmp_path):
    from vaekit.export.figures import FigureSettings, make_figures, open_codec
    from vaekit.train import plots

    folder, _ = cvae
    settings = FigureSettings(pairs=4, interpolation_rows=2, sample_columns=3)
    done = make_figures(folder, tmp_path, backend=backend, settings=settings, progress=False)
    assert plots.SAMPLES in done.paths
    codec = open_codec(folder, backend=backend)
    assert len(codec.classes) == 10
    z = np.zeros((2, 2), np.float32)
    assert not np.allclose(*codec.decode(np.concatenate([z[:1], z[:1]]), np.array([0, 5])))
    from PIL import Image

    with Image.open(done.paths[plots.SAMPLES]) as im:  # 10 rows of 28-pixel images, 3 columns
        assert im.height > im.width * 3


def test_figures_sample_a_learned_prior(vamp):
    from vaekit.export.figures import open_codec

    folder, model = vamp
    with torch.no_grad():
        means = model.prior_components()[0].numpy()
    assert np.abs(means.mean(0)).max() > 0.3  # so the check below tells the mixture from N(0, I)
    for backend in ("onnx", "torch"):
        z = open_codec(folder, backend=backend).sample_latents(2000, 0)
        assert np.abs(z.mean(0) - means.mean(0)).max() < 0.15  # the mixture's centre, not 0


def test_coupled_colour_likelihood_exports_its_mean_with_parity(coupled_rgb):
    folder, model = coupled_rgb
    contract = json.loads((folder / "onnx" / "vaekit.json").read_text())
    assert contract["likelihood"] == "logistic_ar" and contract["channels"] == 3
    assert all(d <= 1e-4 for b in contract["parity"]["decoder"].values() for d in b.values())
    vae = VAE.load(folder, providers="cpu")
    z = np.random.default_rng(0).standard_normal((5, 3), dtype=np.float32)
    with torch.no_grad():
        params = model.decoder(torch.from_numpy(z))
        expected = model.decoder_mean()(torch.from_numpy(z)).numpy()
    np.testing.assert_allclose(vae.decode(z), expected, atol=1e-4)
    # the coupling is in the graph: G and B are not their own locations alone
    independent = ((params[:, :3] + 1) / 2).clamp(0, 1).numpy()
    assert np.abs(expected[:, 1:] - independent[:, 1:]).max() > 0.05
