"""One tiny exported model shared by tests/export, tests/runtime and tests/test_readme_embed.py.

It is built once per pytest session (fp32 + fp16 + int8, ~25 s on 2 busy cores) from a
freshly initialised ``VAEConfig(dim=8, dim_mults=(1, 2), latent_dim=2)`` and a fake MNIST
written here, so no test needs the real data. The conftests load this file by path (see
``shared()``) under one module name, so every folder gets the same module and the same cached export.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

TEST_IMAGES = 80
_CACHE: dict[str, Path] = {}


def _write_idx(folder: Path, prefix: str, images: np.ndarray, labels: np.ndarray) -> None:
    n, h, w = images.shape
    (folder / f"{prefix}-images-idx3-ubyte").write_bytes(
        struct.pack(">IIII", 0x803, n, h, w) + images.astype(np.uint8).tobytes())
    (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(
        struct.pack(">II", 0x801, n) + labels.astype(np.uint8).tobytes())


def fake_mnist(root: Path) -> Path:
    """A data root holding MNIST/raw with 16 train and 80 test images (bars placed by label)."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 16), ("t10k", TEST_IMAGES)):
        labels = rng.integers(0, 10, n)
        images = rng.integers(0, 40, (n, 28, 28))
        for i, y in enumerate(labels):
            images[i, 4:24, 3 + 2 * y: 6 + 2 * y] = 255
        _write_idx(raw, prefix, images, labels)
    return root


def tiny_checkpoint(folder: Path, data_root: Path, *, seed: int = 0) -> Path:
    import torch
    from vaekit.train import DataConfig, VAEConfig, build_model, save_checkpoint

    torch.manual_seed(seed)
    model = build_model(VAEConfig(dim=8, dim_mults=(1, 2), latent_dim=2))
    return save_checkpoint(folder, model, data=DataConfig(dataset="mnist", data_root=str(data_root)))


def tiny_export(tmp_path_factory) -> Path:
    """A checkpoint folder whose ``onnx/`` holds fp32, fp16 and int8 graphs and examples.npz."""
    key = str(tmp_path_factory.getbasetemp())
    if key not in _CACHE:
        from vaekit.export import export_checkpoint

        base = tmp_path_factory.mktemp("tiny-export")
        ckpt = tiny_checkpoint(base / "ckpt", fake_mnist(base / "data"))
        export_checkpoint(ckpt, fp16=True, int8=True, progress=False)
        _CACHE[key] = ckpt
    return _CACHE[key]
