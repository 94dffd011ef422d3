"""The figures of a VAE as pure functions of numpy arrays (numpy + matplotlib, no torch).

Image grids are ``[H', W', 3]`` float arrays in [0, 1] laid out like
:func:`torchvision.utils.make_grid` (row-major, white padding between and around the
images); plots are matplotlib :class:`~matplotlib.figure.Figure` objects made without
pyplot. :func:`write_png` writes either atomically. Functions that decode take a ``decode``
callable ``z float32 [N, D] -> images float32 [N, C, H, W] in [0, 1]``, so the same figure
comes from the PyTorch model or the exported ONNX graphs.

``python -m vaekit.export.figures CHECKPOINT --out DIR`` draws a checkpoint's figures with
these functions; the notebook ``notebooks/reproduce.ipynb`` runs that for every checkpoint.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Callable
from pathlib import Path
from statistics import NormalDist

import numpy as np
from vaekit.format import atomic_write_bytes

#: file names, fixed by the README and the notebook
RECONSTRUCTIONS = "reconstructions.png"
INTERPOLATIONS = "interpolations.png"
SAMPLES = "samples.png"
#: a model that ships a fitted or learned prior: N(0, I) samples beside the shipped prior's
SAMPLES_VS_NORMAL = "samples_vs_normal.png"
LATENT_DISTRIBUTION = "latent_space_distribution.png"
LATENT_SPACE = "latent_space.png"
LATENT_MANIFOLD = "latent_manifold.png"

#: padding (pixels) and its colour (white) between the images of every grid
PADDING = 2
PAD_VALUE = 1.0

Decode = Callable[[np.ndarray], np.ndarray]


# --------------------------------------------------------------------------- image grids


def grid_size(rows: int, columns: int, height: int, width: int, padding: int = PADDING) -> tuple[int, int]:
    """``(pixel height, pixel width)`` of an :func:`image_grid` of ``rows x columns`` images."""
    return rows * (height + padding) + padding, columns * (width + padding) + padding


def check_images(images: np.ndarray, name: str) -> np.ndarray:
    """``images`` as float32 ``[N, C, H, W]`` with C = 1 or 3 and N >= 1, else a ValueError."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"{name} must be [N, C, H, W] with C = 1 or 3, got shape {images.shape}")
    if len(images) == 0:
        raise ValueError(f"{name} is empty: pass at least one image (is the test split empty?)")
    return images.astype(np.float32, copy=False)


def image_grid(images: np.ndarray, columns: int, padding: int = PADDING) -> np.ndarray:
    """``images [N, C, H, W]`` in [0, 1] -> ``[H', W', 3]`` grid, row-major, white padding.

    Grey images are repeated into RGB; cells past the last image stay white.
    """
    images = np.clip(check_images(images, "images"), 0.0, 1.0)
    n, c, h, w = images.shape
    columns = max(1, min(columns, n))
    rows = math.ceil(n / columns)
    height, width = grid_size(rows, columns, h, w, padding)
    grid = np.full((height, width, 3), PAD_VALUE, dtype=np.float32)
    cells = images.transpose(0, 2, 3, 1)  # [N, H, W, C]; C = 1 broadcasts over RGB
    for k in range(n):
        row, col = divmod(k, columns)
        top, left = padding + row * (h + padding), padding + col * (w + padding)
        grid[top : top + h, left : left + w] = cells[k]
    return grid


def reconstruction_grid(inputs: np.ndarray, reconstructions: np.ndarray, *, pairs_per_row: int = 8) -> np.ndarray:
    """Pairs side by side: ``inputs [N, C, H, W]`` left, ``reconstructions`` (same shape) right.

    Returns a grid of ``ceil(N / pairs_per_row)`` rows and ``2 * pairs_per_row`` columns
    (even columns, counting from 0, are the inputs).
    """
    inputs, reconstructions = np.asarray(inputs), np.asarray(reconstructions)
    if inputs.shape != reconstructions.shape:
        raise ValueError(f"inputs {inputs.shape} and reconstructions {reconstructions.shape} "
                         f"must have the same shape")
    inputs = check_images(inputs, "inputs")
    pairs = np.stack([inputs, reconstructions.astype(np.float32)], axis=1).reshape(-1, *inputs.shape[1:])
    return image_grid(pairs, 2 * min(pairs_per_row, len(inputs)))


