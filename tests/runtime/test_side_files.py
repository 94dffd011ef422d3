"""Damaged side files of an export, read through the one checked reader: each is
``FILE is damaged: WHAT; re-export with ...`` (a ValueError), never a numpy, zipfile or
zlib traceback, whatever the damage."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from vaekit.runtime import VAE
from vaekit.runtime.sidefiles import Array, SideFileError, read_npz


@pytest.fixture
def export_copy(tiny_ckpt, tmp_path) -> Path:
    out = tmp_path / "onnx"
    shutil.copytree(tiny_ckpt / "onnx", out)
    return out


def npz_bytes(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def npy_bytes(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


IMAGES = np.zeros((3, 1, 28, 28), np.uint8)
EXAMPLES = [  # what examples.npz holds, what the message says about it
    ("truncated", lambda good: good[: len(good) // 2], r"not a readable \.npz \((BadZipFile|EOFError|OSError|ValueError)"),
    ("random bytes", lambda good: np.random.default_rng(0).bytes(4096), r"not a readable \.npz"),
    ("empty", lambda good: b"", r"not a readable \.npz"),
    ("no labels", lambda good: npz_bytes(images=IMAGES), r"it lacks \['labels'\] \(it holds \['images'\]\)"),
    ("no images", lambda good: npz_bytes(labels=np.zeros(3, np.int64)), r"it lacks \['images'\]"),
    ("a bare .npy", lambda good: npy_bytes(IMAGES), r"a single array, not named arrays"),
    ("float images", lambda good: npz_bytes(images=IMAGES.astype(np.float32), labels=np.zeros(3, np.int64)),
     r"'images' holds float32 values, not unsigned integers"),
    ("images of another size", lambda good: npz_bytes(images=np.zeros((3, 1, 8, 8), np.uint8),
                                                      labels=np.zeros(3, np.int64)),
     r"it holds images uint8 \(3, 1, 8, 8\), but the model takes uint8 \[N, 1, 28, 28\]"),
    ("labels as text", lambda good: npz_bytes(images=IMAGES, labels=np.array(["a", "b", "c"])),
     r"'labels' holds <U1 values, not integers or unsigned integers"),
    ("too few labels", lambda good: npz_bytes(images=IMAGES, labels=np.zeros(2, np.int64)),
     r"2 labels for 3 images"),
    ("labels 2-D", lambda good: npz_bytes(images=IMAGES, labels=np.zeros((3, 1), np.int64)),
     r"'labels' has shape \(3, 1\), not 1-D"),
    ("pickled classes", lambda good: npz_bytes(images=IMAGES, labels=np.zeros(3, np.int64),
                                               classes=np.array([{"a": 1}], dtype=object)),
     r"not a readable \.npz \(it holds pickled data or is not an \.npz at all; pickles are never loaded\)"),
]


@pytest.mark.parametrize("case, content, message", EXAMPLES, ids=[c[0] for c in EXAMPLES])
def test_a_damaged_examples_file_names_the_damage_and_the_fix(case, content, message, export_copy):
    path = export_copy / "examples.npz"
    path.write_bytes(content(path.read_bytes()))
    vae = VAE.load(export_copy, providers="cpu")  # the model itself still loads
    with pytest.raises(SideFileError) as info:
        vae.examples()
    text = str(info.value)
    assert text.startswith(f"{path} is damaged: "), text
    assert "re-export with `python -m vaekit.export CHECKPOINT --data-root DIR`" in text
    assert re.search(message, text), f"{case}: {text}"
    assert "\n" not in text


def test_examples_without_class_names_still_read(export_copy):
    """``classes`` is optional (older exports); images and labels are not."""
    path = export_copy / "examples.npz"
    path.write_bytes(npz_bytes(images=IMAGES, labels=np.arange(3)))
    ex = VAE.load(export_copy, providers="cpu").examples()
    assert ex.images.shape == (3, 1, 28, 28) and ex.labels.tolist() == [0, 1, 2] and ex.classes == ()


PRIOR = {"means": Array("f", 2), "logvars": Array("f", 2)}


@pytest.mark.parametrize("arrays, message", [
    ({"means": np.zeros((4, 2), np.float32)}, r"it lacks \['logvars'\]"),
    ({"means": np.full((4, 2), np.nan, np.float32), "logvars": np.zeros((4, 2), np.float32)},
     r"'means' holds 8 non-finite values"),
    ({"means": np.zeros(4, np.float32), "logvars": np.zeros(4, np.float32)}, r"'means' has shape \(4,\), not 2-D"),
])
def test_the_reader_checks_every_array_it_is_asked_for(arrays, message, tmp_path):
    """The reader a prior file (or any side file) goes through: keys, kinds, ranks, finiteness."""
    path = tmp_path / "prior.npz"
    path.write_bytes(npz_bytes(**arrays))
    with pytest.raises(SideFileError, match=f"prior.npz is damaged: {message}.*; re-export with"):
        read_npz(path, PRIOR)


def test_any_npz_can_be_checked_whatever_its_keys(tmp_path):
    """``check_npz``: the reader for a side file whose own layout is checked later (a prior)."""
    from vaekit.runtime.sidefiles import check_npz

    good = tmp_path / "good.npz"
    good.write_bytes(npz_bytes(anything=np.zeros((2, 3), np.float32), names=np.array(["a"])))
    check_npz(good)
    cut = tmp_path / "cut.npz"
    cut.write_bytes(good.read_bytes()[:100])
    with pytest.raises(SideFileError, match=r"cut.npz is damaged: not a readable \.npz"):
        check_npz(cut)
    pickled = tmp_path / "pickled.npz"
    pickled.write_bytes(npz_bytes(obj=np.array([{"a": 1}], dtype=object)))
    with pytest.raises(SideFileError, match="pickles are never loaded"):
        check_npz(pickled)
