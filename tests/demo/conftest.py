"""Fixtures of the demo tests: two tiny freshly exported models and a live server on a free port.

* ``mnist-tiny``: ``VAEConfig(dim=8, dim_mults=(1, 2), latent_dim=2)`` on a fake MNIST
  written by ``support.write_fake_mnist`` (bars placed by label), exported with examples.npz
  (300 test images).
* ``rgb-tiny``: 3 x 16 x 16 pictures, a 3-D latent and no dataset, so no examples: the
  paths a colour, non-2-D model takes (no sketchpad, no explorer, no built-in examples).

Torch is used only to build and export these fixtures; the app under test runs them with
``vaekit.runtime`` (ONNX Runtime).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from support import tiny_checkpoint, write_fake_mnist

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
TEST_IMAGES = 300


@pytest.fixture(scope="session")
def exported(tmp_path_factory) -> dict[str, Path]:
    """``{"mnist-tiny": export folder, "rgb-tiny": export folder}`` (fp32 graphs, ~20 s)."""
    from vaekit.export import export_checkpoint
    from vaekit.train import VAEConfig, build_model, save_checkpoint

    base = tmp_path_factory.mktemp("demo-models")
    data = write_fake_mnist(base / "data", train=16, test=TEST_IMAGES)
    mnist = tiny_checkpoint(base / "mnist-tiny", data)  # torch.manual_seed(0), then the rgb model
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
def free_port_number():
    """A function giving a free localhost port (for tests that start a server of their own)."""
    return free_port


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
