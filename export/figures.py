"""The figures of a trained VAE, rebuilt from its checkpoint folder.

    python -m vaekit.export.figures CHECKPOINT --out DIR [--limit N] [--device cpu]

Every model gets ``reconstructions.png``, ``interpolations.png``, ``samples.png`` and
``latent_space_distribution.png``; a model with a 2-D latent also gets ``latent_space.png``
and ``latent_manifold.png``. The images come from the test split named by the checkpoint's
own data config. Samples come from the prior the export ships by default (a fitted prior in
``CHECKPOINT/priors``, a VampPrior's learned mixture, else N(0, I)); a model with such a prior
also gets ``samples_vs_normal.png``: the same noise decoded through N(0, I) and through it,
side by side. A conditional model's samples are one row per class, each column one shared
z, and its encodes and decodes get the test images' labels (interpolations: the left
image's class; the 2-D manifold: the first class).

When the checkpoint holds exported graphs (``python -m vaekit.export CHECKPOINT``), encoding
and decoding go through them with :mod:`vaekit.runtime`, so the figures show what ships;
otherwise the PyTorch model is used. ``--backend`` forces one or the other. Graphs exported
from other weights than the checkpoint's are refused.

The drawing itself is :mod:`vaekit.train.plots` (pure functions of numpy arrays); this module
ties it to a checkpoint through a :class:`Codec` (PyTorch or ONNX Runtime).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
from vaekit.format import NORMAL, ONNX_SUBFOLDER, graph_files, image_shape, latent_is_plottable
from vaekit.format.cli import command_parser
from vaekit.train import plots

from .freshness import is_up_to_date

BACKENDS = ("auto", "onnx", "torch")


# --------------------------------------------------------------------------- backends


@dataclass
class Codec:
    """Encode and decode through one backend, in float32 numpy arrays, batch by batch.

    ``encode(images [N, C, H, W] in [0, 1], labels) -> means [N, D]`` (the posterior means);
    ``decode(z [N, D], labels) -> images [N, C, H, W] in [0, 1]`` (the likelihood's mean).
    ``labels`` (int64 [N]) reach a conditional model (``classes`` non-empty) and are None
    otherwise. ``prior_latents(eps, u, prior)``: z for noise ``eps`` [N, D] and ``u`` [N]
    under the prior named ``prior`` (one of ``priors``; the first is the default).
    """

    backend: str
    latent_dim: int
    image_shape: tuple[int, int, int]
    encode_batch: Callable[[np.ndarray, np.ndarray | None], np.ndarray]
    decode_batch: Callable[[np.ndarray, np.ndarray | None], np.ndarray]
    batch_size: int = 256
    detail: str = ""
    classes: tuple[str, ...] = ()
    priors: tuple[str, ...] = (NORMAL,)
    prior_latents: Callable[[np.ndarray, np.ndarray, str], np.ndarray] | None = None

    def _labels(self, labels: np.ndarray | None, n: int) -> np.ndarray | None:
        if not self.classes:
            return None
        if labels is None:
            raise ValueError(f"a conditional model needs class labels for its {n} images")
        return np.array(np.broadcast_to(np.asarray(labels, np.int64), (n,)))  # a writable copy

    def encode(self, images: np.ndarray, labels: np.ndarray | None = None, *,
               progress: bool = False) -> np.ndarray:
        from tqdm import tqdm

        y = self._labels(labels, len(images))
        starts = range(0, len(images), self.batch_size)
        return np.concatenate([
            self.encode_batch(np.asarray(images[i : i + self.batch_size], np.float32),
                              None if y is None else y[i : i + self.batch_size])
            for i in tqdm(starts, desc="encode", unit="batch", disable=not progress, leave=False)])

    def decode(self, z: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
        y = self._labels(labels, len(z))
        return np.concatenate([
            self.decode_batch(np.asarray(z[i : i + self.batch_size], np.float32),
                              None if y is None else y[i : i + self.batch_size])
            for i in range(0, len(z), self.batch_size)])

    @property
    def default_prior(self) -> str:
        return self.priors[0]

    def sample_latents(self, n: int, seed: int, prior: str | None = None) -> np.ndarray:
        """``n`` latents from ``prior`` (None: the default), from the noise ``VAE.sample``
        draws for ``seed``: eps [n, D] ~ N(0, I), then u [n] ~ U[0, 1)."""
        prior = self.default_prior if prior is None else prior
        if prior not in self.priors:
            raise ValueError(f"unknown prior {prior!r}; this model has {self.priors}")
        rng = np.random.default_rng(seed)
        eps = rng.standard_normal((n, self.latent_dim), dtype=np.float32)
        u = rng.random(n, dtype=np.float32)
        return eps if prior == NORMAL else self.prior_latents(eps, u, prior)


def torch_codec(checkpoint: str | os.PathLike, *, device: str = "cpu") -> Codec:
    """The PyTorch model of ``checkpoint`` behind the :class:`Codec` interface."""
    import torch
    from vaekit.train.checkpoint import load_model

    from .prior_graph import choose_prior

    model = load_model(checkpoint, device=device)
    decoder = model.decoder_mean().eval()
    cfg = model.config

    def label(y: np.ndarray | None) -> torch.Tensor | None:
        return None if y is None else torch.from_numpy(y).to(device)

    @torch.no_grad()
    def enc(x: np.ndarray, y: np.ndarray | None) -> np.ndarray:
        return model.encoder(torch.from_numpy(x).to(device), label(y))[0].float().cpu().numpy()

    @torch.no_grad()
    def dec(z: np.ndarray, y: np.ndarray | None) -> np.ndarray:
        return decoder(torch.from_numpy(z).to(device), label(y)).float().cpu().numpy()

    name, state, _, _ = choose_prior(checkpoint, model.cpu())
    model.to(device)
    priors = (NORMAL,) if state is None else (name, NORMAL)
    classes = _class_names(checkpoint, cfg.num_classes) if model.conditional else ()
    return Codec("torch", cfg.latent_dim, image_shape(cfg), enc, dec, detail=f"PyTorch on {device}",
                 classes=classes, priors=priors,
                 prior_latents=None if state is None else lambda eps, u, _: state.transform(eps, u))


def _class_names(checkpoint: str | os.PathLike, n: int) -> tuple[str, ...]:
    """A conditional checkpoint's class names: its test split's, else ``"0"``, ``"1"``, ..."""
    from vaekit.train.checkpoint import load_checkpoint_split

    try:
        classes = tuple(load_checkpoint_split(checkpoint, "test", limit=1).classes)
    except (FileNotFoundError, ValueError):
        classes = ()
    return classes if len(classes) == n else tuple(str(i) for i in range(n))


def onnx_codec(onnx_dir: str | os.PathLike, *, device: str = "cpu") -> Codec:
    """The exported graphs in ``onnx_dir`` run by :mod:`vaekit.runtime` (ONNX Runtime)."""
    from vaekit.runtime import VAE as RuntimeVAE

    vae = RuntimeVAE.load(onnx_dir, providers="cpu" if device == "cpu" else "auto")
    priors = (vae.default_prior, *(p for p in vae.priors if p != vae.default_prior))
    return Codec("onnx", int(vae.latent_dim), tuple(int(s) for s in vae.image_shape),
                 lambda x, y: np.asarray(vae.encode(x, labels=y)[0]),
                 lambda z, y: np.asarray(vae.decode(z, labels=y)),
                 detail=f"ONNX Runtime {list(vae.providers)} from {onnx_dir}",
                 classes=vae.class_names, priors=priors,
                 prior_latents=lambda eps, u, prior: vae.prior_latents(eps, u, prior=prior))


def open_codec(checkpoint: str | os.PathLike, *, backend: str = "auto", device: str = "cpu") -> Codec:
    """``auto``: the exported graphs in ``CHECKPOINT/onnx/`` when present, else PyTorch."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {BACKENDS}")
    onnx_dir = Path(checkpoint) / ONNX_SUBFOLDER
    has_onnx = all((onnx_dir / name).is_file() for name in graph_files())
    if backend == "onnx" and not has_onnx:
        raise FileNotFoundError(
            f"no exported graphs in {onnx_dir} ({', '.join(graph_files())}): export them with "
            f"`python -m vaekit.export {checkpoint}` or use --backend torch"
        )
    if backend == "torch" or not has_onnx:
        return torch_codec(checkpoint, device=device)
    if not is_up_to_date(checkpoint, onnx_dir):
        raise ValueError(
            f"{onnx_dir} was not exported from {checkpoint}'s current weights (the sha256 in its "
            f"contract differs, or the contract is missing): re-export with "
            f"`python -m vaekit.export {checkpoint}` or draw from the PyTorch model with "
            f"--backend torch"
        )
    return onnx_codec(onnx_dir, device=device)


