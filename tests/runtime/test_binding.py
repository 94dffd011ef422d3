"""I/O binding and fixed buffers, checked on the CPU provider (the CUDA path is the same code).

test_cuda.py runs the same paths on a GPU when one is usable.
"""

from __future__ import annotations

import threading

import numpy as np
import onnxruntime as ort
import pytest
from vaekit.runtime import VAE, build_session
from vaekit.runtime.binding import MAX_CUDA_GRAPHS, GraphRunner


@pytest.fixture(scope="module")
def plain(tiny_ckpt) -> VAE:
    return VAE.load(tiny_ckpt, providers="cpu")


@pytest.fixture(scope="module")
def bound(tiny_ckpt) -> VAE:
    return VAE.load(tiny_ckpt, providers="cpu", io_binding=True)


def latents(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, 2)).astype(np.float32)


def test_io_binding_gives_the_same_images_as_plain_run(plain, bound):
    assert bound.io_binding and not plain.io_binding
    ex = plain.examples().images[:5]
    np.testing.assert_array_equal(bound.decode(latents(7)), plain.decode(latents(7)))
    np.testing.assert_array_equal(bound.encode(ex)[0], plain.encode(ex)[0])
    np.testing.assert_array_equal(bound.reconstruct(ex), plain.reconstruct(ex))
    np.testing.assert_array_equal(bound.sample(3, seed=2), plain.sample(3, seed=2))


@pytest.mark.parametrize("which", ["plain", "bound"])
def test_outputs_can_stay_ortvalues_and_feed_the_next_graph(request, which):
    vae = request.getfixturevalue(which)
    ex = vae.examples().images[:4]
    mean, logvar = vae.encode(ex, output="ortvalue")
    assert isinstance(mean, ort.OrtValue) and mean.device_name().lower() == vae.device == "cpu"
    assert mean.shape() == [4, 2] and logvar.shape() == [4, 2]
    images = vae.decode(mean, output="ortvalue")
    assert images.shape() == [4, 1, 28, 28]
    np.testing.assert_allclose(images.numpy(), vae.reconstruct(ex), atol=1e-6)
    np.testing.assert_array_equal(vae.decode(mean), vae.decode(mean.numpy()))
    assert vae.sample(2, seed=0, output="ortvalue").shape() == [2, 1, 28, 28]


def static_runner(tiny_ckpt) -> GraphRunner:
    session = build_session(tiny_ckpt / "onnx" / "decoder.onnx")
    return GraphRunner(session, io_binding=True, static_buffers=True)


def test_fixed_buffers_give_fresh_results_every_call(tiny_ckpt, plain):
    runner = static_runner(tiny_ckpt)
    first = runner.run({"z": latents(3, seed=1)})[0]
    second = runner.run({"z": latents(3, seed=2)})[0]  # same shape: same buffers, new values
    np.testing.assert_array_equal(first, plain.decode(latents(3, seed=1)))  # not overwritten
    np.testing.assert_array_equal(second, plain.decode(latents(3, seed=2)))
    sizes = [1, 2, 3, 4, 5, 6, 7][: MAX_CUDA_GRAPHS + 2]  # more sizes than there are slots
    for n in sizes:
        np.testing.assert_array_equal(runner.run({"z": latents(n, seed=n)})[0], plain.decode(latents(n, seed=n)))
    assert len(runner._slots) == MAX_CUDA_GRAPHS


def test_fixed_buffers_are_safe_across_threads(tiny_ckpt, plain):
    runner = static_runner(tiny_ckpt)
    errors: list[str] = []

    def work(seed: int) -> None:
        for k in range(10):
            z = latents(4, seed=seed * 100 + k)
            if not np.array_equal(runner.run({"z": z})[0], plain.decode(z)):
                errors.append(f"thread {seed} call {k} got another call's images")

    threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]


def test_a_failed_capture_falls_back_to_plain_binding_and_says_so(tiny_ckpt, plain, monkeypatch, caplog):
    from vaekit.runtime import providers

    monkeypatch.setattr(providers, "_warned", set())
    runner = static_runner(tiny_ckpt)
    real, calls = runner.session.run_with_iobinding, []

    def first_run_fails(binding, options=None):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("capture failed (test)")
        return real(binding, options)

    monkeypatch.setattr(runner.session, "run_with_iobinding", first_run_fails)
    with caplog.at_level("WARNING", logger="vaekit.runtime"):
        out = runner.run({"z": latents(3)})[0]
    np.testing.assert_array_equal(out, plain.decode(latents(3)))
    assert not runner.static_buffers and not runner._slots
    assert "fixed buffers failed on CPUExecutionProvider (RuntimeError: capture failed (test)); running without" in caplog.text
