"""Shared fixtures: tiny data and a tiny exported model built by the tests, and the real data when present.

The helpers behind them (fake MNIST writer, tiny checkpoint) are plain functions in
``tests/support.py``; any test imports them with ``from support import ...``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
SHARED_DATA = REPO.parent / "shared" / "data"

# pytest's default "prepend" import mode already puts tests/ on sys.path for this conftest;
# say it explicitly so `from support import ...` works under any --import-mode too.
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from support import prior_exports, tiny_checkpoint, tiny_student, write_fake_mnist  # noqa: E402  (after the sys.path line)


@pytest.fixture(scope="session")
def tiny_mnist_root(tmp_path_factory) -> Path:
    """A data root with MNIST/raw/* holding 320 training and 64 test fake digits (bars placed by label)."""
    return write_fake_mnist(tmp_path_factory.mktemp("data"), train=320, test=64)


@pytest.fixture(scope="module")
def unexported_ckpt(tmp_path_factory, tiny_mnist_root) -> Path:
    """A fresh ``tiny_checkpoint`` on ``tiny_mnist_root`` with no ``onnx/``, one per test module
    (the CLIs' bad-input tests check that a refused command writes nothing beside it)."""
    return tiny_checkpoint(tmp_path_factory.mktemp("unexported") / "ckpt", tiny_mnist_root)


@pytest.fixture(scope="session")
def tiny_ckpt(tmp_path_factory) -> Path:
    """Checkpoint folder of a fresh tiny model whose ``onnx/`` holds fp32, fp16 and int8 graphs.

    Built once per session (~25 s on 2 busy cores) for tests/export, tests/runtime and
    tests/test_readme_embed.py: ``tiny_checkpoint`` (``VAEConfig(dim=8, dim_mults=(1, 2),
    latent_dim=2)``) on a fake MNIST of 16 training and 80 test images (bars placed by label),
    exported with ``examples.npz`` from those 80 test images.
    """
    from vaekit.export import export_checkpoint

    base = tmp_path_factory.mktemp("tiny-export")
    ckpt = tiny_checkpoint(base / "ckpt", write_fake_mnist(base / "data", train=16, test=80))
    export_checkpoint(ckpt, fp16=True, int8=True, progress=False)
    return ckpt


@pytest.fixture(scope="session")
def priors_exported(tiny_mnist_root) -> dict[str, Path]:
    """Export folders of tiny models, one per prior kind (``support.PRIOR_KINDS``: normal,
    gaussian, gmm, vamp), under ``test-artifacts/priors/`` so that the static site of the
    browser test serves them; removed at the end of the session (~1 min to build)."""
    import shutil

    folder = REPO / "test-artifacts" / "priors"
    shutil.rmtree(folder, ignore_errors=True)
    yield prior_exports(folder, tiny_mnist_root)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def fast_ckpt(tmp_path_factory) -> Path:
    """A tiny checkpoint with a distilled student (``tiny_student``, 4 steps), exported with
    int8 copies: ``onnx/`` holds ``decoder.fast.onnx`` and ``decoder.fast.int8.onnx``."""
    from vaekit.export import export_checkpoint

    base = tmp_path_factory.mktemp("fast-export")
    ckpt = tiny_checkpoint(base / "ckpt", write_fake_mnist(base / "data", train=32, test=300))
    tiny_student(ckpt)
    export_checkpoint(ckpt, int8=True, progress=False)
    return ckpt


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "MNIST" / "raw" / "train-images-idx3-ubyte").is_file():
        pytest.skip(f"real data not found at {SHARED_DATA} (see ../shared/data/README.md)")
    return SHARED_DATA
