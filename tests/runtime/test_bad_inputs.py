"""Every bad argument the runtime can get, and the message a user reads (problem and fix).

One table per entry point; each row is one thing a user could pass by mistake. None may
end in a traceback from inside onnxruntime or in a silent wrong result (NaN images).
"""

from __future__ import annotations

import numpy as np
import pytest
from vaekit.runtime import VAE, CudaOptions, interpolate_latents
from vaekit.runtime import providers as providers_module

GOOD = np.zeros((2, 1, 28, 28), np.float32)


@pytest.fixture(scope="module")
def vae(tiny_ckpt) -> VAE:
    return VAE.load(tiny_ckpt, providers="cpu", max_batch=8)


# ----------------------------------------------------------------------------- VAE.load


@pytest.mark.parametrize("kwargs, message", [
    ({"threads": 0}, r"threads must be an int in \[1, 1024\] or None"),
    ({"threads": 2.5}, r"threads must be an int .* got 2.5 \(float\)"),
    ({"threads": True}, r"threads must be an int .* got True \(bool\)"),
    ({"max_batch": 0}, r"max_batch must be an int in \[1, 1048576\], got 0"),
    ({"max_batch": 1 << 30}, r"max_batch must be an int in \[1, 1048576\], got 1073741824"),
    ({"max_batch": "64"}, r"max_batch must be an int .* got '64' \(str\)"),
    ({"precision": "int4"}, r"unknown precision 'int4'; choose one of \('fp32', 'fp16', 'int8'\)"),
    ({"providers": "FooExecutionProvider"}, "unknown execution provider 'FooExecutionProvider'"),
    ({"providers": ["CPUExecutionProvider", "Bogus"]}, "unknown execution provider 'Bogus'"),
    ({"providers": ["CoreMLExecutionProvider"]}, "not in this onnxruntime build"),
    ({"providers": []}, "non-empty list"),
    ({"providers": 3}, "providers must be 'auto', 'cpu', 'cuda', 'tensorrt' or a non-empty list"),
    # (name, options) pairs: onnxruntime's own refusal read as a broken graph, or fell back to CPU
    ({"providers": [("CPUExecutionProvider", "fast")]},
     r"the options of provider 'CPUExecutionProvider' must be a dict of option names to values, got 'fast' "
     r"\(str\): e\.g\. providers=\[\(\"CUDAExecutionProvider\", \{\"device_id\": 0\}\)"),
    ({"providers": [("CUDAExecutionProvider", None), "CPUExecutionProvider"]},
     r"the options of provider 'CUDAExecutionProvider' must be a dict .* got None \(NoneType\)"),
    ({"providers": [("CPUExecutionProvider", ["device_id", 0])]}, r"must be a dict .* got \['device_id', 0\] \(list\)"),
    ({"providers": [("CPUExecutionProvider", 0)]}, r"must be a dict .* got 0 \(int\)"),
    ({"providers": [("CPUExecutionProvider", {0: "1"})]},
     r"provider 'CPUExecutionProvider' option 0 \(int\) must be named by a string"),
    ({"providers": [("CPUExecutionProvider", {"device_id": None})]},
     r"provider 'CPUExecutionProvider' option 'device_id' must be a str, int, float or bool, got None"),
    ({"providers": [["CPUExecutionProvider", {}]]}, r"is a list: write the \(name, options\) pair as a tuple"),
    ({"providers": [("CPUExecutionProvider",)]}, r"providers entry \('CPUExecutionProvider',\) is neither a "
                                                 r"provider name nor a \(name, options\) tuple"),
    ({"providers": [("CPUExecutionProvider", {}, 1)]}, "is neither a provider name nor a"),
    ({"providers": [None]}, "providers entry None is neither a provider name nor a"),
    ({"providers": ("CPUExecutionProvider", {})},
     r"is one \(name, options\) pair: wrap it in a list, e\.g\. providers=\[\('CPUExecutionProvider', \{\}\)\]"),
    ({"cuda": {"device_id": 1}}, "cuda must be a vaekit.runtime.CudaOptions or None, got dict"),
    ({"cuda": CudaOptions()}, r"cuda=CudaOptions\(...\) was given but providers='cpu' has no CUDA"),
    ({"io_binding": "yes"}, r"io_binding must be True, False or None \(automatic\), got 'yes'"),
])
def test_bad_load_options(tiny_ckpt, kwargs, message):
    kwargs = {"providers": "cpu", **kwargs}
    with pytest.raises(ValueError, match=message):
        VAE.load(tiny_ckpt, **kwargs)


def test_provider_pairs_with_options_load(tiny_ckpt):
    vae = VAE.load(tiny_ckpt, providers=[("CPUExecutionProvider", {"arena_extend_strategy": "kSameAsRequested"})])
    assert vae.providers == ["CPUExecutionProvider"]


