"""The figures of a trained VAE, rebuilt from its checkpoint folder.

    python -m vaekit.train.figures CHECKPOINT --out DIR [--limit N] [--device cpu]

Every model gets ``reconstructions.png``, ``interpolations.png``, ``samples.png`` and
``latent_space_distribution.png``; a model with a 2-D latent also gets ``latent_space.png``
and ``latent_manifold.png``. The images come from the test split named by the checkpoint's
own data config.

When ``CHECKPOINT/onnx/`` exists (written by ``python -m vaekit.export``), encoding and
decoding go through the exported graphs with :mod:`vaekit.runtime`, so the figures show what
ships; otherwise the PyTorch model is used. ``--backend`` forces one or the other.

The figure code is pure functions of arrays (and a ``decode`` callable): image grids are
``[3, H', W']`` tensors from :func:`torchvision.utils.make_grid`, plots are matplotlib
:class:`~matplotlib.figure.Figure` objects made without pyplot. :func:`make_figures` ties
them to a checkpoint; nothing runs at import time.
"""

from __future__ import annotations

import argparse
import io
import math
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from vaekit.format import WEIGHTS, atomic_write_bytes, sha256_file

from .checkpoint import load_checkpoint_split
from .data import ImageSplit

#: file names, fixed by the README and the notebook
RECONSTRUCTIONS = "reconstructions.png"
INTERPOLATIONS = "interpolations.png"
SAMPLES = "samples.png"
LATENT_DISTRIBUTION = "latent_space_distribution.png"
LATENT_SPACE = "latent_space.png"
LATENT_MANIFOLD = "latent_manifold.png"
ONNX_DIR = "onnx"
BACKENDS = ("auto", "onnx", "torch")

#: padding (pixels) and its colour (white) between the images of every grid
PADDING = 2
PAD_VALUE = 1.0

Decode = Callable[[Tensor], Tensor]


# --------------------------------------------------------------------------- image grids


def grid_size(rows: int, columns: int, height: int, width: int, padding: int = PADDING) -> tuple[int, int]:
    """``(pixel height, pixel width)`` of a :func:`make_grid` of ``rows x columns`` images."""
    return rows * (height + padding) + padding, columns * (width + padding) + padding


def _grid(images: Tensor, columns: int, padding: int = PADDING) -> Tensor:
    """``images [N, C, H, W]`` in [0, 1] -> ``[3, H', W']`` grid, row-major, white padding."""
    from torchvision.utils import make_grid

    _check_images(images, "images")
    return make_grid(images.detach().float().cpu().clamp(0, 1), nrow=columns, padding=padding,
                     pad_value=PAD_VALUE)


def _check_images(images: Tensor, name: str) -> None:
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"{name} must be [N, C, H, W] with C = 1 or 3, got shape {tuple(images.shape)}")
    if len(images) == 0:
        raise ValueError(f"{name} is empty: pass at least one image (is the test split empty?)")


def reconstruction_grid(inputs: Tensor, reconstructions: Tensor, *, pairs_per_row: int = 8) -> Tensor:
    """Pairs side by side: ``inputs [N, C, H, W]`` left, ``reconstructions`` (same shape) right.

    Returns a ``[3, H', W']`` grid of ``ceil(N / pairs_per_row)`` rows and
    ``2 * pairs_per_row`` columns (even columns, counting from 0, are the inputs).
    """
    if inputs.shape != reconstructions.shape:
        raise ValueError(f"inputs {tuple(inputs.shape)} and reconstructions "
                         f"{tuple(reconstructions.shape)} must have the same shape")
    _check_images(inputs, "inputs")
    pairs = torch.stack([inputs.float().cpu(), reconstructions.float().cpu()], dim=1).flatten(0, 1)
    return _grid(pairs, 2 * min(pairs_per_row, len(inputs)))


