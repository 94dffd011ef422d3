"""VAE.sample draws from the exported prior by default, from N(0, I) on request, and refuses a
prior graph it cannot trust (missing, tampered, another latent size, NaN) naming the fix."""

import json
import shutil

import numpy as np
import pytest
from support import PRIOR_KINDS
from vaekit.format import sha256_file
from vaekit.runtime import VAE


def load(folder):
    return VAE.load(folder, providers="cpu")


@pytest.mark.parametrize("kind", PRIOR_KINDS)
def test_each_export_offers_normal_and_its_own_prior(priors_exported, kind):
    vae = load(priors_exported[kind])
    assert vae.default_prior == kind and vae.prior_record.name == kind
    assert vae.priors == (("normal",) if kind == "normal" else ("normal", kind))


@pytest.mark.parametrize("kind", ["gaussian", "gmm", "vamp"])
def test_sample_decodes_the_prior_graphs_z_for_the_seeds_noise(priors_exported, kind):
    vae = load(priors_exported[kind])
    rng = np.random.default_rng(11)  # VAE.sample draws eps, then u, from default_rng(seed)
    eps, u = rng.standard_normal((5, 3), dtype=np.float32) * np.float32(0.8), rng.random(5, dtype=np.float32)
    z = vae.prior_latents(eps, u)
    np.testing.assert_allclose(vae.sample(5, seed=11, temperature=0.8), vae.decode(z), atol=1e-6)
    # N(0, I) stays available and is z = eps
    np.testing.assert_allclose(vae.sample(5, seed=11, temperature=0.8, prior="normal"), vae.decode(eps), atol=1e-6)
    assert not np.allclose(z, eps), "the prior moves the latents"


def test_temperature_zero_decodes_the_component_means(priors_exported):
    vae = load(priors_exported["gaussian"])
    images = vae.sample(4, seed=0, temperature=0.0)
    assert np.allclose(images, images[0]), "one Gaussian: every sample is its mean"
    gmm = load(priors_exported["gmm"])
    z = gmm.prior_latents(np.zeros((300, 3)), np.random.default_rng(0).random(300))
    assert len(np.unique(z.round(5), axis=0)) == gmm.prior_record.components


def test_an_unknown_prior_or_bad_noise_is_refused(priors_exported):
    vae = load(priors_exported["gmm"])
    with pytest.raises(ValueError, match=r"unknown prior 'vamp': this model samples from \('normal', 'gmm'\)"):
        vae.sample(2, prior="vamp")
    with pytest.raises(ValueError, match=r"eps must be \[N, 3\] and u \[N\]"):
        vae.prior_latents(np.zeros((2, 2)), np.zeros(2))
    with pytest.raises(ValueError, match=r"u in \[0, 1\)"):
        vae.prior_latents(np.zeros((2, 3)), np.array([0.5, 1.0]))


def copy_export(priors_exported, tmp_path, kind="gmm"):
    folder = tmp_path / kind
    shutil.copytree(priors_exported[kind], folder)
    return folder


def rewrite_contract(folder, change):
    path = folder / "vaekit.json"
    path.write_text(json.dumps(change(json.loads(path.read_text()))))


def test_a_missing_prior_graph_is_refused(priors_exported, tmp_path):
    folder = copy_export(priors_exported, tmp_path)
    (folder / "prior.onnx").unlink()
    with pytest.raises(FileNotFoundError, match="prior.onnx is missing: this model samples from its 'gmm' "
                                                "prior; re-export with `python -m vaekit.export CHECKPOINT`"):
        load(folder)


def test_a_tampered_prior_graph_is_refused(priors_exported, tmp_path):
    folder = copy_export(priors_exported, tmp_path)
    data = bytearray((folder / "prior.onnx").read_bytes())
    data[len(data) // 2] ^= 0x40
    (folder / "prior.onnx").write_bytes(bytes(data))
    with pytest.raises(ValueError, match="prior.onnx is corrupt or was replaced: its sha256 differs.*re-export"):
        load(folder)


def _swap_graph(folder, source):
    """Put another prior graph in ``folder`` with a matching sha256 (a careful tamperer)."""
    shutil.copy(source, folder / "prior.onnx")
    sha, size = sha256_file(folder / "prior.onnx"), (folder / "prior.onnx").stat().st_size
    rewrite_contract(folder, lambda c: {**c, "prior": {**c["prior"], "sha256": sha, "bytes": size}})


def test_a_prior_graph_of_another_latent_size_is_refused(priors_exported, tmp_path):
    from vaekit.export.prior_graph import prior_model
    from vaekit.train.samplers import MixtureState

    folder = copy_export(priors_exported, tmp_path)
    other = MixtureState(np.ones(1, np.float32), np.zeros((1, 2), np.float32), np.ones((1, 2), np.float32))
    (tmp_path / "other.onnx").write_bytes(prior_model(other).SerializeToString())
    _swap_graph(folder, tmp_path / "other.onnx")
    with pytest.raises(ValueError, match="this model's latents have size 3.*belongs to another model; re-export"):
        load(folder)
    # and a record that says so is refused when the contract is read
    rewrite_contract(folder, lambda c: {**c, "prior": {**c["prior"], "latent_dim": 2}})
    with pytest.raises(ValueError, match="draws latents of size 2, the model's are 3.*re-export"):
        load(folder)


def test_a_prior_graph_holding_nan_is_refused(priors_exported, tmp_path):
    from vaekit.export.prior_graph import prior_model
    from vaekit.train.samplers import MixtureState

    folder = copy_export(priors_exported, tmp_path)
    means = np.zeros((2, 3), np.float32)
    means[1, 2] = np.nan
    broken = MixtureState(np.full(2, 0.5, np.float32), means, np.ones((2, 3), np.float32))
    (tmp_path / "nan.onnx").write_bytes(prior_model(broken).SerializeToString())
    _swap_graph(folder, tmp_path / "nan.onnx")
    with pytest.raises(ValueError, match="NaN or inf latents.*python -m vaekit.train.fit_prior CHECKPOINT"):
        load(folder)


def test_an_older_exports_learned_mixture_record_asks_for_a_re_export(priors_exported, tmp_path):
    folder = copy_export(priors_exported, tmp_path, "vamp")
    rewrite_contract(folder, lambda c: {**c, "prior": {"kind": "mixture", "file": "prior.npz"}})
    with pytest.raises(ValueError, match="older vaekit.*re-export with `python -m vaekit.export"):
        load(folder)