def test_build_session_names_a_bad_provider_entry_not_the_graph(tiny_ckpt):
    """The exporter and the benchmarks open graphs through build_session directly."""
    from vaekit.runtime.session import build_session

    with pytest.raises(ValueError, match="the options of provider 'CPUExecutionProvider' must be a dict") as e:
        build_session(tiny_ckpt / "onnx" / "decoder.onnx", providers=[("CPUExecutionProvider", "fast")])
    assert "not a loadable ONNX graph" not in str(e.value)
    with pytest.raises(ValueError, match="providers must be a list of onnxruntime provider names"):
        build_session(tiny_ckpt / "onnx" / "decoder.onnx", providers="CPUExecutionProvider")


@pytest.mark.parametrize("kwargs, message", [
    ({"device_id": -1}, r"CudaOptions.device_id must be an int in \[0, 1024\)"),
    ({"device_id": "0"}, r"CudaOptions.device_id must be an int"),
    ({"conv_algo_search": "fast"}, r"conv_algo_search must be one of \('EXHAUSTIVE', 'HEURISTIC', 'DEFAULT'\)"),
    ({"tf32": "off"}, "CudaOptions.tf32 must be True or False, got 'off'"),
    ({"cuda_graph": 1}, "CudaOptions.cuda_graph must be True or False, got 1"),
])
def test_bad_cuda_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CudaOptions(**kwargs)