# --------------------------------------------------------------------------- a checkpoint's figures


@dataclass(frozen=True)
class FigureSettings:
    """How many images each figure uses; the defaults make the README figures.

    Every count is checked against :attr:`RANGES` when the settings are made, so a bad one is
    a one-line error before any image is decoded.
    """

    pairs: int = 32  # reconstructions: input/reconstruction pairs
    pairs_per_row: int = 8
    interpolation_rows: int = 8  # one row per pair of test images
    interpolation_steps: int = 8  # images from A to B, both ends included
    sample_rows: int = 8  # a conditional model draws one row per class instead
    sample_columns: int = 8
    manifold_side: int = 20  # the 2-D latent sheet is side x side decoded images
    max_hist_dims: int = 64  # latent histograms drawn at most
    seed: int = 0

    #: each field's allowed values, both ends included
    RANGES: ClassVar[dict[str, tuple[int, int]]] = {
        "pairs": (1, 1024), "pairs_per_row": (1, 64), "interpolation_rows": (1, 64),
        "interpolation_steps": (2, 64), "sample_rows": (1, 64), "sample_columns": (1, 64),
        "manifold_side": (2, 64), "max_hist_dims": (1, 1024), "seed": (0, 2**32 - 1)}

    def __post_init__(self) -> None:
        for name, (low, high) in self.RANGES.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"figure setting {name} must be a whole number in {low}..{high}, "
                                 f"got {value!r}")


