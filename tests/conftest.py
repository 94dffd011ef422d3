"""Shared fixtures: tiny data written by the tests themselves, and the real data when present."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"


def write_idx(folder: Path, prefix: str, images: np.ndarray, labels: np.ndarray) -> None:
    """Write uint8 images [N, 28, 28] and labels [N] as the official uncompressed IDX files."""
    folder.mkdir(parents=True, exist_ok=True)
    n, h, w = images.shape
    (folder / f"{prefix}-images-idx3-ubyte").write_bytes(
        struct.pack(">IIII", 0x803, n, h, w) + images.astype(np.uint8).tobytes()
    )
    (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(
        struct.pack(">II", 0x801, n) + labels.astype(np.uint8).tobytes()
    )


def fake_digits(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Blurry bars whose position encodes the label: learnable, deterministic, 28x28 uint8."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    images = np.zeros((n, 28, 28), dtype=np.uint8)
    for i, y in enumerate(labels):
        col = 3 + 2 * int(y)
        images[i, 4:24, col : col + 3] = 255
        images[i] = np.clip(images[i] + rng.integers(0, 40, (28, 28)), 0, 255)
    return images, labels


@pytest.fixture(scope="session")
def tiny_mnist_root(tmp_path_factory) -> Path:
    """A data root with MNIST/raw/* holding 320 training and 64 test fake digits."""
    root = tmp_path_factory.mktemp("data")
    raw = root / "MNIST" / "raw"
    write_idx(raw, "train", *fake_digits(320, 0))
    write_idx(raw, "t10k", *fake_digits(64, 1))
    return root


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "MNIST" / "raw" / "train-images-idx3-ubyte").is_file():
        pytest.skip(f"real data not found at {SHARED_DATA} (see ../shared/data/README.md)")
    return SHARED_DATA
