"""The figures of issue 4: each file is produced with the grid geometry its layout implies.

Everything runs on a tiny freshly built model and a fake MNIST of noise images written by
``support.write_fake_mnist`` in torchvision's layout (``MNIST/raw/*-idx?-ubyte``), so no real
data or trained checkpoint is needed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from support import tiny_checkpoint, write_fake_mnist
from vaekit.train import VAEConfig, build_model
from vaekit.train import figures as F

CLASSES = tuple(str(i) for i in range(10))


def png_size(path: Path) -> tuple[int, int]:
    """``(height, width)`` of a PNG file."""
    with Image.open(path) as im:
        return im.height, im.width


def cell(grid: torch.Tensor, row: int, col: int, h: int, w: int, pad: int = F.PADDING) -> torch.Tensor:
    """The ``[3, h, w]`` image at ``(row, col)`` of a make_grid."""
    top, left = pad + row * (h + pad), pad + col * (w + pad)
    return grid[:, top : top + h, left : left + w]


@pytest.fixture(scope="module")
def decode():
    torch.manual_seed(0)
    model = build_model(VAEConfig(dim=8, dim_mults=(1, 2), latent_dim=2)).eval()
    dec = model.decoder_mean()

    def run(z):
        with torch.no_grad():
            return dec(z)

    return run


# ----------------------------------------------------------------------------- image grids


def test_reconstructions_are_pairs_input_left(tmp_path):
    inputs, recons = torch.rand(8, 1, 28, 28), torch.rand(8, 1, 28, 28)
    grid = F.reconstruction_grid(inputs, recons, pairs_per_row=4)
    path = F.write_png(tmp_path / F.RECONSTRUCTIONS, grid)
    # 8 pairs, 4 per row: 2 rows x 8 columns of 28x28 with 2 px padding -> 62 x 242 pixels
    assert png_size(path) == F.grid_size(2, 8, 28, 28) == (62, 242)
    for k in range(8):
        row, col = divmod(k, 4)
        assert torch.equal(cell(grid, row, 2 * col, 28, 28)[0], inputs[k, 0])
        assert torch.equal(cell(grid, row, 2 * col + 1, 28, 28)[0], recons[k, 0])
    with pytest.raises(ValueError, match="same shape"):
        F.reconstruction_grid(inputs, recons[:7])


def test_interpolations_start_and_end_on_real_images(tmp_path, decode):
    left, right = torch.rand(3, 1, 28, 28), torch.rand(3, 1, 28, 28)
    za, zb = torch.randn(3, 2), torch.randn(3, 2)
    grid = F.interpolation_grid(left, right, za, zb, decode, steps=6)
    path = F.write_png(tmp_path / F.INTERPOLATIONS, grid)
    assert png_size(path) == F.grid_size(3, 8, 28, 28)  # 3 rows, 1 + 6 + 1 columns
    for r in range(3):
        assert torch.equal(cell(grid, r, 0, 28, 28)[0], left[r, 0])
        assert torch.equal(cell(grid, r, 7, 28, 28)[0], right[r, 0])
        # the first decoded image is the decoder at the left latent (t = 0)
        torch.testing.assert_close(cell(grid, r, 1, 28, 28)[0], decode(za[r : r + 1])[0, 0])
    path_z = F.interpolation_latents(za, zb, 6)
    torch.testing.assert_close(path_z[:, 0], za)
    torch.testing.assert_close(path_z[:, -1], zb)


def test_interpolation_pairs_join_different_classes():
    labels = torch.tensor([0, 0, 1, 0, 2, 0, 3, 4])
    left, right = F.interpolation_pairs(labels, 3)
    assert left.tolist() == [0, 1, 2]
    assert all(labels[a] != labels[b] for a, b in zip(left, right))
    assert len(set(right.tolist())) == 3
    unlabelled = F.interpolation_pairs(torch.full((10,), -1), 4)
    assert unlabelled[1].tolist() == [4, 5, 6, 7]


def test_samples_grid_geometry_and_seed(tmp_path):
    torch.manual_seed(0)
    rgb = build_model(VAEConfig(in_channels=3, image_size=16, dim=8, dim_mults=(1, 2),
                                latent_dim=4, likelihood="logistic")).eval().decoder_mean()
    dec = torch.no_grad()(rgb)
    grid = F.sample_grid(dec, 4, rows=3, columns=5, seed=1)
    path = F.write_png(tmp_path / F.SAMPLES, grid)
    assert png_size(path) == F.grid_size(3, 5, 16, 16) == (56, 92)
    assert torch.equal(grid, F.sample_grid(dec, 4, rows=3, columns=5, seed=1))
    assert not torch.equal(grid, F.sample_grid(dec, 4, rows=3, columns=5, seed=2))


def test_manifold_is_a_sheet_at_gaussian_quantiles(tmp_path, decode):
    z = F.manifold_latents(5)
    assert z.shape == (25, 2)
    q = torch.distributions.Normal(0.0, 1.0).icdf(torch.tensor([0.1, 0.3, 0.5, 0.7, 0.9]))
    torch.testing.assert_close(z[:5, 0], q)  # z1 grows left to right on the top row
    torch.testing.assert_close(z[::5, 1], q.flip(0))  # z2 falls from top to bottom
    path = F.write_png(tmp_path / F.LATENT_MANIFOLD, F.manifold_grid(decode, n=5))
    assert png_size(path) == (5 * 28, 5 * 28)  # no padding: a continuous sheet


# ----------------------------------------------------------------------------- plots


@pytest.mark.parametrize("dims, shown", [(2, 2), (5, 5), (100, 64)])
def test_latent_distribution_one_panel_per_dimension(tmp_path, dims, shown):
    means = np.random.default_rng(0).normal(size=(300, dims))
    fig = F.latent_distribution_figure(means)
    assert len(fig.axes) == shown
    for ax in fig.axes:
        assert len(ax.patches) == 40  # the histogram's bars
        assert len(ax.lines) == 1  # the N(0, 1) density
    path = F.write_png(tmp_path / F.LATENT_DISTRIBUTION, fig)
    rows, columns, (w, h) = F.distribution_layout(dims)
    assert rows * columns >= shown
    assert png_size(path) == (round(h * fig.dpi), round(w * fig.dpi))
    assert (f"first 64 of {dims}" in fig._suptitle.get_text()) == (dims > 64)


def test_latent_space_scatter_has_legend_and_sigma_contours(tmp_path):
    rng = np.random.default_rng(0)
    means, labels = rng.normal(size=(200, 2)), np.arange(200) % 10
    fig = F.latent_space_figure(means, labels, CLASSES)
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(CLASSES)
    assert ax.get_aspect() == 1.0
    (contours,) = [c for c in ax.collections if hasattr(c, "levels")]
    radii = np.sqrt(-2 * np.log(np.asarray(contours.levels) * 2 * np.pi))
    np.testing.assert_allclose(sorted(radii), [1, 2, 3])
    path = F.write_png(tmp_path / F.LATENT_SPACE, fig)
    assert png_size(path) == (700, 700)
    with pytest.raises(ValueError, match="2-D means"):
        F.latent_space_figure(rng.normal(size=(10, 3)))


# ----------------------------------------------------------------------------- a checkpoint


@pytest.fixture(scope="module")
def fake_root(tmp_path_factory):
    return write_fake_mnist(tmp_path_factory.mktemp("data"), train=8, test=40, style="noise")


def test_make_figures_writes_every_figure_of_a_2d_model(tmp_path, fake_root):
    ckpt = tiny_checkpoint(tmp_path / "ckpt", fake_root)
    s = F.FigureSettings(pairs=12, pairs_per_row=4, interpolation_rows=5, interpolation_steps=6,
                         sample_rows=3, sample_columns=7, manifold_side=6)
    done = F.make_figures(ckpt, tmp_path / "figs", settings=s, progress=False)
    assert done.backend == "torch" and done.images == 40
    assert sorted(done.paths) == sorted([F.RECONSTRUCTIONS, F.INTERPOLATIONS, F.SAMPLES,
                                         F.LATENT_DISTRIBUTION, F.LATENT_SPACE, F.LATENT_MANIFOLD])
    p = done.paths
    assert png_size(p[F.RECONSTRUCTIONS]) == F.grid_size(3, 8, 28, 28)
    assert png_size(p[F.INTERPOLATIONS]) == F.grid_size(5, 8, 28, 28)
    assert png_size(p[F.SAMPLES]) == F.grid_size(3, 7, 28, 28)
    assert png_size(p[F.LATENT_MANIFOLD]) == (6 * 28, 6 * 28)
    assert png_size(p[F.LATENT_SPACE]) == (700, 700)
    _, _, (w, h) = F.distribution_layout(2)
    assert png_size(p[F.LATENT_DISTRIBUTION]) == (round(h * 100), round(w * 100))
    assert not list((tmp_path / "figs").glob(".*.tmp"))  # atomic writes leave no temp file


def test_make_figures_of_a_larger_latent_skip_the_2d_plots(tmp_path, fake_root):
    ckpt = tiny_checkpoint(tmp_path / "ckpt", fake_root, latent_dim=3)
    done = F.make_figures(ckpt, tmp_path / "figs", limit=20, progress=False)
    assert sorted(done.paths) == sorted([F.RECONSTRUCTIONS, F.INTERPOLATIONS, F.SAMPLES,
                                         F.LATENT_DISTRIBUTION])
    assert done.images == 20
    # defaults: 32 pairs wanted, 20 images given -> 20 pairs, 8 per row -> 3 rows x 16 columns
    assert png_size(done.paths[F.RECONSTRUCTIONS]) == F.grid_size(3, 16, 28, 28)
    assert png_size(done.paths[F.SAMPLES]) == F.grid_size(8, 8, 28, 28)
    assert not (tmp_path / "figs" / F.LATENT_SPACE).exists()


def test_cli_writes_the_figures_and_reports_the_backend(tmp_path, fake_root, capsys):
    ckpt = tiny_checkpoint(tmp_path / "ckpt", fake_root)
    assert F.main([str(ckpt), "--out", str(tmp_path / "out"), "--limit", "16"]) == 0
    out = capsys.readouterr().out
    assert "6 figures from 16 test images via PyTorch on cpu" in out
    assert len(list((tmp_path / "out").glob("*.png"))) == 6


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
    onnx = ckpt / F.ONNX_DIR
    onnx.mkdir()
    for name in ("encoder.onnx", "decoder.onnx"):
        (onnx / name).write_bytes(b"placeholder")
    (onnx / "vaekit.json").write_text(json.dumps({"checkpoint_sha256": "0" * 64}))
    with pytest.raises(ValueError, match="re-export"):
        F.open_codec(ckpt)
    assert F.open_codec(ckpt, backend="torch").backend == "torch"


def test_figures_decode_through_the_exported_graphs(tmp_path, fake_root):
    pipeline = pytest.importorskip("vaekit.export.pipeline", reason="the exporter is not built yet")
    pytest.importorskip("onnxruntime")
    ckpt = tiny_checkpoint(tmp_path / "ckpt", fake_root)
    pipeline.export_checkpoint(ckpt, examples=0, progress=False)
    onnx, eager = F.open_codec(ckpt), F.open_codec(ckpt, backend="torch")
    assert onnx.backend == "onnx" and "CPUExecutionProvider" in onnx.detail
    z = F.sample_latents(300, 2)  # more than one batch of the adapter
    torch.testing.assert_close(onnx.decode(z), eager.decode(z), atol=1e-4, rtol=0)
    x = torch.rand(5, 1, 28, 28)
    torch.testing.assert_close(onnx.encode(x)[0], eager.encode(x)[0], atol=1e-4, rtol=0)
    done = F.make_figures(ckpt, tmp_path / "figs", limit=16, progress=False)
    assert done.backend == "onnx" and len(done.paths) == 6
    assert png_size(done.paths[F.RECONSTRUCTIONS]) == F.grid_size(2, 16, 28, 28)
