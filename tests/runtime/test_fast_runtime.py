"""VAE.load(path, decoder="fast"): the distilled decoder in the runtime, and what it refuses."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from vaekit.format import sha256_file
from vaekit.runtime import VAE


@pytest.fixture()
def copy(tmp_path, fast_ckpt):
    """A writable copy of the fast export folder (tests damage it)."""
    return shutil.copytree(fast_ckpt / "onnx", tmp_path / "onnx")


def test_fast_decoder_decodes_like_its_graph_and_the_encoder_is_unchanged(fast_ckpt):
    full = VAE.load(fast_ckpt, providers="cpu")
    fast = VAE.load(fast_ckpt, providers="cpu", decoder="fast")
    assert (full.decoder_kind, fast.decoder_kind) == ("full", "fast")
    assert "decoder='fast'" in repr(fast)
    z = np.random.default_rng(0).standard_normal((5, 2)).astype(np.float32)
    images = fast.decode(z)
    assert images.shape == (5, 1, 28, 28) and images.min() >= 0 and images.max() <= 1
    assert not np.allclose(images, full.decode(z))  # a different network
    x = (np.random.default_rng(1).random((3, 1, 28, 28)) * 255).astype(np.uint8)
    np.testing.assert_array_equal(fast.encode(x)[0], full.encode(x)[0])
    assert fast.sample(4, seed=0).shape == (4, 1, 28, 28)
    assert fast.reconstruct(x).shape == x.shape


def test_no_int8_fast_decoder_even_with_int8_graphs(fast_ckpt):
    VAE.load(fast_ckpt, providers="cpu", precision="int8")  # the model's own int8 graphs load
    with pytest.raises(FileNotFoundError, match="no int8 fast decoder"):
        VAE.load(fast_ckpt, providers="cpu", decoder="fast", precision="int8")


def test_an_export_without_a_student_names_the_distill_command(tiny_ckpt):
    with pytest.raises(FileNotFoundError, match=r"has no fast decoder .*python -m vaekit.train.distill"):
        VAE.load(tiny_ckpt, providers="cpu", decoder="fast")


def test_an_unknown_decoder_kind_is_refused(fast_ckpt):
    with pytest.raises(ValueError, match=r"unknown decoder 'tiny'; choose one of \('full', 'fast'\)"):
        VAE.load(fast_ckpt, decoder="tiny")


def test_no_fp16_fast_decoder_without_the_export_option(fast_ckpt):
    with pytest.raises(FileNotFoundError, match="no fp16 fast decoder"):
        VAE.load(fast_ckpt, providers="cpu", decoder="fast", precision="fp16")


def test_a_missing_fast_graph_is_refused(copy):
    (copy / "decoder.fast.onnx").unlink()
    with pytest.raises(FileNotFoundError, match="decoder.fast.onnx is missing"):
        VAE.load(copy, providers="cpu", decoder="fast")
    VAE.load(copy, providers="cpu")  # the full decoder still loads


def test_a_corrupt_fast_graph_is_refused(copy):
    path = copy / "decoder.fast.onnx"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="corrupt or was replaced: its sha256 differs"):
        VAE.load(copy, providers="cpu", decoder="fast")


@pytest.mark.parametrize("latent_dim, side, words", [
    (3, 28, r"'z' is tensor\(float\) \['N', 3\], but vaekit.json says float32 \['N', 2\]"),
    (2, 32, r"'image' is tensor\(float\) \['N', 1, 32, 32\], but vaekit.json says float32 \['N', 1, 28, 28\]"),
])
def test_a_fast_graph_of_another_shape_is_refused(copy, latent_dim, side, words):
    """A student graph whose latent size or image shape disagrees with the model's contract,
    with metadata and a sha256 that match: the graph's own inputs and outputs give it away."""
    import torch
    from vaekit.export.fast_decoder import fast_decoder_props
    from vaekit.export.graphs import export_graph
    from vaekit.train.student import StudentConfig, StudentDecoder

    contract = json.loads((copy / "vaekit.json").read_text())
    student = StudentDecoder(StudentConfig(channels=1, height=side, width=side, latent_dim=latent_dim,
                                           widths=(8, 8)))
    path = copy / "decoder.fast.onnx"
    export_graph(student, torch.zeros(2, latent_dim), path, input_names=["z"], output_names=["image"],
                 props=fast_decoder_props(contract, "fp32"), doc="a student of another model")
    contract["fast_decoder"]["sha256"] = sha256_file(path)
    (copy / "vaekit.json").write_text(json.dumps(contract))
    with pytest.raises(ValueError, match=words):
        VAE.load(copy, providers="cpu", decoder="fast")