def interpolation_latents(start: Tensor, end: Tensor, steps: int) -> Tensor:
    """Linear paths ``start [R, D] -> end [R, D]`` at ``steps`` points t in [0, 1]: ``[R, steps, D]``."""
    if start.shape != end.shape or start.ndim != 2:
        raise ValueError(f"start {tuple(start.shape)} and end {tuple(end.shape)} must both be [R, D]")
    if steps < 2:
        raise ValueError(f"steps must be >= 2 (the two ends), got {steps}")
    t = torch.linspace(0, 1, steps, dtype=start.dtype).view(1, steps, 1)
    return start.unsqueeze(1) * (1 - t) + end.unsqueeze(1) * t


def interpolation_pairs(labels: Tensor, rows: int) -> tuple[Tensor, Tensor]:
    """Indices ``(left [R], right [R])`` of ``R <= rows`` test images to interpolate between.

    Left images are the first R; each right image is the next unused one after them whose
    label differs (labels < 0, i.e. unlabelled data, pair images R..2R-1 in order).
    """
    n = len(labels)
    rows = min(rows, n // 2)
    left = list(range(rows))
    pool = list(range(rows, n))
    right = []
    for i in left:
        pick = next((j for j in pool if labels[i] < 0 or labels[j] != labels[i]), pool[0])
        pool.remove(pick)
        right.append(pick)
    return torch.tensor(left, dtype=torch.long), torch.tensor(right, dtype=torch.long)


def interpolation_grid(
    left: Tensor, right: Tensor, left_z: Tensor, right_z: Tensor, decode: Decode, *, steps: int = 8
) -> Tensor:
    """One row per pair: real ``left`` image, ``steps`` decoded latents, real ``right`` image.

    ``left``/``right`` are ``[R, C, H, W]`` test images and ``left_z``/``right_z`` ``[R, D]``
    their posterior means; the middle images decode ``(1 - t) * left_z + t * right_z`` for
    ``steps`` values of t from 0 to 1 (so the decoded ends are the reconstructions). Returns a
    ``[3, H', W']`` grid of R rows and ``steps + 2`` columns.
    """
    if left.shape != right.shape:
        raise ValueError(f"left {tuple(left.shape)} and right {tuple(right.shape)} must match")
    _check_images(left, "left")
    rows = len(left)
    z = interpolation_latents(left_z.float().cpu(), right_z.float().cpu(), steps)
    middle = decode(z.flatten(0, 1)).float().cpu().view(rows, steps, *left.shape[1:])
    cells = torch.cat([left.float().cpu().unsqueeze(1), middle, right.float().cpu().unsqueeze(1)], 1)
    return _grid(cells.flatten(0, 1), steps + 2)


def sample_latents(n: int, latent_dim: int, *, seed: int = 0, temperature: float = 1.0) -> Tensor:
    """``z ~ N(0, temperature^2 I)``, ``[n, latent_dim]``, from a seeded generator."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn((n, latent_dim), generator=g) * temperature


def sample_grid(decode: Decode, latent_dim: int, *, rows: int = 8, columns: int = 8, seed: int = 0,
                temperature: float = 1.0) -> Tensor:
    """``rows x columns`` decoded prior samples as a ``[3, H', W']`` grid (seeded)."""
    z = sample_latents(rows * columns, latent_dim, seed=seed, temperature=temperature)
    return _grid(decode(z).float().cpu(), columns)


def manifold_latents(n: int = 20) -> Tensor:
    """An ``n x n`` grid of 2-D latents at the N(0, 1) quantiles ``(i + 0.5) / n``: ``[n*n, 2]``.

    As in Kingma & Welling (2014, fig. 4): evenly spaced points on the unit square mapped
    through the inverse Gaussian CDF. Row-major; z1 grows left to right and z2 top to bottom
    decreases, so the grid reads like the scatter plot of ``latent_space.png``.
    """
    if n < 2:
        raise ValueError(f"the manifold needs n >= 2 points per side, got {n}")
    q = torch.distributions.Normal(0.0, 1.0).icdf((torch.arange(n, dtype=torch.float64) + 0.5) / n)
    z2, z1 = torch.meshgrid(q.flip(0), q, indexing="ij")
    return torch.stack([z1, z2], dim=-1).view(n * n, 2).float()


def manifold_grid(decode: Decode, *, n: int = 20, padding: int = 0) -> Tensor:
    """The decoder over :func:`manifold_latents`: a ``[3, n*H, n*W]`` sheet (no padding)."""
    return _grid(decode(manifold_latents(n)).float().cpu(), n, padding=padding)


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
    cmap = _class_colours(max(len(classes), int(labels.max(initial=-1)) + 1))
    for k in np.unique(labels[~unlabelled]):
        name = classes[k] if k < len(classes) else str(k)
        ax.scatter(*means[labels == k].T, s=4, color=cmap[k], alpha=0.7, linewidths=0, label=name)
    xs = np.linspace(-lim, lim, 300)
    gx, gy = np.meshgrid(xs, xs)
    r2 = gx**2 + gy**2
    pdf = np.exp(-0.5 * r2) / (2 * np.pi)
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


def grid_png(grid: Tensor) -> bytes:
    """PNG bytes of a ``[3, H, W]`` grid in [0, 1]."""
    from torchvision.utils import save_image

    buf = io.BytesIO()
    save_image(grid, buf, format="png")
    return buf.getvalue()


def write_png(path: str | os.PathLike, image) -> Path:
    """Write a grid tensor or a matplotlib figure to ``path`` atomically (temp + rename)."""
    data = grid_png(image) if isinstance(image, Tensor) else figure_png(image)
    atomic_write_bytes(path, data)
    return Path(path)


# --------------------------------------------------------------------------- backends


@dataclass
class Codec:
    """Encode and decode through one backend, in CPU float32 tensors, batch by batch.

    ``encode(images [N, C, H, W] in [0, 1]) -> (mean [N, D], logvar [N, D])``;
    ``decode(z [N, D]) -> images [N, C, H, W] in [0, 1]`` (the likelihood's mean).
    """

    backend: str
    latent_dim: int
    image_shape: tuple[int, int, int]
    encode_batch: Callable[[Tensor], tuple[Tensor, Tensor]]
    decode_batch: Callable[[Tensor], Tensor]
    batch_size: int = 256
    detail: str = ""

    @torch.no_grad()
    def encode(self, images: Tensor, *, progress: bool = False) -> tuple[Tensor, Tensor]:
        from tqdm import tqdm

        starts = range(0, len(images), self.batch_size)
        outs = [self.encode_batch(images[i : i + self.batch_size].float())
                for i in tqdm(starts, desc="encode", unit="batch", disable=not progress,
                              leave=False)]
        return torch.cat([m for m, _ in outs]), torch.cat([v for _, v in outs])

    @torch.no_grad()
    def decode(self, z: Tensor) -> Tensor:
        return torch.cat([self.decode_batch(z[i : i + self.batch_size].float())
                          for i in range(0, len(z), self.batch_size)])


def torch_codec(checkpoint: str | os.PathLike, *, device: str = "cpu") -> Codec:
    """The PyTorch model of ``checkpoint`` behind the :class:`Codec` interface."""
    from .checkpoint import load_model

    model = load_model(checkpoint, device=device)
    decoder = model.decoder_mean().eval()
    cfg = model.config

    def enc(x: Tensor) -> tuple[Tensor, Tensor]:
        mean, logvar = model.encoder(x.to(device))
        return mean.float().cpu(), logvar.float().cpu()

    def dec(z: Tensor) -> Tensor:
        return decoder(z.to(device)).float().cpu()

    return Codec("torch", cfg.latent_dim, (cfg.in_channels, cfg.image_size, cfg.image_size),
                 enc, dec, detail=f"PyTorch on {device}")


def onnx_codec(onnx_dir: str | os.PathLike, *, device: str = "cpu") -> Codec:
    """The exported graphs in ``onnx_dir`` run by :mod:`vaekit.runtime` (ONNX Runtime)."""
    try:
        from vaekit.runtime import VAE as RuntimeVAE  # lazy: only this path needs the runtime
    except ImportError as e:
        raise ImportError(
            f"{onnx_dir} holds exported graphs but vaekit.runtime cannot be imported ({e}): "
            f"install onnxruntime (`pip install -e '.[cpu]'`) or use --backend torch"
        ) from e

    vae = RuntimeVAE.load(onnx_dir, providers="cpu" if device == "cpu" else "auto")

    def enc(x: Tensor) -> tuple[Tensor, Tensor]:
        mean, logvar = vae.encode(x.numpy().astype(np.float32, copy=False))
        return torch.from_numpy(np.asarray(mean)), torch.from_numpy(np.asarray(logvar))

    def dec(z: Tensor) -> Tensor:
        return torch.from_numpy(np.asarray(vae.decode(z.numpy().astype(np.float32, copy=False))))

    return Codec("onnx", int(vae.latent_dim), tuple(int(s) for s in vae.image_shape), enc, dec,
                 detail=f"ONNX Runtime {list(vae.providers)} from {onnx_dir}")


def open_codec(checkpoint: str | os.PathLike, *, backend: str = "auto", device: str = "cpu") -> Codec:
    """``auto``: the exported graphs in ``CHECKPOINT/onnx/`` when present, else PyTorch."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {BACKENDS}")
    onnx_dir = Path(checkpoint) / ONNX_DIR
    has_onnx = (onnx_dir / "decoder.onnx").is_file() and (onnx_dir / "encoder.onnx").is_file()
    if backend == "onnx" and not has_onnx:
        raise FileNotFoundError(
            f"no exported graphs in {onnx_dir} (encoder.onnx, decoder.onnx): export them with "
            f"`python -m vaekit.export {checkpoint} --out {onnx_dir}` or use --backend torch"
        )
    if backend == "torch" or not has_onnx:
        return torch_codec(checkpoint, device=device)
    _check_export_matches(Path(checkpoint), onnx_dir)
    return onnx_codec(onnx_dir, device=device)


def _check_export_matches(checkpoint: Path, onnx_dir: Path) -> None:
    """Refuse graphs exported from other weights than ``CHECKPOINT/model.safetensors``."""
    import json

    manifest = onnx_dir / "vaekit.json"
    if not manifest.is_file():
        return
    try:
        recorded = json.loads(manifest.read_text()).get("checkpoint_sha256")
    except (json.JSONDecodeError, AttributeError):
        return  # the runtime validates its own manifest and says what is wrong
    weights = checkpoint / WEIGHTS
    if recorded and weights.is_file() and recorded != sha256_file(weights):
        raise ValueError(
            f"{onnx_dir} was exported from other weights than {weights} (sha256 differs): "
            f"re-export with `python -m vaekit.export {checkpoint} --out {onnx_dir}` "
            f"or draw from the PyTorch model with --backend torch"
        )


# --------------------------------------------------------------------------- a checkpoint's figures


@dataclass
class FigureSettings:
    """How many images each figure uses; the defaults make the README figures."""

    pairs: int = 32  # reconstructions: input/reconstruction pairs
    pairs_per_row: int = 8
    interpolation_rows: int = 8
    interpolation_steps: int = 8
    sample_rows: int = 8
    sample_columns: int = 8
    manifold_side: int = 20
    max_hist_dims: int = 64
    seed: int = 0


@dataclass
class FigureSet:
    """What :func:`make_figures` wrote: ``paths`` by file name, and the backend it used."""

    backend: str
    detail: str
    images: int
    paths: dict[str, Path] = field(default_factory=dict)


def load_test_images(checkpoint: str | os.PathLike, *, limit: int = 0,
                     data_root: str | None = None) -> ImageSplit:
    """The first ``limit`` (0: all) test images of the checkpoint's own dataset."""
    return load_checkpoint_split(checkpoint, "test", limit=limit, data_root=data_root)


def make_figures(
    checkpoint: str | os.PathLike, out: str | os.PathLike, *, limit: int = 0, device: str = "cpu",
    backend: str = "auto", data_root: str | None = None, settings: FigureSettings | None = None,
    data: ImageSplit | None = None, progress: bool = True,
) -> FigureSet:
    """Write every figure of ``checkpoint`` into ``out`` and return what was written.

    ``data`` (uint8 ``[N, C, H, W]`` test images) defaults to :func:`load_test_images`; the
    latent plots use all of its first ``limit`` images, the image grids the first few.
    """
    from tqdm import tqdm

    s = settings or FigureSettings()
    codec = open_codec(checkpoint, backend=backend, device=device)
    if data is None:
        data = load_test_images(checkpoint, limit=limit, data_root=data_root)
    elif limit:
        data = ImageSplit(data.images[:limit], data.labels[:limit], data.classes)
    if tuple(data.images.shape[1:]) != codec.image_shape:
        raise ValueError(f"test images are {tuple(data.images.shape[1:])} but the model takes "
                         f"{codec.image_shape}: the checkpoint's data config does not fit its model")
    if len(data) < 2:
        raise ValueError(f"need at least 2 test images for the figures, got {len(data)}; raise --limit")
    out = Path(out)
    x = data.images.float() / 255
    jobs = [RECONSTRUCTIONS, INTERPOLATIONS, SAMPLES, LATENT_DISTRIBUTION]
    if codec.latent_dim == 2:
        jobs += [LATENT_SPACE, LATENT_MANIFOLD]
    result = FigureSet(codec.backend, codec.detail, len(data))
    bar = tqdm(jobs, desc="figures", unit="fig", disable=not progress, leave=False)
    means = codec.encode(x, progress=progress)[0]
    for name in bar:
        bar.set_postfix_str(name)
        if name == RECONSTRUCTIONS:
            k = min(s.pairs, len(x))
            image = reconstruction_grid(x[:k], codec.decode(means[:k]), pairs_per_row=s.pairs_per_row)
        elif name == INTERPOLATIONS:
            a, b = interpolation_pairs(data.labels, s.interpolation_rows)
            image = interpolation_grid(x[a], x[b], means[a], means[b], codec.decode,
                                       steps=s.interpolation_steps)
        elif name == SAMPLES:
            image = sample_grid(codec.decode, codec.latent_dim, rows=s.sample_rows,
                                columns=s.sample_columns, seed=s.seed)
        elif name == LATENT_DISTRIBUTION:
            image = latent_distribution_figure(means.numpy(), max_dims=s.max_hist_dims)
        elif name == LATENT_SPACE:
            image = latent_space_figure(means.numpy(), data.labels.numpy(), data.classes)
        else:
            image = manifold_grid(codec.decode, n=s.manifold_side)
        result.paths[name] = write_png(out / name, image)
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m vaekit.train.figures", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", help="checkpoint folder (config.json + model.safetensors)")
    p.add_argument("--out", required=True, help="folder for the PNG files")
    p.add_argument("--limit", type=int, default=0,
                   help="use the first N test images (0: all; the latent plots use them all)")
    p.add_argument("--device", default="cpu", help="torch device, or cpu/cuda for ONNX Runtime")
    p.add_argument("--backend", choices=BACKENDS, default="auto",
                   help="auto: the exported graphs in CHECKPOINT/onnx when present, else PyTorch")
    p.add_argument("--data-root", default=None, help="override the data root in config.json")
    p.add_argument("--seed", type=int, default=0, help="seed of the prior samples")
    args = p.parse_args(argv)
    if args.limit < 0:
        p.error("--limit must be >= 0")
    try:
        done = make_figures(args.checkpoint, args.out, limit=args.limit, device=args.device,
                            backend=args.backend, data_root=args.data_root,
                            settings=FigureSettings(seed=args.seed))
    except (FileNotFoundError, ValueError, ImportError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for path in done.paths.values():
        print(path)
    print(f"{len(done.paths)} figures from {done.images} test images via {done.detail}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
