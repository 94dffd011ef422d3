"""What ``VAE.decode``/``VAE.encode`` do around the graph: nothing a bare ONNX Runtime session
would not do, bar one check pass each way.

The caller's float32 array reaches ``session.run`` as is (no copy), the graph's output comes
back as is (no copy), and the session is built with the same options as a bare
``build_session`` one (what the benchmarks' ``ort-all`` backend times). The quick checks
that make this cheap must still accept every value in range and refuse every one outside.
Speed itself is measured by ``python -m benchmarks.overhead``, never asserted here.
"""

from __future__ import annotations

import numpy as np
import pytest
from vaekit.format import graph_file
from vaekit.runtime import VAE
from vaekit.runtime.inputs import MAX_ABS_LATENT, SMALL
from vaekit.runtime.session import EXACT_INT8_OPTION, build_session


class Recording:
    """A session that records every ``run``'s feeds and outputs, and otherwise is the session."""

    def __init__(self, session):
        self.session, self.calls = session, []

    def run(self, names, feeds, *args):
        outs = self.session.run(names, feeds, *args)
        self.calls.append((feeds, outs))
        return outs

    def __getattr__(self, name):
        return getattr(self.session, name)


@pytest.fixture
def vae(tiny_ckpt):
    return VAE.load(tiny_ckpt, providers="cpu", threads=1, max_batch=2 * SMALL)


def recorded(monkeypatch, runner) -> Recording:
    session = Recording(runner.session)
    monkeypatch.setattr(runner, "session", session)
    return session


def test_decode_passes_the_callers_latents_in_and_the_graphs_images_out(vae, monkeypatch):
    session = recorded(monkeypatch, vae._decoder)
    z = np.random.default_rng(0).standard_normal((3, vae.latent_dim), dtype=np.float32)
    images = vae.decode(z)
    [(feeds, outs)] = session.calls
    assert feeds["z"] is z, "a float32 C-contiguous batch must reach onnxruntime without a copy"
    assert images is outs[0], "the decoded batch must be the graph's own output array"

    one = vae.decode(z[1])  # one latent [D]: a view of the caller's memory in, a view of the output out
    feeds, outs = session.calls[-1]
    assert np.shares_memory(feeds["z"], z) and np.shares_memory(one, outs[0])
    np.testing.assert_array_equal(one, images[1])


def test_encode_passes_the_callers_images_in_and_the_graphs_means_out(vae, monkeypatch):
    session = recorded(monkeypatch, vae._encoder)
    x = np.random.default_rng(1).random((4, *vae.image_shape), dtype=np.float32)
    mean, logvar = vae.encode(x)
    [(feeds, outs)] = session.calls
    assert feeds["image"] is x, "float32 C-contiguous images in [0, 1] must reach onnxruntime without a copy"
    assert mean is outs[0] and logvar is outs[1]


def test_inputs_of_another_layout_or_type_are_converted_once_and_give_the_same_result(vae, monkeypatch):
    session = recorded(monkeypatch, vae._decoder)
    z = np.random.default_rng(2).standard_normal((5, vae.latent_dim))  # float64
    expected = vae.decode(z.astype(np.float32))
    for other in (z, np.asfortranarray(z.astype(np.float32)), z.tolist()):
        np.testing.assert_array_equal(vae.decode(other), expected)
        fed = session.calls[-1][0]["z"]
        assert fed.dtype == np.float32 and fed.flags.c_contiguous
    digits = (np.random.default_rng(3).random((2, *vae.image_shape)) * 255).astype(np.uint8)
    np.testing.assert_array_equal(vae.encode(digits)[0], vae.encode(digits.astype(np.float32) / np.float32(255))[0])


