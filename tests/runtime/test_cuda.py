"""The runtime on ONNX Runtime's CUDA provider: parity, I/O binding, CUDA graphs, options.

Runs only where onnxruntime-gpu finds a usable GPU; everywhere else every test is skipped
with the reason. The tolerances are the documented ones (vaekit.runtime.PARITY_TOLERANCE).
"""

from __future__ import annotations

import logging

import numpy as np
import onnxruntime as ort
import pytest
from vaekit.runtime import PARITY_TOLERANCE, VAE, CudaOptions
from vaekit.runtime.binding import MAX_CUDA_GRAPHS
from vaekit.runtime.providers import cuda_device_problem, cuda_devices


def _why_no_cuda() -> str | None:
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return "this onnxruntime build has no CUDA provider (install onnxruntime-gpu)"
    return cuda_device_problem()


pytestmark = pytest.mark.skipif(_why_no_cuda() is not None, reason=f"no usable CUDA GPU: {_why_no_cuda()}")


@pytest.fixture(scope="module")
def cpu(tiny_ckpt) -> VAE:
    return VAE.load(tiny_ckpt, providers="cpu", max_batch=2048)


@pytest.fixture(scope="module")
def gpu(tiny_ckpt) -> VAE:
    vae = VAE.load(tiny_ckpt, providers="cuda", max_batch=2048)
    assert vae.providers[0] == "CUDAExecutionProvider", f"asked for CUDA, runs on {vae.providers}"
    return vae


def latents(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, 2)).astype(np.float32)


def max_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(np.asarray(a) - np.asarray(b)).max())


@pytest.mark.parametrize("n", [1, 64, 1024])
def test_cuda_decodes_like_the_cpu_within_the_documented_tolerance(cpu, gpu, n):
    assert gpu.device == "cuda" and gpu.io_binding
    assert gpu.parity_tolerance == PARITY_TOLERANCE["cuda-tf32"]
    assert max_diff(gpu.decode(latents(n)), cpu.decode(latents(n))) <= gpu.parity_tolerance


def test_tf32_off_is_within_the_tighter_tolerance(tiny_ckpt, cpu):
    exact = VAE.load(tiny_ckpt, providers="cuda", cuda=CudaOptions(tf32=False, conv_algo_search="HEURISTIC"),
                     max_batch=2048)
    assert exact.parity_tolerance == PARITY_TOLERANCE["cuda"]
    assert max_diff(exact.decode(latents(256)), cpu.decode(latents(256))) <= PARITY_TOLERANCE["cuda"]
    ex = cpu.examples().images[:16]
    assert max_diff(exact.encode(ex)[0], cpu.encode(ex)[0]) <= 1e-3


def test_outputs_stay_on_the_gpu_and_chain(cpu, gpu):
    ex = cpu.examples().images[:8]
    mean, _ = gpu.encode(ex, output="ortvalue")
    assert mean.device_name().lower() == "cuda"
    images = gpu.decode(mean, output="ortvalue")
    assert images.device_name().lower() == "cuda" and images.shape() == [8, 1, 28, 28]
    assert max_diff(gpu.decode(mean), cpu.reconstruct(ex)) <= gpu.parity_tolerance


def test_cuda_graphs_replay_fresh_results_for_each_batch_size(tiny_ckpt, cpu, caplog):
    with caplog.at_level(logging.WARNING, logger="vaekit.runtime"):
        vae = VAE.load(tiny_ckpt, providers="cuda", cuda=CudaOptions(cuda_graph=True), max_batch=2048)
    assert vae.cuda_graph, f"onnxruntime refused CUDA graphs for these graphs: {caplog.text}"
    for seed in range(4):  # warm-up, capture, replays: each call must see its own input
        z = latents(64, seed=seed)
        assert max_diff(vae.decode(z), cpu.decode(z)) <= vae.parity_tolerance
    for n in [1, 2, 3, 5, 7, 1024][: MAX_CUDA_GRAPHS + 2]:  # more sizes than captured graphs
        z = latents(n, seed=n)
        assert max_diff(vae.decode(z), cpu.decode(z)) <= vae.parity_tolerance
    ex = cpu.examples().images[:4]
    assert max_diff(vae.reconstruct(ex), cpu.reconstruct(ex)) <= vae.parity_tolerance
    assert vae.cuda_graph and "capture" not in caplog.text, caplog.text  # still replaying graphs


def test_a_device_that_does_not_exist_is_refused(tiny_ckpt):
    count = cuda_devices()[0]
    with pytest.raises(ValueError, match=f"device_id={count}.*the driver sees {count} GPU"):
        VAE.load(tiny_ckpt, providers="cuda", cuda=CudaOptions(device_id=count))
