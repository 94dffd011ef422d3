"""Fixtures of the demo tests: two tiny freshly exported models and a live server on a free port.

* ``mnist-tiny``: ``VAEConfig(dim=8, dim_mults=(1, 2), latent_dim=2)`` on a fake MNIST
  written here (bars placed by label), exported with examples.npz (300 test images).
* ``rgb-tiny``: 3 x 16 x 16 pictures, a 3-D latent and no dataset, so no examples: the
  paths a colour, non-2-D model takes (no sketchpad, no explorer, no built-in examples).

Torch is used only to build and export these fixtures; the app under test runs them with
``vaekit.runtime`` (ONNX Runtime).
"""

from __future__ import annotations

import os
import socket
import struct
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
TEST_IMAGES = 300


def _write_idx(folder: Path, prefix: str, images: np.ndarray, labels: np.ndarray) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    n, h, w = images.shape
    (folder / f"{prefix}-images-idx3-ubyte").write_bytes(
        struct.pack(">IIII", 0x803, n, h, w) + images.astype(np.uint8).tobytes())
    (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(
        struct.pack(">II", 0x801, n) + labels.astype(np.uint8).tobytes())


def fake_mnist(root: Path) -> Path:
    """MNIST/raw under ``root``: 16 training and TEST_IMAGES test digits (a bar per label)."""
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 16), ("t10k", TEST_IMAGES)):
        labels = rng.integers(0, 10, n)
        images = rng.integers(0, 40, (n, 28, 28))
        for i, y in enumerate(labels):
            images[i, 4:24, 3 + 2 * y : 6 + 2 * y] = 255
        _write_idx(root / "MNIST" / "raw", prefix, images, labels)
    return root


@pytest.fixture(scope="session")
def exported(tmp_path_factory) -> dict[str, Path]:
    """``{"mnist-tiny": export folder, "rgb-tiny": export folder}`` (fp32 graphs, ~20 s)."""
    import torch
    from vaekit.export import export_checkpoint
    from vaekit.train import DataConfig, VAEConfig, build_model, save_checkpoint

    base = tmp_path_factory.mktemp("demo-models")
    data = fake_mnist(base / "data")
    torch.manual_seed(0)
    mnist = save_checkpoint(
        base / "mnist-tiny", build_model(VAEConfig(dim=8, dim_mults=(1, 2), latent_dim=2)),
        data=DataConfig(dataset="mnist", data_root=str(data)),
    )
    rgb = save_checkpoint(
        base / "rgb-tiny",
        build_model(VAEConfig(in_channels=3, image_size=16, dim=8, dim_mults=(1, 2),
                              latent_dim=3, likelihood="logistic")),
    )
    export_checkpoint(mnist, examples=TEST_IMAGES, data_root=str(data), progress=False)
    export_checkpoint(rgb, progress=False)
    return {"mnist-tiny": mnist / "onnx", "rgb-tiny": rgb / "onnx"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def served(exported):
    """``(url, models)``: the demo app serving both tiny models on a free localhost port."""
    from vaekit.demo.app import build_app, launch, load_models

    models = load_models([exported["mnist-tiny"], exported["rgb-tiny"]], providers="cpu")
    assert list(models) == ["mnist-tiny", "rgb-tiny"]
    app = build_app(models)
    port = free_port()
    _, url, share_url = launch(app, port=port, prevent_thread_lock=True, quiet=True)
    assert share_url is None, "the demo must not open a public share link by default"
    yield url, models
    app.close()


def make_client(url: str, downloads: Path):
    """A gradio_client Client with its telemetry off (the tests never reach the internet)."""
    from gradio_client import Client

    return Client(url, verbose=False, analytics_enabled=False, download_files=str(downloads))


@pytest.fixture(scope="session")
def client(served, tmp_path_factory):
    url, _ = served
    return make_client(url, tmp_path_factory.mktemp("client-downloads"))
