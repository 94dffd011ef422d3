"""examples/node/decode.mjs: onnxruntime-node decodes a batch, writes PNGs, prints timing, matches Python."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import onnxruntime as ort
import pytest
from embed_support import REPO, SHIPPED
from PIL import Image
from vaekit.format import MAX_ABS_LATENT

pytestmark = pytest.mark.slow  # runs Node

EXAMPLE = REPO / "examples" / "node" / "decode.mjs"


def run(node: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([node, str(EXAMPLE), *args], capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("name", ["mnist-z2", "celeba64"])
def test_node_decodes_a_batch_like_python(node, tmp_path, name):
    folder = SHIPPED / name / "onnx"
    contract = json.loads((folder / "vaekit.json").read_text())
    c, h, w, d = (contract[k] for k in ("channels", "height", "width", "latent_dim"))
    z = np.random.default_rng(3).standard_normal((6, d)).astype(np.float32)
    (tmp_path / "z.json").write_text(json.dumps(z.tolist()))
    out = run(node, str(folder), "--z", str(tmp_path / "z.json"), "--out", str(tmp_path / "png"),
              "--raw", str(tmp_path / "images.f32"))
    assert out.returncode == 0, out.stderr
    assert "decode of 6 images" in out.stdout and " ms (mean of 10)" in out.stdout
    got = np.fromfile(tmp_path / "images.f32", dtype=np.float32).reshape(6, c, h, w)
    session = ort.InferenceSession(str(folder / "decoder.onnx"), providers=["CPUExecutionProvider"])
    expected = session.run(None, {"z": z})[0]
    assert np.abs(got - expected).max() <= 1e-5, "onnxruntime-node and Python ORT run the same kernels"
    pngs = sorted((tmp_path / "png").glob("sample-*.png"))
    assert len(pngs) == 6
    picture = np.asarray(Image.open(pngs[4]), dtype=np.int16)
    want = np.round(np.clip(expected[4], 0, 1) * 255)
    want = want[0] if c == 1 else want.transpose(1, 2, 0)
    assert picture.shape == want.shape and np.abs(picture - want).max() <= 1


def test_node_example_refuses_bad_options_with_the_fix(node, tmp_path):
    folder = str(SHIPPED / "mnist-z2" / "onnx")
    out = run(node, folder, "--count", "0")
    assert out.returncode == 2 and "--count must be a whole number in 1..4096, got 0" in out.stderr
    (tmp_path / "z.json").write_text("[[1, 2, 3]]")
    out = run(node, folder, "--z", str(tmp_path / "z.json"))
    assert out.returncode == 2 and "rows of 2 numbers (the latent size)" in out.stderr
    (tmp_path / "z.json").write_text('[[1, "2"]]')  # not a number: would decode to NaN pictures
    out = run(node, folder, "--z", str(tmp_path / "z.json"))
    assert out.returncode == 2 and "rows of 2 numbers (the latent size)" in out.stderr
    # the Python runtime's bound (vaekit.format.MAX_ABS_LATENT, through web/contract_schema.js);
    # JSON's 1e999 is Infinity, a number that would pass a type check
    for value, shown in (("1e9", "1000000000"), ("1e999", "Infinity")):
        (tmp_path / "z.json").write_text(f"[[0.5, {value}]]")
        out = run(node, folder, "--z", str(tmp_path / "z.json"), "--out", str(tmp_path / "none"))
        assert out.returncode == 2 and f"|z| <= {MAX_ABS_LATENT:g}, got |z| up to {shown}" in out.stderr
        assert not (tmp_path / "none").exists(), "nothing is written for a refused batch"


def test_node_takes_a_checkpoint_folder_as_the_python_runtime_does(node, tmp_path):
    """`node decode.mjs checkpoints/mnist-z2` decodes from its onnx/, as VAE.load does."""
    z = tmp_path / "z.json"
    z.write_text(json.dumps([[0.5, -1.0]]))
    by_checkpoint = run(node, str(SHIPPED / "mnist-z2"), "--z", str(z), "--out", str(tmp_path / "a"),
                        "--raw", str(tmp_path / "a.f32"))
    by_export = run(node, str(SHIPPED / "mnist-z2" / "onnx"), "--z", str(z), "--out", str(tmp_path / "b"),
                    "--raw", str(tmp_path / "b.f32"))
    assert by_checkpoint.returncode == 0 and by_export.returncode == 0, by_checkpoint.stderr
    assert (tmp_path / "a.f32").read_bytes() == (tmp_path / "b.f32").read_bytes()
    out = run(node, str(tmp_path / "nowhere"))
    assert out.returncode == 2 and "does not exist" in out.stderr


def test_node_names_the_precisions_an_export_ships(node):
    out = run(node, str(SHIPPED / "celeba64"), "--precision", "fp16", "--count", "1")
    assert out.returncode == 2
    assert "no fp16 graphs (it ships fp32)" in out.stderr and "--precision fp32" in out.stderr
