"""The figures of issue 4 as pure functions of arrays: each file has the geometry its layout implies.

No model is needed: ``decode`` is a fixed numpy map from latents to images, so every decoded
cell can be checked against it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pytest
from PIL import Image
from vaekit.train import plots as P

CLASSES = tuple(str(i) for i in range(10))


def png_size(path: Path) -> tuple[int, int]:
    """``(height, width)`` of a PNG file."""
    with Image.open(path) as im:
        return im.height, im.width


def cell(grid: np.ndarray, row: int, col: int, h: int, w: int, pad: int = P.PADDING) -> np.ndarray:
    """The ``[h, w, 3]`` image at ``(row, col)`` of an image grid."""
    top, left = pad + row * (h + pad), pad + col * (w + pad)
    return grid[top : top + h, left : left + w]


def decoder(channels: int = 1, size: int = 28, latent_dim: int = 2):
    """A fixed smooth map ``z [N, D] -> images [N, C, size, size]`` in (0, 1)."""
    weights = np.random.default_rng(0).normal(size=(latent_dim, channels * size * size))

    def decode(z: np.ndarray) -> np.ndarray:
        z = np.asarray(z, np.float64)
        return (1 / (1 + np.exp(-z @ weights))).reshape(len(z), channels, size, size).astype(np.float32)

    return decode


# ----------------------------------------------------------------------------- image grids


def test_reconstructions_are_pairs_input_left(tmp_path):
    rng = np.random.default_rng(0)
    inputs, recons = rng.random((8, 1, 28, 28)), rng.random((8, 1, 28, 28))
    grid = P.reconstruction_grid(inputs, recons, pairs_per_row=4)
    path = P.write_png(tmp_path / P.RECONSTRUCTIONS, grid)
    # 8 pairs, 4 per row: 2 rows x 8 columns of 28x28 with 2 px padding -> 62 x 242 pixels
    assert png_size(path) == P.grid_size(2, 8, 28, 28) == (62, 242)
    for k in range(8):
        row, col = divmod(k, 4)
        np.testing.assert_allclose(cell(grid, row, 2 * col, 28, 28)[..., 0], inputs[k, 0], rtol=1e-6)
        np.testing.assert_allclose(cell(grid, row, 2 * col + 1, 28, 28)[..., 2], recons[k, 0], rtol=1e-6)
    assert (grid[:2] == P.PAD_VALUE).all()  # white padding on top
    with pytest.raises(ValueError, match="same shape"):
        P.reconstruction_grid(inputs, recons[:7])


def test_grid_png_keeps_the_pixels(tmp_path):
    images = np.random.default_rng(1).random((3, 3, 5, 4))
    grid = P.image_grid(images, 2)
    assert grid.shape == (*P.grid_size(2, 2, 5, 4), 3)
    assert (cell(grid, 1, 1, 5, 4) == P.PAD_VALUE).all()  # no fourth image: the cell stays white
    with Image.open(P.write_png(tmp_path / "grid.png", grid)) as im:
        pixels = np.asarray(im.convert("RGB"))
    np.testing.assert_array_equal(pixels, np.round(grid * 255).astype(np.uint8))
    with pytest.raises(ValueError, match="C = 1 or 3"):
        P.image_grid(np.zeros((2, 28, 28, 1)), 2)  # channels-last is refused, not misread
    with pytest.raises(ValueError, match="is empty"):
        P.image_grid(np.zeros((0, 1, 28, 28)), 2)


def test_interpolations_start_and_end_on_real_images(tmp_path):
    decode = decoder()
    rng = np.random.default_rng(0)
    left, right = rng.random((3, 1, 28, 28)), rng.random((3, 1, 28, 28))
    za, zb = rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
    grid = P.interpolation_grid(left, right, za, zb, decode, steps=6)
    path = P.write_png(tmp_path / P.INTERPOLATIONS, grid)
    assert png_size(path) == P.grid_size(3, 8, 28, 28)  # 3 rows, 1 + 6 + 1 columns
    for r in range(3):
        np.testing.assert_allclose(cell(grid, r, 0, 28, 28)[..., 0], left[r, 0], rtol=1e-6)
        np.testing.assert_allclose(cell(grid, r, 7, 28, 28)[..., 0], right[r, 0], rtol=1e-6)
        # the first decoded image is the decoder at the left latent (t = 0)
        np.testing.assert_allclose(cell(grid, r, 1, 28, 28)[..., 0], decode(za[r : r + 1])[0, 0],
                                   atol=1e-6)
    path_z = P.interpolation_latents(za, zb, 6)
    np.testing.assert_allclose(path_z[:, 0], za, rtol=1e-6)
    np.testing.assert_allclose(path_z[:, -1], zb, rtol=1e-6)


def test_interpolation_pairs_join_different_classes():
    labels = np.array([0, 0, 1, 0, 2, 0, 3, 4])
    left, right = P.interpolation_pairs(labels, 3)
    assert left.tolist() == [0, 1, 2]
    assert all(labels[a] != labels[b] for a, b in zip(left, right))
    assert len(set(right.tolist())) == 3
    unlabelled = P.interpolation_pairs(np.full(10, -1), 4)
    assert unlabelled[1].tolist() == [4, 5, 6, 7]


def test_samples_grid_geometry_and_seed(tmp_path):
    decode = decoder(channels=3, size=16, latent_dim=4)
    grid = P.sample_grid(decode, 4, rows=3, columns=5, seed=1)
    path = P.write_png(tmp_path / P.SAMPLES, grid)
    assert png_size(path) == P.grid_size(3, 5, 16, 16) == (56, 92)
    np.testing.assert_array_equal(grid, P.sample_grid(decode, 4, rows=3, columns=5, seed=1))
    assert not np.array_equal(grid, P.sample_grid(decode, 4, rows=3, columns=5, seed=2))


def test_manifold_is_a_sheet_at_gaussian_quantiles(tmp_path):
    z = P.manifold_latents(5)
    assert z.shape == (25, 2)
    q = np.array([NormalDist().inv_cdf(p) for p in (0.1, 0.3, 0.5, 0.7, 0.9)])
    np.testing.assert_allclose(z[:5, 0], q, rtol=1e-6)  # z1 grows left to right on the top row
    np.testing.assert_allclose(z[::5, 1], q[::-1], rtol=1e-6)  # z2 falls from top to bottom
    path = P.write_png(tmp_path / P.LATENT_MANIFOLD, P.manifold_grid(decoder(), n=5))
    assert png_size(path) == (5 * 28, 5 * 28)  # no padding: a continuous sheet


# ----------------------------------------------------------------------------- plots


@pytest.mark.parametrize("dims, max_dims, shown", [(2, 64, 2), (5, 64, 5), (12, 9, 9)])
def test_latent_distribution_one_panel_per_dimension(tmp_path, dims, max_dims, shown):
    means = np.random.default_rng(0).normal(size=(300, dims))
    fig = P.latent_distribution_figure(means, max_dims=max_dims)
    assert len(fig.axes) == shown
    for ax in fig.axes:
        assert len(ax.patches) == 40  # the histogram's bars
        assert len(ax.lines) == 1  # the N(0, 1) density
    path = P.write_png(tmp_path / P.LATENT_DISTRIBUTION, fig)
    rows, columns, (w, h) = P.distribution_layout(dims, max_dims=max_dims)
    assert rows * columns >= shown
    assert png_size(path) == (round(h * fig.dpi), round(w * fig.dpi))
    assert (f"first {max_dims} of {dims}" in fig._suptitle.get_text()) == (dims > max_dims)


def test_latent_space_scatter_has_legend_and_sigma_contours(tmp_path):
    rng = np.random.default_rng(0)
    means, labels = rng.normal(size=(200, 2)), np.arange(200) % 10
    fig = P.latent_space_figure(means, labels, CLASSES)
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(CLASSES)
    assert ax.get_aspect() == 1.0
    (contours,) = [c for c in ax.collections if hasattr(c, "levels")]
    radii = np.sqrt(-2 * np.log(np.asarray(contours.levels) * 2 * np.pi))
    np.testing.assert_allclose(sorted(radii), [1, 2, 3])
    path = P.write_png(tmp_path / P.LATENT_SPACE, fig)
    assert png_size(path) == (700, 700)
    with pytest.raises(ValueError, match="2-D means"):
        P.latent_space_figure(rng.normal(size=(10, 3)))


def test_the_figure_functions_need_no_torch():
    """plots.py itself imports numpy, matplotlib and PIL only (the package may import torch)."""
    import ast

    tree = ast.parse(Path(P.__file__).read_text())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level == 0}
    outside = {m for m in imported if m.split(".")[0] not in sys.stdlib_module_names}
    assert outside == {"numpy", "matplotlib", "matplotlib.figure", "PIL", "vaekit.format"}