@dataclass
class LabelledImages:
    """Test images as numpy arrays: ``images`` uint8 ``[N, C, H, W]``, ``labels`` ``[N]``."""

    images: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.images)

    @classmethod
    def of(cls, split) -> LabelledImages:
        """The numpy view of a :class:`vaekit.train.data.ImageSplit` (CPU tensors)."""
        return cls(np.asarray(split.images), np.asarray(split.labels), tuple(split.classes))


@dataclass
class FigureSet:
    """What :func:`make_figures` wrote: ``paths`` by file name, and the backend it used."""

    backend: str
    detail: str
    images: int
    paths: dict[str, Path] = field(default_factory=dict)


def load_test_images(checkpoint: str | os.PathLike, *, limit: int = 0,
                     data_root: str | None = None) -> LabelledImages:
    """The first ``limit`` (0: all) test images of the checkpoint's own dataset."""
    from vaekit.train.checkpoint import load_checkpoint_split

    return LabelledImages.of(load_checkpoint_split(checkpoint, "test", limit=limit, data_root=data_root))


def figure_names(latent_dim: int, *, own_prior: bool = False) -> list[str]:
    """The files :func:`make_figures` writes for a model with this latent size (``own_prior``:
    it ships a prior other than N(0, I))."""
    names = [plots.RECONSTRUCTIONS, plots.INTERPOLATIONS, plots.SAMPLES, plots.LATENT_DISTRIBUTION]
    if own_prior:
        names.append(plots.SAMPLES_VS_NORMAL)
    if latent_is_plottable(latent_dim):
        names += [plots.LATENT_SPACE, plots.LATENT_MANIFOLD]
    return names


def draw(name: str, data: LabelledImages, x: np.ndarray, means: np.ndarray, codec: Codec,
         s: FigureSettings):
    """The grid array or matplotlib figure of the figure file ``name``."""
    labels = data.labels if codec.classes else None
    if name == plots.RECONSTRUCTIONS:
        k = min(s.pairs, len(x))
        return plots.reconstruction_grid(x[:k], codec.decode(means[:k], _first(labels, k)),
                                         pairs_per_row=s.pairs_per_row)
    if name == plots.INTERPOLATIONS:
        a, b = plots.interpolation_pairs(data.labels, s.interpolation_rows)
        path_labels = None if labels is None else np.repeat(labels[a], s.interpolation_steps)
        return plots.interpolation_grid(x[a], x[b], means[a], means[b],
                                        lambda z: codec.decode(z, path_labels),
                                        steps=s.interpolation_steps)
    if name == plots.SAMPLES:
        return _sample_grid(codec, s, codec.default_prior)
    if name == plots.SAMPLES_VS_NORMAL:
        return plots.side_by_side_figure(
            [_sample_grid(codec, s, NORMAL), _sample_grid(codec, s, codec.default_prior)],
            [f"N(0, I), seed {s.seed}", f"prior {codec.default_prior!r}, same noise"])
    if name == plots.LATENT_DISTRIBUTION:
        return plots.latent_distribution_figure(means, max_dims=s.max_hist_dims)
    if name == plots.LATENT_SPACE:
        return plots.latent_space_figure(means, data.labels, data.classes)
    if name == plots.LATENT_MANIFOLD:
        return plots.manifold_grid(lambda z: codec.decode(z, None if labels is None else 0),
                                   n=s.manifold_side)
    raise ValueError(f"unknown figure {name!r}; choose one of {figure_names(2)}")


