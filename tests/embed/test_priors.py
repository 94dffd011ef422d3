"""Every client samples through the export's prior graph: for every prior kind (N(0, I), a fitted
Gaussian, a fitted mixture, a VampPrior's learned mixture) the browser page (Chromium,
onnxruntime-web) and the Node example map their seeded noise to the z the Python runtime gives
for that noise, and decode it to the same pictures; a tampered prior graph is refused."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest
from embed_support import REPO, shipped_exports
from support import PRIOR_KINDS
from vaekit.runtime import VAE

pytestmark = pytest.mark.slow  # drives Node and Chromium

EXAMPLE = REPO / "examples" / "node" / "decode.mjs"
TOLERANCE = 1e-4  # onnxruntime-web/-node vs Python ORT on the same graph


def run_node(node, folder, tmp_path, *args):
    out = subprocess.run([node, str(EXAMPLE), str(folder), "--out", str(tmp_path / "png"),
                          "--raw", str(tmp_path / "images.f32"), "--latents-out", str(tmp_path / "latents.json"),
                          *args], capture_output=True, text=True, timeout=180, check=False)
    return out


def check_node_samples(node, folder, tmp_path, *args, prior=None, labels=None):
    """Node's z and images for its noise equal the Python runtime's for the same noise."""
    vae = VAE.load(folder, providers="cpu")
    out = run_node(node, folder, tmp_path, "--count", "6", "--seed", "3", "--temperature", "0.9", *args)
    assert out.returncode == 0, out.stderr
    got = json.loads((tmp_path / "latents.json").read_text())
    assert got["prior"] == (prior or vae.default_prior) and f"prior {got['prior']}" in out.stdout
    eps, u = np.asarray(got["eps"], np.float32).reshape(6, -1), np.asarray(got["u"], np.float32)
    z = vae.prior_latents(eps, u, prior=got["prior"])
    np.testing.assert_allclose(np.asarray(got["z"], np.float32).reshape(z.shape), z, atol=TOLERANCE)
    images = np.fromfile(tmp_path / "images.f32", dtype=np.float32).reshape(6, *vae.image_shape)
    np.testing.assert_allclose(images, vae.decode(z, labels=labels), atol=TOLERANCE)
    return z, eps


@pytest.mark.parametrize("kind", PRIOR_KINDS)
def test_node_samples_each_prior_kind_as_python_does(node, priors_exported, tmp_path, kind):
    z, eps = check_node_samples(node, priors_exported[kind], tmp_path)
    assert np.allclose(z, eps) == (kind == "normal")
    z, eps = check_node_samples(node, priors_exported[kind], tmp_path, "--prior", "normal", prior="normal")
    np.testing.assert_array_equal(z, eps)


@pytest.mark.parametrize("folder", shipped_exports(), ids=lambda p: p.parent.name)
def test_node_samples_every_shipped_model_from_its_default_prior(node, tmp_path, folder):
    classes = json.loads((folder / "vaekit.json").read_text()).get("num_classes") or 0
    if classes:  # a conditional model draws the class given by --label
        check_node_samples(node, folder, tmp_path, "--label", "7", labels=7)
    else:
        check_node_samples(node, folder, tmp_path)


def tampered(priors_exported, tmp_path_factory, where):
    folder = where / "tampered"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(priors_exported["gmm"], folder)
    data = bytearray((folder / "prior.onnx").read_bytes())
    data[len(data) // 2] ^= 0x40
    (folder / "prior.onnx").write_bytes(bytes(data))
    return folder


def test_node_refuses_a_tampered_prior_and_an_unknown_one(node, priors_exported, tmp_path):
    folder = tampered(priors_exported, tmp_path, tmp_path)
    out = run_node(node, folder, tmp_path)
    assert out.returncode == 2 and "prior.onnx is corrupt or was replaced" in out.stderr
    assert "python -m vaekit.export CHECKPOINT" in out.stderr
    out = run_node(node, priors_exported["gmm"], tmp_path, "--prior", "vamp")
    assert out.returncode == 2 and "--prior vamp: this model has normal, gmm" in out.stderr
    out = run_node(node, priors_exported["gmm"], tmp_path, "--label", "1")
    assert out.returncode == 2 and "--label: this model is not conditional" in out.stderr


# ----------------------------------------------------------------------------- the browser page


def open_page(browser, static_site, folder, query=""):
    page = browser.new_page()
    page.set_default_timeout(60_000)
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(f"{static_site}web/index.html?model=/{folder.relative_to(REPO).as_posix()}/&ep=wasm{query}")
    page.evaluate("() => window.vaekit.ready")
    return page


def page_sample(page, seed, prior):
    page.select_option("#prior", prior)
    page.fill("#seed", str(seed))
    page.fill("#count", "9")
    page.fill("#temperature", "0.8")
    page.click("#sample-button")
    page.wait_for_function(f"() => document.querySelector('#sample-timing').textContent.includes('seed {seed}, prior {prior}')")
    noise = page.evaluate("() => window.vaekit.lastNoise")
    z = np.asarray(page.evaluate("() => window.vaekit.lastZ"), np.float32)
    return np.asarray(noise["eps"], np.float32), np.asarray(noise["u"], np.float32), z


@pytest.mark.parametrize("kind", PRIOR_KINDS)
def test_the_page_samples_each_prior_kind_as_python_does(browser, static_site, priors_exported, kind):
    folder = priors_exported[kind]
    vae = VAE.load(folder, providers="cpu")
    page = open_page(browser, static_site, folder)
    options = page.eval_on_selector_all("#prior option", "os => os.map(o => o.value)")
    assert options == list(vae.priors) and page.input_value("#prior") == vae.default_prior
    for seed, prior in ((5, vae.default_prior), (6, "normal")):
        eps, u, z = page_sample(page, seed, prior)
        expected = vae.prior_latents(eps.reshape(9, 3), u, prior=prior)
        np.testing.assert_allclose(z.reshape(9, 3), expected, atol=TOLERANCE)
        images = page.evaluate("z => window.vaekit.decode(z, 9).then(a => Array.from(a))", z.tolist())
        np.testing.assert_allclose(np.asarray(images, np.float32).reshape(9, 1, 28, 28), vae.decode(expected),
                                   atol=TOLERANCE)
    assert page.errors == [], page.errors
    page.close()


def test_the_page_refuses_a_tampered_prior(browser, static_site, priors_exported):
    folder = tampered(priors_exported, None, REPO / "test-artifacts" / "priors")
    page = browser.new_page()
    page.goto(f"{static_site}web/index.html?model=/test-artifacts/priors/tampered/&ep=wasm")
    page.wait_for_function("() => document.querySelector('#status').classList.contains('error')", timeout=60_000)
    status = page.text_content("#status")
    assert "prior.onnx is corrupt or was replaced" in status and "python -m vaekit.export CHECKPOINT" in status
    page.close()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("name", ["mnist-vamp", "mnist-cvae"])
def test_the_page_samples_a_shipped_model_from_its_default_prior(browser, static_site, name):
    folder = REPO / "checkpoints" / name / "onnx"
    vae = VAE.load(folder, providers="cpu")
    if vae.default_prior == "normal":
        pytest.skip(f"{name} ships no prior graph (export it after `python -m vaekit.train.fit_prior`)")
    page = open_page(browser, static_site, folder)
    eps, u, z = page_sample(page, 2, vae.default_prior)
    np.testing.assert_allclose(z.reshape(9, -1), vae.prior_latents(eps.reshape(9, -1), u), atol=TOLERANCE)
    page.close()
