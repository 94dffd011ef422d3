"""A hierarchical VAE exports to the same two graphs as every model: the decoder takes the
prior-standardised eps of all groups, so N(0, I) through it is the hierarchical prior, and
the weights exported are the run's EMA weights."""

import json

import numpy as np
import pytest
import torch
from vaekit.export import export_checkpoint
from vaekit.runtime import VAE
from vaekit.runtime.session import build_session
from vaekit.train import HVAEConfig, build_model, load_model
from vaekit.train.config import DataConfig, TrainConfig
from vaekit.train.loop import train

pytestmark = pytest.mark.slow  # trains and exports a tiny hierarchical model

CONFIG = HVAEConfig(dim=8, latent_scales=(2, 2, 1), latent_channels=(2, 1, 1))


@pytest.fixture(scope="module")
def hvae(tmp_path_factory, tiny_mnist_root):
    """A tiny hvae trained 8 steps with --ema 0.5, then exported: ``(folder, EMA model, raw model)``."""
    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("hvae") / "run"
    data = DataConfig(dataset="mnist", data_root=str(tiny_mnist_root), val_size=64)
    cfg = TrainConfig(out=str(folder), epochs=2, batch_size=64, lr=5e-3, ema=0.5)
    model, _ = train(CONFIG, data, cfg, progress=False)
    export_checkpoint(folder, progress=False)
    raw = build_model(CONFIG)
    raw.load_state_dict(torch.load(folder / "resume.pt", weights_only=True)["model"])
    return folder, model.eval(), raw.eval()


def test_the_contract_takes_eps_of_all_groups_and_the_graphs_match_torch(hvae):
    folder, _, _ = hvae
    contract = json.loads((folder / "onnx" / "vaekit.json").read_text())
    assert contract["latent_dim"] == CONFIG.latent_dim == 2 * 49 + 49 + 196
    assert contract["encoder_inputs"] == ["image"] and contract["decoder_inputs"] == ["z"]
    assert all(d <= 1e-4 for g in ("encoder", "decoder")
               for b in contract["parity"][g].values() for d in b.values())


def test_runtime_decodes_and_encodes_like_the_torch_model(hvae):
    folder, model, _ = hvae
    vae = VAE.load(folder, providers="cpu")
    eps = np.random.default_rng(0).standard_normal((4, CONFIG.latent_dim), dtype=np.float32)
    with torch.no_grad():
        expected = model.decoder_mean()(torch.from_numpy(eps)).numpy()
        images = vae.examples().images[:3].astype(np.float32) / 255  # uint8 on disk
        mean, logvar = model.encoder(torch.from_numpy(images))
    np.testing.assert_allclose(vae.decode(eps), expected, atol=1e-4)
    got_mean, got_logvar = vae.encode(images)
    np.testing.assert_allclose(got_mean, mean.numpy(), atol=1e-4)
    np.testing.assert_allclose(got_logvar, logvar.numpy(), atol=1e-4)
    assert vae.sample(5, seed=1).shape == (5, 1, 28, 28)
    assert vae.interpolate(images[0], images[1], 4).shape == (4, 1, 28, 28)


def test_sampling_through_the_exported_decoder_follows_the_hierarchical_prior(hvae):
    folder, model, _ = hvae
    vae = VAE.load(folder, providers="cpu")
    n = 256
    # the torch model's own ancestral draws, z_l = mu_p + sigma_p * e_l group after group ...
    images, _ = model.ancestral_sample(n, generator=torch.Generator().manual_seed(4))
    # ... and the same e_l, concatenated in group order, fed to the exported decoder as eps
    g = torch.Generator().manual_seed(4)
    sides = [28 // 2**s for s in CONFIG.latent_scales]
    eps = torch.cat([torch.randn((n, c, s, s), generator=g).flatten(1)
                     for c, s in zip(CONFIG.latent_channels, sides)], dim=1).numpy()
    np.testing.assert_allclose(vae.decode(eps), images.numpy(), atol=1e-4)
    # the runtime's own N(0, I) samples have the ancestral samples' image statistics
    sampled = vae.sample(n, seed=0)
    ancestral = images.numpy()
    spread = ancestral.std(0).mean() / np.sqrt(n)
    assert abs(sampled.mean() - ancestral.mean()) < 6 * spread
    assert abs(sampled.std() - ancestral.std()) < 0.1 * ancestral.std()


def test_the_exported_weights_are_the_ema_ones(hvae):
    folder, model, raw = hvae
    vae = VAE.load(folder, providers="cpu")
    eps = np.random.default_rng(2).standard_normal((8, CONFIG.latent_dim), dtype=np.float32)
    with torch.no_grad():
        ema_images = load_model(folder).decoder_mean()(torch.from_numpy(eps)).numpy()
        raw_images = raw.decoder_mean()(torch.from_numpy(eps)).numpy()
    assert np.abs(ema_images - raw_images).max() > 1e-3  # the two weight sets differ visibly
    np.testing.assert_allclose(vae.decode(eps), ema_images, atol=1e-4)


def test_runtime_refuses_a_latent_of_another_size_naming_the_size(hvae):
    vae = VAE.load(hvae[0], providers="cpu")
    with pytest.raises(ValueError, match=f"latent_dim={CONFIG.latent_dim}"):
        vae.decode(np.zeros((2, 32), np.float32))


def test_int8_export_works_where_symbolic_shape_inference_gives_up(hvae, tmp_path, monkeypatch):
    """onnxruntime's symbolic shape inference gives up on the top-down graphs (and, giving up,
    writes sym_shape_infer_temp.onnx into the working directory); the export goes on with
    ONNX's shape inference, leaves the user's directory as it was, and the int8 decoder
    holds its quality on every kernel path."""
    folder, _, _ = hvae
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    contract = export_checkpoint(folder, out=tmp_path / "onnx", int8=True, progress=False)
    assert list(cwd.iterdir()) == [], "the export left files in the working directory"
    int8 = contract["variants"]["int8"]
    assert int8["runs_on_cpu"] and int8["decoder_psnr_db_vs_fp32"] > 30
    assert all(p["decoder_psnr_db_vs_fp32"] > 30 for p in int8["kernel_paths"].values()
               if p["decoder_psnr_db_vs_fp32"] is not None)
    vae = VAE.load(tmp_path / "onnx", providers="cpu", precision="int8")
    assert np.isfinite(vae.sample(3, seed=0)).all()
    # each latent group's mean/log-variance head stays float, so the encoder's outputs are
    # the same whether onnxruntime fuses the int8 ops into its kernels or runs them literally
    images = vae.examples().images[:4].astype(np.float32) / 255
    graph = tmp_path / "onnx" / "encoder.int8.onnx"
    fused, literal = (build_session(graph, optimization=level).run(None, {"image": images})
                      for level in ("all", "disable"))
    for a, b in zip(fused, literal):
        np.testing.assert_allclose(a, b, atol=1e-4)
