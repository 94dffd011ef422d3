"""The torch-free runtime: API, shapes, providers, and broken export folders.

Bad arguments and inputs: test_bad_inputs.py; I/O binding: test_binding.py; CUDA: test_cuda.py.
"""

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
from vaekit.runtime import providers as providers_module


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


def _pretend(monkeypatch, *, build: list[str], problem: str | None) -> None:
    """This onnxruntime build offers ``build``; the driver says ``problem`` (None: a GPU)."""
    monkeypatch.setattr(providers_module, "available_providers", lambda: list(build))
    monkeypatch.setattr(providers_module, "cuda_device_problem", lambda: problem)
    monkeypatch.setattr(providers_module, "_warned", set())


GPU_BUILD = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]


def test_auto_without_a_gpu_falls_back_to_cpu_and_warns_once(tiny_ckpt, monkeypatch, caplog, capfd):
    _pretend(monkeypatch, build=GPU_BUILD, problem="no NVIDIA driver found (test)")
    with caplog.at_level(logging.WARNING, logger="vaekit.runtime"):
        vae = VAE.load(tiny_ckpt, providers="auto")
        VAE.load(tiny_ckpt, providers="auto")
    assert vae.providers == ["CPUExecutionProvider"]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "runs on CPUExecutionProvider: no NVIDIA driver found (test)" in warnings[0].getMessage()
    err = capfd.readouterr().err
    assert "[E:onnxruntime" not in err and "[W:onnxruntime" not in err, f"stderr spam: {err[:300]}"


def test_auto_with_the_cpu_onnxruntime_says_how_to_get_cuda(tiny_ckpt, monkeypatch, caplog):
    _pretend(monkeypatch, build=["CPUExecutionProvider"], problem=None)
    with caplog.at_level(logging.WARNING, logger="vaekit.runtime"):
        vae = VAE.load(tiny_ckpt, providers="auto")
    assert vae.providers == ["CPUExecutionProvider"]
    assert "this onnxruntime build has no CUDA provider (install onnxruntime-gpu)" in caplog.text


def test_auto_uses_cuda_exactly_when_a_gpu_is_usable(tiny_ckpt):
    vae = VAE.load(tiny_ckpt, providers="auto")
    usable = ("CUDAExecutionProvider" in ort.get_available_providers()
              and providers_module.cuda_device_problem() is None)
    if usable:
        assert vae.providers[0] == "CUDAExecutionProvider", f"a GPU is usable but auto chose {vae.providers}"
        assert vae.device == "cuda" and vae.io_binding
    else:
        assert vae.providers == ["CPUExecutionProvider"] and vae.device == "cpu" and not vae.io_binding


@pytest.mark.skipif("CUDAExecutionProvider" not in ort.get_available_providers(),
                    reason="this onnxruntime build has no CUDA provider")
def test_cuda_that_fails_to_start_is_reported_not_hidden(tiny_ckpt, monkeypatch, caplog):
    if providers_module.cuda_device_problem() is None:
        pytest.skip("a GPU is usable here, CUDA would not fail")
    _pretend(monkeypatch, build=ort.get_available_providers(), problem=None)  # pretend a driver is there
    with caplog.at_level(logging.WARNING, logger="vaekit.runtime"):
        vae = VAE.load(tiny_ckpt, providers="auto")
    assert vae.providers == ["CPUExecutionProvider"]
    assert "asked for ['CUDAExecutionProvider', 'CPUExecutionProvider']" in caplog.text
    assert vae.decode(np.zeros(2)).shape == (1, 28, 28)


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


@pytest.mark.parametrize("changes, message", [
    # a hand-edited file: the runtime would ask for labels the graphs do not take
    ({"num_classes": 0, "class_names": ["a", "b"]},
     r"class_names must list no names \(num_classes 0: an unconditional model\), got 2: \['a', 'b'\]; re-export"),
    ({"num_classes": 3, "class_names": ["a", "b"]}, r"class_names must list 3 names \(num_classes\), got 2"),
    ({"num_classes": 2, "class_names": [0, 1]}, r"class_names must be a list of strings, got \[0, 1\]"),
    ({"num_classes": 2, "class_names": "ab"}, "class_names must be a list of strings, got 'ab'"),
    ({"class_names": None}, "class_names must be a list of strings, got None"),
    ({"num_classes": 1, "class_names": ["a"]}, r"num_classes must be 0 \(unconditional\) or an integer >= 2, got 1"),
    ({"num_classes": True}, "num_classes must be 0 .* got True"),
])
def test_inconsistent_classes_in_the_json_are_refused(export_copy, changes, message):
    edit_json(export_copy, **changes)
    with pytest.raises(ValueError, match=message):
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