def interpolation_latents(start: np.ndarray, end: np.ndarray, steps: int) -> np.ndarray:
    """Linear paths ``start [R, D] -> end [R, D]`` at ``steps`` points t in [0, 1]: ``[R, steps, D]``."""
    start, end = np.asarray(start, np.float32), np.asarray(end, np.float32)
    if start.shape != end.shape or start.ndim != 2:
        raise ValueError(f"start {start.shape} and end {end.shape} must both be [R, D]")
    if steps < 2:
        raise ValueError(f"steps must be >= 2 (the two ends), got {steps}")
    t = np.linspace(0, 1, steps, dtype=np.float32).reshape(1, steps, 1)
    return start[:, None] * (1 - t) + end[:, None] * t


def interpolation_pairs(labels: np.ndarray, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(left [R], right [R])`` of ``R <= rows`` test images to interpolate between.

    Left images are the first R; each right image is the next unused one after them whose
    label differs (labels < 0, i.e. unlabelled data, pair images R..2R-1 in order).
    """
    labels = np.asarray(labels)
    n = len(labels)
    rows = min(rows, n // 2)
    left = list(range(rows))
    pool = list(range(rows, n))
    right = []
    for i in left:
        pick = next((j for j in pool if labels[i] < 0 or labels[j] != labels[i]), pool[0])
        pool.remove(pick)
        right.append(pick)
    return np.array(left, dtype=np.int64), np.array(right, dtype=np.int64)


def interpolation_grid(left: np.ndarray, right: np.ndarray, left_z: np.ndarray, right_z: np.ndarray,
                       decode: Decode, *, steps: int = 8) -> np.ndarray:
    """One row per pair: real ``left`` image, ``steps`` decoded latents, real ``right`` image.

    ``left``/``right`` are ``[R, C, H, W]`` test images and ``left_z``/``right_z`` ``[R, D]``
    their posterior means; the middle images decode ``(1 - t) * left_z + t * right_z`` for
    ``steps`` values of t from 0 to 1 (so the decoded ends are the reconstructions). Returns a
    grid of R rows and ``steps + 2`` columns.
    """
    left, right = np.asarray(left), np.asarray(right)
    if left.shape != right.shape:
        raise ValueError(f"left {left.shape} and right {right.shape} must match")
    left = check_images(left, "left")
    rows = len(left)
    z = interpolation_latents(left_z, right_z, steps)
    middle = np.asarray(decode(z.reshape(rows * steps, -1)), np.float32)
    middle = middle.reshape(rows, steps, *left.shape[1:])
    cells = np.concatenate([left[:, None], middle, right.astype(np.float32)[:, None]], axis=1)
    return image_grid(cells.reshape(-1, *left.shape[1:]), steps + 2)


def sample_latents(n: int, latent_dim: int, *, seed: int = 0, temperature: float = 1.0) -> np.ndarray:
    """``z ~ N(0, temperature^2 I)``, float32 ``[n, latent_dim]``, from a seeded generator."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, latent_dim)) * temperature).astype(np.float32)


def sample_grid(decode: Decode, latent_dim: int, *, rows: int = 8, columns: int = 8, seed: int = 0,
                temperature: float = 1.0) -> np.ndarray:
    """``rows x columns`` decoded prior samples as a grid (seeded)."""
    z = sample_latents(rows * columns, latent_dim, seed=seed, temperature=temperature)
    return image_grid(decode(z), columns)


def side_by_side_figure(grids: list[np.ndarray], titles: list[str], *, dpi: int = 100):
    """Image grids ``[H, W, 3]`` side by side, each under its title, at one pixel per pixel
    (a 64 x 64 picture stays 64 x 64 pixels)."""
    from matplotlib.figure import Figure

    if len(grids) != len(titles) or not grids:
        raise ValueError(f"need one title per grid, got {len(grids)} grids and {len(titles)} titles")
    gap, head = 16, 28
    height = max(g.shape[0] for g in grids) + head
    width = sum(g.shape[1] for g in grids) + gap * (len(grids) + 1)
    fig = Figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    left = gap
    for grid, title in zip(grids, titles):
        ax = fig.add_axes((left / width, 0, grid.shape[1] / width, grid.shape[0] / height))
        ax.imshow(np.clip(grid, 0, 1), interpolation="nearest")
        ax.set_axis_off()
        fig.text((left + grid.shape[1] / 2) / width, 1 - 4 / height, title, ha="center", va="top", fontsize=10)
        left += grid.shape[1] + gap
    return fig


def manifold_latents(n: int = 20) -> np.ndarray:
    """An ``n x n`` grid of 2-D latents at the N(0, 1) quantiles ``(i + 0.5) / n``: ``[n*n, 2]``.

    As in Kingma & Welling (2014, fig. 4): evenly spaced points on the unit square mapped
    through the inverse Gaussian CDF. Row-major; z1 grows left to right and z2 decreases from
    top to bottom, so the grid reads like the scatter plot of ``latent_space.png``.
    """
    if n < 2:
        raise ValueError(f"the manifold needs n >= 2 points per side, got {n}")
    q = np.array([NormalDist().inv_cdf((i + 0.5) / n) for i in range(n)])
    z2, z1 = np.meshgrid(q[::-1], q, indexing="ij")
    return np.stack([z1, z2], axis=-1).reshape(n * n, 2).astype(np.float32)


def manifold_grid(decode: Decode, *, n: int = 20, padding: int = 0) -> np.ndarray:
    """The decoder over :func:`manifold_latents`: an ``[n*H, n*W, 3]`` sheet (no padding)."""
    return image_grid(decode(manifold_latents(n)), n, padding=padding)


# --------------------------------------------------------------------------- matplotlib plots


def normal_pdf(x: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * x**2) / math.sqrt(2 * math.pi)


def distribution_layout(dims: int, *, max_dims: int = 64, panel_inches: float = 1.6,
                        min_width_inches: float = 6.0) -> tuple[int, int, tuple[float, float]]:
    """``(rows, columns, figsize inches)`` of :func:`latent_distribution_figure` for ``dims``.

    ``min(dims, max_dims)`` panels in a near-square grid; panels grow so the figure is at
    least ``min_width_inches`` wide; 0.7 inch on top holds the title.
    """
    shown = min(dims, max_dims)
    columns = math.ceil(math.sqrt(shown))
    rows = math.ceil(shown / columns)
    panel = max(panel_inches, min_width_inches / columns)
    return rows, columns, (columns * panel, rows * panel * 0.8 + 0.7)


def latent_distribution_figure(means: np.ndarray, *, max_dims: int = 64, bins: int = 40,
                               panel_inches: float = 1.6, dpi: int = 100):
    """One histogram per latent dimension of ``means [N, D]``, the N(0, 1) density over each.

    The first ``min(D, max_dims)`` dimensions are drawn in a near-square grid of small panels
    (one axes per dimension, so ``len(fig.axes) == min(D, max_dims)``); the size is
    :func:`distribution_layout`'s. The title counts the active units (variance of the
    posterior mean over the images > 0.01, Burda et al. 2016).
    """
    from matplotlib.figure import Figure

    means = np.asarray(means, dtype=np.float64)
    if means.ndim != 2 or len(means) < 2:
        raise ValueError(f"means must be [N, D] with N >= 2 images, got shape {means.shape}")
    n, d = means.shape
    shown = min(d, max_dims)
    rows, columns, figsize = distribution_layout(d, max_dims=max_dims, panel_inches=panel_inches)
    fig = Figure(figsize=figsize, dpi=dpi, layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    lim = max(4.0, float(np.quantile(np.abs(means), 0.999)))
    grid = np.linspace(-lim, lim, 200)
    for i, ax in enumerate(axes):
        if i >= shown:
            fig.delaxes(ax)
            continue
        ax.hist(means[:, i], bins=bins, range=(-lim, lim), density=True, color="tab:blue",
                alpha=0.7)
        ax.plot(grid, normal_pdf(grid), color="tab:red", lw=1.2)
        ax.set_title(f"$z_{{{i + 1}}}$", fontsize=8, pad=2)
        ax.set_yticks([])
        ax.tick_params(labelsize=6)
    active = int((means.var(axis=0) > 0.01).sum())
    more = f" (first {shown} of {d})" if shown < d else ""
    fig.suptitle(f"posterior means of {n} test images{more}\nN(0, 1) density in red; "
                 f"{active} of {d} units active (variance > 0.01)", fontsize=9)
    return fig


def latent_space_figure(means: np.ndarray, labels: np.ndarray | None = None,
                        classes: tuple[str, ...] = (), *, size_inches: float = 7.0, dpi: int = 100):
    """Scatter of 2-D posterior means ``[N, 2]`` coloured by ``labels [N]`` (legend: ``classes``).

    Dashed contours of the standard 2-D Gaussian at 1, 2 and 3 sigma (circles of radius 1, 2
    and 3); equal aspect. Labels < 0 (unlabelled data) are drawn in grey without a legend.
    Figure size: ``size_inches`` square.
    """
    from matplotlib.figure import Figure

    means = np.asarray(means, dtype=np.float64)
    if means.ndim != 2 or means.shape[1] != 2:
        raise ValueError(f"latent_space needs 2-D means [N, 2], got shape {means.shape}; "
                         f"use latent_distribution_figure for other latent sizes")
    labels = np.full(len(means), -1) if labels is None else np.asarray(labels)
    if labels.shape != (len(means),):
        raise ValueError(f"labels must be [N] = [{len(means)}], got shape {labels.shape}")
    fig = Figure(figsize=(size_inches, size_inches), dpi=dpi, layout="constrained")
    ax = fig.subplots()
    lim = max(3.5, float(np.quantile(np.abs(means), 0.999)) * 1.05)
    unlabelled = labels < 0
    if unlabelled.any():
        ax.scatter(*means[unlabelled].T, s=4, c="0.5", alpha=0.6, linewidths=0)
    colours = _class_colours(max(len(classes), int(labels.max(initial=-1)) + 1))
    for k in np.unique(labels[~unlabelled]):
        name = classes[k] if k < len(classes) else str(k)
        ax.scatter(*means[labels == k].T, s=4, color=colours[k], alpha=0.7, linewidths=0, label=name)
    xs = np.linspace(-lim, lim, 300)
    gx, gy = np.meshgrid(xs, xs)
    pdf = np.exp(-0.5 * (gx**2 + gy**2)) / (2 * np.pi)
    levels = [math.exp(-0.5 * r**2) / (2 * math.pi) for r in (3, 2, 1)]  # increasing
    cs = ax.contour(gx, gy, pdf, levels=levels, colors="k", linestyles="dashed", linewidths=1,
                    zorder=3)
    ax.clabel(cs, fmt={lv: f"{r}$\\sigma$" for lv, r in zip(levels, (3, 2, 1))}, fontsize=8)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    ax.set_title(f"posterior means of {len(means)} test images")
    if (~unlabelled).any():
        ax.legend(loc="upper right", markerscale=3, fontsize=8, framealpha=0.9)
    return fig


def _class_colours(n: int) -> list:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(max(n, 1))]


# --------------------------------------------------------------------------- writing files


def figure_png(fig) -> bytes:
    """PNG bytes of a matplotlib figure at its own size and dpi (no tight bbox)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi)
    return buf.getvalue()


def grid_png(grid: np.ndarray) -> bytes:
    """PNG bytes of an ``[H, W, 3]`` grid in [0, 1] (rounded to 8 bits)."""
    from PIL import Image  # a dependency of matplotlib

    grid = np.asarray(grid)
    if grid.ndim != 3 or grid.shape[2] != 3:
        raise ValueError(f"a grid is [H, W, 3], got shape {grid.shape}")
    pixels = np.clip(grid * 255 + 0.5, 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="png")
    return buf.getvalue()


def write_png(path: str | os.PathLike, image) -> Path:
    """Write a grid array or a matplotlib figure to ``path`` atomically (temp + rename)."""
    data = grid_png(image) if isinstance(image, np.ndarray) else figure_png(image)
    return atomic_write_bytes(path, data)
