"""The torch-free runtime: API, shapes, providers, and every bad input it must explain."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from vaekit.runtime import VAE, interpolate_latents
from vaekit.runtime import vae as vae_module


@pytest.fixture(scope="module")
def vae(tiny_ckpt) -> VAE:
    return VAE.load(tiny_ckpt, providers="cpu")


@pytest.fixture
def export_copy(tiny_ckpt, tmp_path) -> Path:
    """A writable copy of the export folder, for tests that damage it."""
    out = tmp_path / "onnx"
    shutil.copytree(tiny_ckpt / "onnx", out)
    return out


def edit_json(folder: Path, **changes) -> None:
    path = folder / "vaekit.json"
    contract = json.loads(path.read_text())
    contract.update(changes)
    path.write_text(json.dumps(contract))


# ----------------------------------------------------------------------------- the API


def test_load_reports_what_the_model_is(vae, tiny_ckpt):
    assert vae.latent_dim == 2 and vae.image_shape == (1, 28, 28)
    assert vae.providers == ["CPUExecutionProvider"]
    assert vae.metadata["dataset"] == "mnist" and vae.metadata["likelihood"] == "bernoulli"
    assert vae.folder == tiny_ckpt / "onnx"
    # the export folder itself loads too, and gives the same model
    same = VAE.load(tiny_ckpt / "onnx", providers=["CPUExecutionProvider"], threads=1)
    assert same.metadata == vae.metadata


def test_decode_matches_the_graph_run_directly(vae, tiny_ckpt):
    z = np.random.default_rng(0).standard_normal((5, 2)).astype(np.float32)
    direct = ort.InferenceSession(str(tiny_ckpt / "onnx" / "decoder.onnx"),
                                  providers=["CPUExecutionProvider"]).run(None, {"z": z})[0]
    images = vae.decode(z)
    assert images.shape == (5, 1, 28, 28) and images.dtype == np.float32
    np.testing.assert_array_equal(images, direct)
    assert images.min() >= 0 and images.max() <= 1


def test_single_images_and_latents_are_batched_and_unbatched(vae):
    ex = vae.examples().images  # uint8 [N, 1, 28, 28]
    mean, logvar = vae.encode(ex[0])
    assert mean.shape == logvar.shape == (2,)
    batch_mean, _ = vae.encode(ex[:3])
    np.testing.assert_allclose(mean, batch_mean[0], atol=1e-5)
    assert vae.decode(mean).shape == (1, 28, 28)
    assert vae.reconstruct(ex[0]).shape == (1, 28, 28)
    assert vae.reconstruct(ex[0, 0]).shape == (28, 28)  # (H, W) in, (H, W) out
    assert vae.reconstruct(ex[:4]).shape == (4, 1, 28, 28)


def test_uint8_images_are_scaled(vae):
    ex = vae.examples().images[:6]
    a, _ = vae.encode(ex)
    b, _ = vae.encode(ex.astype(np.float64) / 255)
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_sample_is_seeded_and_temperature_scales_the_prior(vae):
    a, b = vae.sample(4, seed=3), vae.sample(4, seed=3)
    assert a.shape == (4, 1, 28, 28)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, vae.sample(4, seed=4))
    cold = vae.sample(3, seed=1, temperature=0.0)  # every sample is the decoded origin
    np.testing.assert_allclose(cold, np.repeat(vae.decode(np.zeros((1, 2)))[:1], 3, axis=0), atol=1e-6)


def test_interpolate_starts_and_ends_at_the_endpoints(vae):
    za, zb = np.array([1.5, -0.5], np.float32), np.array([-1.0, 2.0], np.float32)
    for method in ("linear", "slerp"):
        path = vae.interpolate(za, zb, 6, method=method)
        assert path.shape == (6, 1, 28, 28)
        np.testing.assert_allclose(path[0], vae.decode(za), atol=1e-5)
        np.testing.assert_allclose(path[-1], vae.decode(zb), atol=1e-5)
    ex = vae.examples().images
    assert vae.interpolate(ex[0], ex[1], 3).shape == (3, 1, 28, 28)  # images are encoded first


def test_slerp_keeps_the_norm_where_linear_shrinks_it():
    a, b = np.array([2.0, 0.0]), np.array([0.0, 2.0])
    mid_linear = interpolate_latents(a, b, 3, method="linear")[1]
    mid_slerp = interpolate_latents(a, b, 3, method="slerp")[1]
    assert np.linalg.norm(mid_linear) == pytest.approx(np.sqrt(2), abs=1e-6)
    assert np.linalg.norm(mid_slerp) == pytest.approx(2.0, abs=1e-6)


def test_lower_precision_graphs_load_and_stay_close(tiny_ckpt, vae):
    z = np.random.default_rng(1).standard_normal((8, 2)).astype(np.float32)
    ref = vae.decode(z)
    for precision, atol in (("fp16", 1e-2), ("int8", 0.1)):
        low = VAE.load(tiny_ckpt, providers="cpu", precision=precision)
        assert low.precision == precision
        assert np.abs(low.decode(z) - ref).max() < atol


# ----------------------------------------------------------------------------- providers


def test_auto_without_a_gpu_falls_back_to_cpu_quietly_and_says_why(tiny_ckpt, monkeypatch, caplog, capfd):
    monkeypatch.setattr(vae_module, "cuda_device_problem", lambda: "no NVIDIA driver found (test)")
    with caplog.at_level(logging.INFO, logger="vaekit.runtime"):
        vae = VAE.load(tiny_ckpt, providers="auto")
    assert vae.providers == ["CPUExecutionProvider"]
    assert "no NVIDIA driver found (test)" in caplog.text
    err = capfd.readouterr().err
    assert "onnxruntime" not in err and "CUDA" not in err, f"stderr spam: {err[:300]}"


def test_auto_decides_from_the_session_not_the_build(tiny_ckpt, caplog):
    with caplog.at_level(logging.INFO, logger="vaekit.runtime"):
        vae = VAE.load(tiny_ckpt, providers="auto")
    if vae_module.cuda_device_problem() is not None:  # this machine: onnxruntime-gpu, no GPU
        assert vae.providers == ["CPUExecutionProvider"] and "using CPUExecutionProvider" in caplog.text
    else:
        assert vae.providers == vae._decoder.get_providers()


@pytest.mark.skipif("CUDAExecutionProvider" not in ort.get_available_providers(),
                    reason="this onnxruntime build has no CUDA provider")
def test_cuda_that_fails_to_start_is_reported_not_hidden(tiny_ckpt, monkeypatch, caplog):
    if vae_module.cuda_device_problem() is None:
        pytest.skip("a GPU is usable here, CUDA would not fail")
    monkeypatch.setattr(vae_module, "cuda_device_problem", lambda: None)  # pretend a driver is there
    with caplog.at_level(logging.WARNING, logger="vaekit.runtime"):
        vae = VAE.load(tiny_ckpt, providers="auto")
    assert vae.providers == ["CPUExecutionProvider"]
    assert "asked for ['CUDAExecutionProvider', 'CPUExecutionProvider']" in caplog.text
    assert vae.decode(np.zeros(2)).shape == (1, 28, 28)


@pytest.mark.parametrize("providers, message", [
    ("FooExecutionProvider", "unknown execution provider 'FooExecutionProvider'"),
    (["CPUExecutionProvider", "Bogus"], "unknown execution provider 'Bogus'"),
    (["CoreMLExecutionProvider"], "not in this onnxruntime build"),
    ([], "non-empty list"),
])
def test_bad_providers_are_clear_errors(tiny_ckpt, providers, message):
    with pytest.raises(ValueError, match=message):
        VAE.load(tiny_ckpt, providers=providers)


@pytest.mark.parametrize("kwargs, message", [
    ({"threads": 0}, "threads must be a positive int"),
    ({"max_batch": 0}, "max_batch must be a positive int"),
    ({"precision": "int4"}, "unknown precision 'int4'"),
])
def test_bad_load_options(tiny_ckpt, kwargs, message):
    with pytest.raises(ValueError, match=message):
        VAE.load(tiny_ckpt, providers="cpu", **kwargs)


# ----------------------------------------------------------------------------- bad inputs


GOOD = np.zeros((2, 1, 28, 28), np.float32)


@pytest.mark.parametrize("images, message", [
    (np.zeros((2, 1, 1, 28, 28), np.float32), r"expected \(N, 1, 28, 28\).*rank 5"),
    (np.zeros(28 * 28, np.float32), "rank 1"),
    (np.zeros((2, 1, 32, 32), np.float32), "not 28x28: resize them"),
    (np.zeros((2, 3, 28, 28), np.float32), "got 3 channels where the model takes 1"),
    (np.zeros((5, 28, 28), np.float32), r"add the channel axis: images\[:, None\]"),
    (np.full((2, 1, 28, 28), np.nan, np.float32), "1568 non-finite values"),
    (GOOD + np.inf, "non-finite"),
    (GOOD + 255.0, r"must be in \[0, 1\], got values in \[255, 255\]: divide 0..255"),
    (GOOD - 0.5, r"\(x \+ 1\) / 2"),
    (np.zeros((2, 1, 28, 28), np.int64), "dtype int64: pass uint8"),
    (np.zeros((0, 1, 28, 28), np.float32), "empty batch"),
    (np.zeros((9, 1, 28, 28), np.uint8), "batch of 9 exceeds max_batch=8"),
])
def test_bad_images_are_explained(tiny_ckpt, images, message):
    vae = VAE.load(tiny_ckpt, providers="cpu", max_batch=8)
    with pytest.raises(ValueError, match=message):
        vae.encode(images)
    with pytest.raises(ValueError, match=message):
        vae.reconstruct(images)


@pytest.mark.parametrize("z, message", [
    (np.zeros((4, 3), np.float32), r"expected \(N, 2\).*latent_dim=2"),
    (np.zeros(5, np.float32), r"\(2,\) for one latent"),
    (np.zeros((1, 1, 2), np.float32), "do not fit this model"),
    (np.array([[0.0, np.nan]]), "1 non-finite values"),
    (np.array([[1e39, 0.0]]), "too large for float32"),
    (np.zeros((9, 2)), "batch of 9 exceeds max_batch=8"),
    (np.array([["a", "b"]]), "dtype <U1"),
])
def test_bad_latents_are_explained(tiny_ckpt, z, message):
    vae = VAE.load(tiny_ckpt, providers="cpu", max_batch=8)
    with pytest.raises(ValueError, match=message):
        vae.decode(z)


def test_bad_sample_and_interpolate_arguments(tiny_ckpt):
    vae = VAE.load(tiny_ckpt, providers="cpu", max_batch=8)
    with pytest.raises(ValueError, match="n must be a positive int"):
        vae.sample(0)
    with pytest.raises(ValueError, match="batch of 9 exceeds max_batch=8"):
        vae.sample(9)
    with pytest.raises(ValueError, match="temperature must be a finite number >= 0"):
        vae.sample(2, temperature=-1)
    with pytest.raises(ValueError, match="steps must be an int >= 2"):
        vae.interpolate(np.zeros(2), np.ones(2), 1)
    with pytest.raises(ValueError, match="unknown interpolation method 'cubic'"):
        vae.interpolate(np.zeros(2), np.ones(2), 4, method="cubic")


# ----------------------------------------------------------------------------- bad folders


def test_missing_folder_and_unexported_checkpoint(tmp_path, tiny_ckpt):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        VAE.load(tmp_path / "nowhere")
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    shutil.copy(tiny_ckpt / "config.json", ckpt)
    with pytest.raises(FileNotFoundError, match=f"run `python -m vaekit.export {ckpt}`"):
        VAE.load(ckpt)
    with pytest.raises(FileNotFoundError, match="not a single .onnx file"):
        VAE.load(tiny_ckpt / "onnx" / "decoder.onnx")


def test_missing_graph(export_copy):
    (export_copy / "decoder.onnx").unlink()
    with pytest.raises(FileNotFoundError, match=r"decoder.onnx is missing: re-export"):
        VAE.load(export_copy, providers="cpu")


def test_missing_variant_names_the_flag(export_copy):
    (export_copy / "encoder.int8.onnx").unlink()
    with pytest.raises(FileNotFoundError, match="--int8"):
        VAE.load(export_copy, providers="cpu", precision="int8")


def test_corrupt_graph_is_detected(export_copy):
    path = export_copy / "decoder.onnx"
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(ValueError, match="decoder.onnx is corrupt or was replaced"):
        VAE.load(export_copy, providers="cpu")


def test_unparseable_graph_is_explained(export_copy):
    path = export_copy / "decoder.onnx"
    path.write_bytes(b"this is not a protobuf")
    contract = json.loads((export_copy / "vaekit.json").read_text())
    contract["decoder"].pop("sha256")  # as if an older export had not recorded it
    (export_copy / "vaekit.json").write_text(json.dumps(contract))
    with pytest.raises(ValueError, match="is not a loadable ONNX graph"):
        VAE.load(export_copy, providers="cpu")


def test_graph_metadata_must_match_the_json(export_copy):
    edit_json(export_copy, dataset="fashion-mnist")
    with pytest.raises(ValueError, match=r"metadata of encoder.onnx does not match vaekit.json \(dataset: "
                                         r"graph 'mnist' vs vaekit.json 'fashion-mnist'\)"):
        VAE.load(export_copy, providers="cpu")


def test_graphs_from_another_model_are_refused(export_copy):
    edit_json(export_copy, latent_dim=16)
    with pytest.raises(ValueError, match="come from different exports"):
        VAE.load(export_copy, providers="cpu")


def test_invalid_json(export_copy):
    (export_copy / "vaekit.json").write_text("{ not json")
    with pytest.raises(ValueError, match="vaekit.json is not valid JSON"):
        VAE.load(export_copy, providers="cpu")


def test_missing_examples_file_says_how_to_get_it(export_copy):
    (export_copy / "examples.npz").unlink()
    vae = VAE.load(export_copy, providers="cpu")
    with pytest.raises(FileNotFoundError, match="examples.npz is missing"):
        vae.examples()


# ----------------------------------------------------------------------------- no torch


def test_runtime_never_imports_torch(tiny_ckpt):
    """A fresh interpreter where `import torch` fails loads, encodes, decodes and samples."""
    code = f"""
import json, sys
sys.modules["torch"] = None  # any `import torch` now raises ImportError
from vaekit.runtime import VAE
vae = VAE.load({str(tiny_ckpt)!r})
mean, _ = vae.encode(vae.examples().images[:3])
images = vae.decode(mean)
vae.sample(2, seed=0)
loaded = sorted(m for m, mod in sys.modules.items()
                if mod is not None and m.split(".")[0] in ("torch", "torchvision", "vaekit"))
print(json.dumps({{"modules": loaded, "shape": list(images.shape)}}))
"""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["shape"] == [3, 1, 28, 28]
    assert not [m for m in report["modules"] if m.startswith(("torch", "vaekit.train", "vaekit.export"))]
    assert "vaekit.runtime" in report["modules"]
    # the runtime uses only itself and the torch-free vocabulary in vaekit.format
    assert all(m == "vaekit" or m.startswith(("vaekit.runtime", "vaekit.format"))
               for m in report["modules"])
