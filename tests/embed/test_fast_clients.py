"""The distilled fast decoder in the browser page (``?decoder=fast``) and the Node example (``--decoder fast``)."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import onnxruntime as ort
import pytest
from embed_support import REPO

pytestmark = pytest.mark.slow  # drives Node and Chromium

ARTIFACTS = REPO / "test-artifacts"
EXAMPLE = REPO / "examples" / "node" / "decode.mjs"
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def fast_export(fast_ckpt):
    """The tiny fast export under test-artifacts/ (the static site serves the repository)."""
    out = ARTIFACTS / "web-fast"
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(fast_ckpt / "onnx", out)
    yield out
    shutil.rmtree(out, ignore_errors=True)


def ort_decode(folder, file, z):
    session = ort.InferenceSession(str(folder / file), providers=["CPUExecutionProvider"])
    return session.run(None, {"z": z})[0]


def test_the_page_decodes_with_the_fast_decoder(browser, static_site, fast_export):
    page = browser.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{static_site}web/index.html?model=/test-artifacts/web-fast/&ep=wasm&decoder=fast")
    page.evaluate("() => window.vaekit.ready")
    assert "decoder.fast.onnx" in page.text_content("#status")
    z = np.random.default_rng(2).standard_normal((4, 2)).astype(np.float32)
    got = page.evaluate("z => window.vaekit.decode(z, 4).then(a => Array.from(a))", z.ravel().tolist())
    got = np.asarray(got, dtype=np.float32).reshape(4, 1, 28, 28)
    assert np.abs(got - ort_decode(fast_export, "decoder.fast.onnx", z)).max() <= TOLERANCE
    assert np.abs(got - ort_decode(fast_export, "decoder.onnx", z)).max() > TOLERANCE, "not the full decoder"
    page.close()


@pytest.mark.parametrize("query, words", [
    ("decoder=tiny", "decoder must be full or fast"),
    ("decoder=fast&precision=fp16", "no fp16 fast decoder"),
])
def test_the_page_names_what_is_wrong(browser, static_site, fast_export, query, words):
    page = browser.new_page()
    page.goto(f"{static_site}web/index.html?model=/test-artifacts/web-fast/&ep=wasm&{query}")
    page.wait_for_function("() => document.querySelector('#status').classList.contains('error')")
    assert words in page.text_content("#status")
    page.close()


def test_the_page_asks_for_a_student_where_the_export_has_none(browser, static_site, fast_export, tmp_path):
    plain = ARTIFACTS / "web-plain"
    shutil.rmtree(plain, ignore_errors=True)
    shutil.copytree(fast_export, plain)
    contract = json.loads((plain / "vaekit.json").read_text())
    del contract["fast_decoder"]
    (plain / "vaekit.json").write_text(json.dumps(contract))
    page = browser.new_page()
    page.goto(f"{static_site}web/index.html?model=/test-artifacts/web-plain/&ep=wasm&decoder=fast")
    page.wait_for_function("() => document.querySelector('#status').classList.contains('error')")
    assert "python -m vaekit.train.distill" in page.text_content("#status")
    page.close()
    shutil.rmtree(plain, ignore_errors=True)


def test_node_decodes_with_the_fast_decoder(node, fast_ckpt, tmp_path):
    folder = fast_ckpt / "onnx"
    z = np.random.default_rng(4).standard_normal((3, 2)).astype(np.float32)
    (tmp_path / "z.json").write_text(json.dumps(z.tolist()))
    for precision in ("fp32",):
        raw = tmp_path / f"{precision}.f32"
        out = subprocess.run([node, str(EXAMPLE), str(folder), "--decoder", "fast", "--precision", precision,
                              "--z", str(tmp_path / "z.json"), "--out", str(tmp_path / "png"), "--raw", str(raw)],
                             capture_output=True, text=True, timeout=120, check=False)
        assert out.returncode == 0, out.stderr
        file = "decoder.fast.onnx" if precision == "fp32" else "decoder.fast.int8.onnx"
        assert file in out.stdout
        got = np.fromfile(raw, dtype=np.float32).reshape(3, 1, 28, 28)
        assert np.abs(got - ort_decode(folder, file, z)).max() <= 1e-5


@pytest.mark.parametrize("args, words", [
    (["--decoder", "tiny"], "--decoder must be full or fast, got tiny"),
    (["--decoder", "fast", "--precision", "fp16"], "no fp16 fast decoder (re-export with --fp16)"),
    (["--decoder", "fast", "--precision", "int8"], "no int8 fast decoder (no int8 copy of a student"),
])
def test_node_refuses_a_bad_decoder_choice(node, fast_ckpt, args, words):
    out = subprocess.run([node, str(EXAMPLE), str(fast_ckpt / "onnx"), *args],
                         capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 2 and words in out.stderr


def test_node_asks_for_a_student_where_the_export_has_none(node, tiny_ckpt):
    out = subprocess.run([node, str(EXAMPLE), str(tiny_ckpt / "onnx"), "--decoder", "fast"],
                         capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 2 and "python -m vaekit.train.distill" in out.stderr
