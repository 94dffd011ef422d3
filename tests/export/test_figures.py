"""python -m vaekit.export.figures: a checkpoint's figures, drawn through the exported graphs
when they are current, else through the PyTorch model.

Checkpoints are tiny freshly built models on a fake MNIST of noise images
(``support.write_fake_mnist``), so no real data or trained checkpoint is needed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from support import tiny_checkpoint, write_fake_mnist
from vaekit import format as fmt
from vaekit.export import figures as F
from vaekit.train import plots as P

pytestmark = pytest.mark.slow  # renders every figure through the exported graphs

ALL_2D = sorted([P.RECONSTRUCTIONS, P.INTERPOLATIONS, P.SAMPLES, P.LATENT_DISTRIBUTION,
                 P.LATENT_SPACE, P.LATENT_MANIFOLD])


def png_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as im:
        return im.height, im.width


@pytest.fixture(scope="module")
def fake_root(tmp_path_factory):
    return write_fake_mnist(tmp_path_factory.mktemp("data"), train=8, test=40, style="noise")


def test_make_figures_writes_every_figure_of_a_2d_model(tmp_path, fake_root):
    ckpt = tiny_checkpoint(tmp_path / "ckpt", fake_root)
    s = F.FigureSettings(pairs=12, pairs_per_row=4, interpolation_rows=5, interpolation_steps=6,
                         sample_rows=3, sample_columns=7, manifold_side=6)
    done = F.make_figures(ckpt, tmp_path / "figs", settings=s, progress=False)
    assert done.backend == "torch" and done.images == 40
    assert sorted(done.paths) == ALL_2D
    p = done.paths
    assert png_size(p[P.RECONSTRUCTIONS]) == P.grid_size(3, 8, 28, 28)
    assert png_size(p[P.INTERPOLATIONS]) == P.grid_size(5, 8, 28, 28)
    assert png_size(p[P.SAMPLES]) == P.grid_size(3, 7, 28, 28)
    assert png_size(p[P.LATENT_MANIFOLD]) == (6 * 28, 6 * 28)
    assert png_size(p[P.LATENT_SPACE]) == (700, 700)
    _, _, (w, h) = P.distribution_layout(2)
    assert png_size(p[P.LATENT_DISTRIBUTION]) == (round(h * 100), round(w * 100))
    assert not list((tmp_path / "figs").glob(".*.tmp"))  # atomic writes leave no temp file


def test_a_larger_latent_skips_the_2d_plots_and_the_cli_reports_the_backend(tmp_path, fake_root, capsys):
    ckpt = tiny_checkpoint(tmp_path / "ckpt", fake_root, latent_dim=3)
    assert F.main([str(ckpt), "--out", str(tmp_path / "out"), "--limit", "20"]) == 0
    out = capsys.readouterr().out
    assert "4 figures from 20 test images via PyTorch on cpu" in out
    names = sorted(p.name for p in (tmp_path / "out").glob("*.png"))
    assert names == sorted([P.RECONSTRUCTIONS, P.INTERPOLATIONS, P.SAMPLES, P.LATENT_DISTRIBUTION])
    # defaults: 32 pairs wanted, 20 images given -> 20 pairs, 8 per row -> 3 rows x 16 columns
    assert png_size(tmp_path / "out" / P.RECONSTRUCTIONS) == P.grid_size(3, 16, 28, 28)
    assert png_size(tmp_path / "out" / P.SAMPLES) == P.grid_size(8, 8, 28, 28)


def test_cli_errors_name_the_fix(tmp_path, fake_root, capsys):
    assert F.main([str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")]) == 2
    assert "python -m vaekit.train" in capsys.readouterr().err
    ckpt = tiny_checkpoint(tmp_path / "ckpt", fake_root)
    assert F.main([str(ckpt), "--out", str(tmp_path / "out"), "--backend", "onnx"]) == 2
    assert "python -m vaekit.export" in capsys.readouterr().err
    assert F.main([str(ckpt), "--out", str(tmp_path / "out"), "--data-root",
                   str(tmp_path / "empty")]) == 2
    assert "MNIST not found" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_stale_export_is_refused(tmp_path, fake_root):
    ckpt = tiny_checkpoint(tmp_path / "ckpt", fake_root)
    onnx = ckpt / fmt.ONNX_SUBFOLDER
    onnx.mkdir()
    for name in fmt.graph_files():
        (onnx / name).write_bytes(b"placeholder")
    (onnx / fmt.CONTRACT_FILE).write_text(json.dumps({"checkpoint_sha256": "0" * 64}))
    with pytest.raises(ValueError, match="re-export"):
        F.open_codec(ckpt)
    assert F.open_codec(ckpt, backend="torch").backend == "torch"


def test_figures_decode_through_the_exported_graphs(tmp_path, tiny_ckpt):
    onnx, eager = F.open_codec(tiny_ckpt), F.open_codec(tiny_ckpt, backend="torch")
    assert onnx.backend == "onnx" and "CPUExecutionProvider" in onnx.detail
    z = P.sample_latents(300, 2)  # more than one batch of the codec
    np.testing.assert_allclose(onnx.decode(z), eager.decode(z), atol=1e-4, rtol=0)
    x = np.random.default_rng(0).random((5, 1, 28, 28), dtype=np.float32)
    np.testing.assert_allclose(onnx.encode(x), eager.encode(x), atol=1e-4, rtol=0)
    done = F.make_figures(tiny_ckpt, tmp_path / "figs", limit=16, progress=False)
    assert done.backend == "onnx" and sorted(done.paths) == ALL_2D
    assert png_size(done.paths[P.RECONSTRUCTIONS]) == P.grid_size(2, 16, 28, 28)


@pytest.mark.parametrize("change, problem", [
    ({"pairs": 0}, "pairs must be a whole number in 1..1024, got 0"),
    ({"interpolation_steps": 1}, "interpolation_steps must be a whole number in 2..64, got 1"),
    ({"sample_rows": 2.5}, "sample_rows must be a whole number in 1..64, got 2.5"),
    ({"seed": -1}, "seed must be a whole number in 0..4294967295, got -1"),
])
def test_figure_settings_out_of_range_are_refused_before_any_decoding(change, problem):
    with pytest.raises(ValueError, match=problem):
        F.FigureSettings(**change)
