"""Every contract variant reaches the JavaScript clients intact: for every shipped export (plain,
conditional, fitted and learned priors, fast decoder, fp16/int8; see ``support.CONTRACT_VARIANTS``)
the Node example and the browser page sample from the contract's prior, decode the class asked
for, offer exactly the precisions it lists, and give what the Python runtime gives for the same
noise. Both read vaekit.json through web/contract.js, which checks it against the schema the
Python record generates; a contract that breaks it is refused by both, naming the key."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest
from embed_support import REPO
from support import shipped_contract_variants
from vaekit.format import PRECISIONS, Contract
from vaekit.runtime import VAE

pytestmark = pytest.mark.slow  # drives Node and Chromium

EXAMPLE = REPO / "examples" / "node" / "decode.mjs"
TOLERANCE = 1e-4  # onnxruntime-web/-node vs Python ORT on the same graph
VARIANTS = list(shipped_contract_variants())
LABEL = 3  # the class a conditional model is asked for


def run_node(node, folder, tmp_path, *args):
    return subprocess.run([node, str(EXAMPLE), str(folder), "--out", str(tmp_path / "png"), *args],
                          capture_output=True, text=True, timeout=180, check=False)


@pytest.mark.parametrize("folder", VARIANTS, ids=lambda p: p.parent.name)
def test_node_honours_each_field(node, folder, tmp_path):
    contract, vae = Contract.load(folder), VAE.load(folder, providers="cpu")
    label = ["--label", str(LABEL)] if contract.conditional else []
    out = run_node(node, folder, tmp_path, "--count", "3", "--seed", "1", *label, "--raw", str(tmp_path / "x.f32"),
                   "--latents-out", str(tmp_path / "latents.json"))
    assert out.returncode == 0, out.stderr
    got = json.loads((tmp_path / "latents.json").read_text())
    assert got["prior"] == contract.default_prior.name
    eps, u = np.asarray(got["eps"], np.float32).reshape(3, -1), np.asarray(got["u"], np.float32)
    z = vae.prior_latents(eps, u)
    np.testing.assert_allclose(np.asarray(got["z"], np.float32).reshape(z.shape), z, atol=TOLERANCE)
    images = np.fromfile(tmp_path / "x.f32", np.float32).reshape(3, *contract.image_shape)
    np.testing.assert_allclose(images, vae.decode(z, labels=LABEL if contract.conditional else None), atol=TOLERANCE)
    for precision in PRECISIONS[1:]:  # exactly the precisions the contract lists
        out = run_node(node, folder, tmp_path, "--count", "1", "--precision", precision, *label)
        assert (out.returncode == 0) == (precision in contract.precisions), (precision, out.stderr)


def test_node_refuses_a_contract_the_schema_refuses(node, tmp_path):
    folder = shutil.copytree(REPO / "checkpoints" / "mnist-cvae" / "onnx", tmp_path / "export")
    contract = json.loads((folder / "vaekit.json").read_text())
    for change, words in (({"num_classes": 3}, "class_names must list 3 names"),
                          ({"added_later": 1}, 'unknown key "added_later"'),
                          ({"prior": {**contract["prior"], "latent_dim": 2}}, "belongs to another model")):
        (folder / "vaekit.json").write_text(json.dumps({**contract, **change}))
        out = run_node(node, folder, tmp_path, "--count", "1", "--label", "1")
        assert out.returncode == 2 and words in out.stderr and "python -m vaekit.export" in out.stderr, out.stderr


def open_page(browser, static_site, folder, query=""):
    page = browser.new_page()
    page.set_default_timeout(120_000)
    page.goto(f"{static_site}web/index.html?model=/{folder.relative_to(REPO).as_posix()}/&ep=wasm{query}")
    page.evaluate("() => window.vaekit.ready")
    return page


@pytest.mark.parametrize("folder", VARIANTS, ids=lambda p: p.parent.name)
def test_the_page_honours_each_field(browser, static_site, folder):
    contract, vae = Contract.load(folder), VAE.load(folder, providers="cpu")
    page = open_page(browser, static_site, folder)
    assert page.text_content("#status").startswith(contract.dataset), page.text_content("#status")
    options = page.eval_on_selector_all("#prior option", "os => os.map(o => o.value)")
    assert options == list(vae.priors) and page.input_value("#prior") == contract.default_prior.name
    precisions = page.eval_on_selector_all("#precision-picker option", "os => os.map(o => o.value)")
    assert precisions == list(contract.precisions)
    labels = page.eval_on_selector_all("#label option", "os => os.map(o => o.textContent)")
    assert labels == list(contract.class_names) and page.is_visible("#label-box") == contract.conditional
    if contract.conditional:
        page.select_option("#label", str(LABEL))
    page.click("#sample-button")
    page.wait_for_function("() => document.querySelector('#sample-timing').textContent.includes('seed')")
    noise = page.evaluate("() => window.vaekit.lastNoise")
    assert noise["prior"] == contract.default_prior.name
    n = len(noise["u"])
    z = vae.prior_latents(np.asarray(noise["eps"], np.float32).reshape(n, -1), np.asarray(noise["u"], np.float32))
    np.testing.assert_allclose(np.asarray(page.evaluate("() => window.vaekit.lastZ"), np.float32).reshape(z.shape),
                               z, atol=TOLERANCE)
    labels = [LABEL] * 2 if contract.conditional else None
    images = page.evaluate("([z, l]) => window.vaekit.decode(z, 2, l).then(a => Array.from(a))",
                           [z[:2].ravel().tolist(), labels])
    np.testing.assert_allclose(np.asarray(images, np.float32).reshape(2, *contract.image_shape),
                               vae.decode(z[:2], labels=None if labels is None else np.asarray(labels)), atol=TOLERANCE)
    assert page.evaluate("() => window.vaekit.contract.num_classes") == contract.num_classes
    page.close()


def test_the_page_refuses_a_contract_the_schema_refuses(browser, static_site):
    folder = REPO / "test-artifacts" / "contract-variants"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(REPO / "checkpoints" / "mnist-vamp" / "onnx", folder)
    try:
        contract = json.loads((folder / "vaekit.json").read_text())
        (folder / "vaekit.json").write_text(json.dumps({**contract, "background": "grey"}))
        page = browser.new_page()
        page.goto(f"{static_site}web/index.html?model=/test-artifacts/contract-variants/&ep=wasm")
        page.wait_for_function("() => document.querySelector('#status').classList.contains('error')", timeout=60_000)
        status = page.text_content("#status")
        assert "background must be one of dark, light" in status and "python -m vaekit.export" in status, status
        page.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