def test_cuda_without_a_gpu_is_refused_with_the_reason(tiny_ckpt, monkeypatch):
    monkeypatch.setattr(providers_module, "available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    monkeypatch.setattr(providers_module, "cuda_device_problem", lambda: "no NVIDIA driver found (test)")
    with pytest.raises(ValueError, match=r"providers='cuda', but no NVIDIA driver found \(test\): pass providers='auto'"):
        VAE.load(tiny_ckpt, providers="cuda")
    monkeypatch.setattr(providers_module, "available_providers", lambda: ["CPUExecutionProvider"])
    with pytest.raises(ValueError, match="this onnxruntime build has no CUDAExecutionProvider .* install onnxruntime-gpu"):
        VAE.load(tiny_ckpt, providers="cuda")


# ----------------------------------------------------------------------------- images


@pytest.mark.parametrize("images, message", [
    (np.zeros((2, 1, 1, 28, 28), np.float32), r"expected \(N, 1, 28, 28\).*rank 5"),
    (np.zeros(28 * 28, np.float32), "rank 1"),
    (np.float32(0.5), "rank 0"),
    (np.zeros((2, 1, 32, 32), np.float32), "not 28x28: resize them"),
    (np.zeros((2, 3, 28, 28), np.float32), r"got 3 channels where the model takes 1 \(convert the colour mode"),
    (np.zeros((5, 28, 28), np.float32), r"add the channel axis: images\[:, None\]"),
    (np.zeros((28, 28, 1), np.uint8), r"channels-last \(H, W, C\) with 1 channel\(s\): .*image.transpose\(2, 0, 1\)"),
    (np.zeros((4, 28, 28, 1), np.uint8), r"channels-last .*images.transpose\(0, 3, 1, 2\)"),
    (np.zeros((28, 28, 3), np.uint8), r"channels-last \(H, W, C\) with 3 channels where the model takes 1: "
                                      r"convert the colour mode \(e.g. PIL's .convert\('L'\)\)"),
    (np.full((2, 1, 28, 28), np.nan, np.float32), "1568 non-finite values"),
    (GOOD + np.inf, "non-finite"),
    (np.full((2, 1, 28, 28), 1e300), "non-finite"),  # float64 too large for float32
    (GOOD + 255.0, r"must be in \[0, 1\], got values in \[255, 255\]: divide 0..255"),
    (GOOD - 0.5, r"\(x \+ 1\) / 2"),
    (np.zeros((2, 1, 28, 28), np.int64), "dtype int64: pass uint8"),
    (np.zeros((2, 1, 28, 28), np.complex64), "dtype complex64: pass uint8"),
    (np.zeros((0, 1, 28, 28), np.float32), "empty batch"),
    (np.zeros((9, 1, 28, 28), np.uint8), "batch of 9 exceeds max_batch=8: split it into chunks"),
    ([["not", "an"], ["image", "!"]], "images of shape"),
])
def test_bad_images_are_explained(vae, images, message):
    with pytest.raises(ValueError, match=message):
        vae.encode(images)
    with pytest.raises(ValueError, match=message):
        vae.reconstruct(images)


def test_channels_last_rgb_images_on_an_rgb_model_say_transpose():
    from vaekit.runtime.inputs import shape_problem

    msg = shape_problem((64, 64, 3), (3, 64, 64))
    assert "channels-last (H, W, C) with 3 channel(s): move the channel axis first with image.transpose(2, 0, 1)" in msg
    assert "channels" in shape_problem((8, 64, 64, 3), (3, 64, 64)) and "64 channels" not in msg


# ----------------------------------------------------------------------------- latents


@pytest.mark.parametrize("z, message", [
    (np.zeros((4, 3), np.float32), r"expected \(N, 2\).*latent_dim=2"),
    (np.zeros(5, np.float32), r"\(2,\) for one latent"),
    (np.zeros((1, 1, 2), np.float32), "do not fit this model"),
    (np.array([[0.0, np.nan]]), "1 non-finite values"),
    (np.array([[1e39, 0.0]]), "too large for float32"),
    ([1e37, 0.0], r"latents must satisfy \|z\| <= 10000, got \|z\| up to 1e\+37: .*scale them down"),
    (np.array([[-2e4, 0.0]]), r"\|z\| up to 20000"),
    (np.zeros((9, 2)), "batch of 9 exceeds max_batch=8"),
    (np.zeros((0, 2)), "empty batch"),
    (np.array([["a", "b"]]), "dtype <U1"),
    (np.array([True, False]), "dtype bool"),
])
def test_bad_latents_are_explained(vae, z, message):
    with pytest.raises(ValueError, match=message):
        vae.decode(z)


def test_a_decode_that_overflows_is_an_error_not_nan_images(vae, monkeypatch):
    """Inside the bound a graph can still overflow (fp16): the output check catches it."""
    nan = np.full((1, 1, 28, 28), np.nan, np.float32)
    monkeypatch.setattr(vae._decoder, "run", lambda feeds, output="numpy": [nan])
    with pytest.raises(ValueError, match=r"decoder returned 784 non-finite pixel values \(largest \|z\| in "
                                         r"the batch: 9000\): .*pass latents closer to 0"):
        vae.decode([9000.0, 0.0])
    with pytest.raises(ValueError, match="non-finite pixel values"):
        vae.sample(1, seed=0)


# ----------------------------------------------------------------------------- sample, interpolate, output


@pytest.mark.parametrize("call, message", [
    (lambda v: v.sample(0), r"n must be an int in \[1, 1048576\] \(how many images\), got 0"),
    (lambda v: v.sample(-3), r"n must be an int .* got -3"),
    (lambda v: v.sample(2.0), r"n must be an int .* got 2.0 \(float\)"),
    (lambda v: v.sample(9), "batch of 9 exceeds max_batch=8"),
    (lambda v: v.sample(2, temperature=-1), r"temperature must be a finite number in \[0, 100\]"),
    (lambda v: v.sample(2, temperature=1e37), r"temperature must be a finite number in \[0, 100\] .* got 1e\+37"),
    (lambda v: v.sample(2, temperature=float("nan")), "temperature must be a finite number"),
    (lambda v: v.sample(2, temperature="hot"), "temperature must be a finite number"),
    (lambda v: v.sample(2, seed=-1), r"seed must be an int in \[0, 9223372036854775807\] or None"),
    (lambda v: v.sample(2, seed=1.5), r"seed must be an int .* got 1.5 \(float\)"),
    (lambda v: v.sample(2, seed=2**64), "seed must be an int"),
    (lambda v: v.sample(2, output="torch"), r"output must be one of \('numpy', 'ortvalue'\)"),
    (lambda v: v.decode(np.zeros(2), output="cuda"), "output must be one of"),
    (lambda v: v.interpolate(np.zeros(2), np.ones(2), 1), r"steps must be an int in \[2, 1048576\] \(both endpoints"),
    (lambda v: v.interpolate(np.zeros(2), np.ones(2), 2.5), r"steps must be an int .* got 2.5"),
    (lambda v: v.interpolate(np.zeros(2), np.ones(2), 9), "batch of 9 exceeds max_batch=8"),
    (lambda v: v.interpolate(np.zeros(2), np.ones(2), 4, method="cubic"), "unknown interpolation method 'cubic'"),
    (lambda v: v.interpolate(np.zeros(3), np.ones(2), 4), r"latents of shape \(3,\) do not fit"),
    (lambda v: v.interpolate(np.zeros((1, 1, 1, 2)), np.ones(2), 4), r"interpolate: a must be a latent \(2,\) or one image"),
    (lambda v: v.interpolate(np.zeros(2), [np.inf, 0], 4), "non-finite"),
])
def test_bad_arguments_are_explained(vae, call, message):
    with pytest.raises(ValueError, match=message):
        call(vae)


@pytest.mark.parametrize("a, b, message", [
    (np.zeros(2), np.zeros(3), "endpoints must be two latents of the same shape"),
    (np.zeros(2), [np.nan, 0.0], "endpoints contain NaN or inf"),
])
def test_interpolate_latents_checks_its_endpoints(a, b, message):
    with pytest.raises(ValueError, match=message):
        interpolate_latents(a, b, 4)


def test_device_inputs_of_the_wrong_shape_are_explained(vae):
    import onnxruntime as ort

    wrong = ort.OrtValue.ortvalue_from_numpy(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"z OrtValue is tensor\(float\) \[2, 3\], expected tensor\(float\) \[N, 2\]"):
        vae.decode(wrong)
    doubles = ort.OrtValue.ortvalue_from_numpy(np.zeros((2, 1, 28, 28), np.float64))
    with pytest.raises(ValueError, match=r"image OrtValue is tensor\(double\)"):
        vae.encode(doubles)
    many = ort.OrtValue.ortvalue_from_numpy(np.zeros((9, 2), np.float32))
    with pytest.raises(ValueError, match="batch of 9 exceeds max_batch=8"):
        vae.decode(many)