def _sample_grid(codec: Codec, s: FigureSettings, prior: str) -> np.ndarray:
    """Decoded samples from ``prior``; a conditional model: one row per class, one shared z per column."""
    if codec.classes:
        k, columns = len(codec.classes), s.sample_columns
        z = np.tile(codec.sample_latents(columns, s.seed, prior), (k, 1))
        return plots.image_grid(codec.decode(z, np.repeat(np.arange(k), columns)), columns)
    z = codec.sample_latents(s.sample_rows * s.sample_columns, s.seed, prior)
    return plots.image_grid(codec.decode(z), s.sample_columns)


def _first(labels: np.ndarray | None, k: int) -> np.ndarray | None:
    return None if labels is None else labels[:k]


def make_figures(
    checkpoint: str | os.PathLike, out: str | os.PathLike, *, limit: int = 0, device: str = "cpu",
    backend: str = "auto", data_root: str | None = None, settings: FigureSettings | None = None,
    data: LabelledImages | None = None, progress: bool = True,
) -> FigureSet:
    """Write every figure of ``checkpoint`` into ``out`` and return what was written.

    ``data`` defaults to :func:`load_test_images`; the latent plots use all of its first
    ``limit`` images, the image grids the first few.
    """
    from tqdm import tqdm

    s = settings or FigureSettings()
    codec = open_codec(checkpoint, backend=backend, device=device)
    if data is None:
        data = load_test_images(checkpoint, limit=limit, data_root=data_root)
    elif limit:
        data = LabelledImages(data.images[:limit], data.labels[:limit], data.classes)
    if tuple(data.images.shape[1:]) != codec.image_shape:
        raise ValueError(f"test images are {tuple(data.images.shape[1:])} but the model takes "
                         f"{codec.image_shape}: the checkpoint's data config does not fit its model")
    if len(data) < 2:
        raise ValueError(f"need at least 2 test images for the figures, got {len(data)}; raise --limit")
    x = np.asarray(data.images, np.float32) / 255
    result = FigureSet(codec.backend, codec.detail, len(data))
    means = codec.encode(x, data.labels if codec.classes else None, progress=progress)
    bar = tqdm(figure_names(codec.latent_dim, own_prior=codec.default_prior != NORMAL), desc="figures", unit="fig", disable=not progress,
               leave=False)
    for name in bar:
        bar.set_postfix_str(name)
        result.paths[name] = plots.write_png(Path(out) / name, draw(name, data, x, means, codec, s))
    return result


def main(argv: list[str] | None = None) -> int:
    p = command_parser("python -m vaekit.export.figures", __doc__)
    p.add_argument("checkpoint", help="checkpoint folder (written by python -m vaekit.train)")
    p.add_argument("--out", required=True, help="folder for the PNG files")
    p.add_argument("--limit", type=int, default=0,
                   help="use the first N test images (0: all; the latent plots use them all)")
    p.add_argument("--device", default="cpu", help="torch device, or cpu/cuda for ONNX Runtime")
    p.add_argument("--backend", choices=BACKENDS, default="auto",
                   help="auto: the exported graphs in CHECKPOINT/onnx when present, else PyTorch")
    p.add_argument("--data-root", default=None, help="override the checkpoint's data root")
    p.add_argument("--seed", type=int, default=0, help="seed of the prior samples")
    args = p.parse_args(argv)
    if args.limit < 0:
        p.error(f"--limit must be >= 0 (0: all test images), got {args.limit}")
    try:
        done = make_figures(args.checkpoint, args.out, limit=args.limit, device=args.device,
                            backend=args.backend, data_root=args.data_root,
                            settings=FigureSettings(seed=args.seed))
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for path in done.paths.values():
        print(path)
    print(f"{len(done.paths)} figures from {done.images} test images via {done.detail}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