def test_the_runtime_session_is_built_like_a_bare_ort_all_session(vae, tiny_ckpt):
    """Same options as ``build_session`` (the ``ort-all`` benchmark backend), plain ``run`` on CPU."""
    for part, runner in (("decoder", vae._decoder), ("encoder", vae._encoder)):
        bare = build_session(tiny_ckpt / "onnx" / graph_file(part), threads=1, optimization="all")
        ours, theirs = runner.session.get_session_options(), bare.get_session_options()
        for option in ("intra_op_num_threads", "inter_op_num_threads", "graph_optimization_level",
                       "execution_mode", "enable_cpu_mem_arena", "enable_mem_pattern", "enable_mem_reuse"):
            assert getattr(ours, option) == getattr(theirs, option), f"{part}: {option} differs from ort-all's"
        with pytest.raises(RuntimeError, match="does not have configuration"):
            ours.get_session_config_entry(EXACT_INT8_OPTION)  # exact int8 kernels: int8 graphs only
        assert runner.session.get_providers() == bare.get_providers() == ["CPUExecutionProvider"]
    assert not vae.io_binding and not vae.cuda_graph


def test_the_sessions_behind_encode_and_decode_are_public_and_read_only(vae):
    """``VAE.sessions``: the sessions a profiler or a caller's own run uses, the very ones
    behind encode/decode (same results, no checks around them)."""
    assert set(vae.sessions) == {"encoder", "decoder"}
    z = np.random.default_rng(4).standard_normal((2, vae.latent_dim), dtype=np.float32)
    np.testing.assert_array_equal(vae.sessions["decoder"].run(None, {"z": z})[0], vae.decode(z))
    x = np.random.default_rng(5).random((2, *vae.image_shape), dtype=np.float32)
    np.testing.assert_array_equal(vae.sessions["encoder"].run(None, {"image": x})[0], vae.encode(x)[0])
    with pytest.raises(TypeError):
        vae.sessions["decoder"] = None


@pytest.mark.parametrize("batch", [1, SMALL // 2 + 1])  # one dot product; a min and a max
def test_latent_checks_accept_the_bound_and_refuse_just_past_it(vae, batch):
    z = np.zeros((batch, vae.latent_dim), np.float32)
    z[-1] = MAX_ABS_LATENT
    z[0, 0] = -MAX_ABS_LATENT
    assert vae.decode(z).shape[0] == batch
    z[-1, -1] = np.nextafter(np.float32(MAX_ABS_LATENT), np.float32(np.inf))
    with pytest.raises(ValueError, match=r"latents must satisfy \|z\| <= 10000"):
        vae.decode(z)
    z[-1, -1] = np.nan
    with pytest.raises(ValueError, match="1 non-finite values"):
        vae.decode(z)


@pytest.mark.parametrize("batch", [1, SMALL // 784 + 1])  # images small and large enough for each sum
def test_image_checks_accept_zero_to_one_and_refuse_the_rest(vae, batch):
    x = np.ones((batch, *vae.image_shape), np.float32)
    x[0, 0, 0, 0] = -0.0  # in range, though its sign bit is set
    x[-1, 0, -1, -1] = 0.0
    assert vae.encode(x)[0].shape[0] == batch
    for bad, message in ((np.nextafter(np.float32(1), np.float32(2)), r"must be in \[0, 1\]"),
                         (-1e-45, r"must be in \[0, 1\]"), (np.inf, "1 non-finite values"),
                         (np.nan, "1 non-finite values")):
        y = x.copy()
        y[-1, 0, -1, -1] = bad
        with pytest.raises(ValueError, match=message):
            vae.encode(y)


def test_non_finite_outputs_are_caught_in_small_and_large_batches(vae, monkeypatch):
    for n in (1, SMALL):  # the dot product and the sum
        out = np.zeros((n, *vae.image_shape), np.float32)
        out[-1, 0, 0, -1] = np.inf
        monkeypatch.setattr(vae._decoder, "run", lambda feeds, output="numpy", out=out: [out])
        with pytest.raises(ValueError, match=r"decoder returned 1 non-finite pixel values"):
            vae.decode(np.zeros((n, vae.latent_dim), np.float32))


def test_large_but_finite_outputs_pass_though_their_quick_sum_overflows(vae, monkeypatch):
    big = np.full((2, *vae.image_shape), 1e30, np.float32)  # squares and sums overflow float32
    monkeypatch.setattr(vae._decoder, "run", lambda feeds, output="numpy": [big])
    assert vae.decode(np.zeros((2, vae.latent_dim), np.float32)) is big
