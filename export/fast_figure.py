"""Teacher and distilled student side by side on the same latents.

    python -m vaekit.export.fast_figure CHECKPOINT --out docs/results/NAME-fast-decoder.png [--count 8]

Both decoders run from the export (``decoder.onnx`` and ``decoder.fast.onnx``, through
:mod:`vaekit.runtime`). Rows: the model's decoder and the fast decoder on the posterior means
of the export's test images (``examples.npz``), then both on draws from the model's prior
(seed 0); the row titles give each pair's PSNR and SSIM against the teacher.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from vaekit.format.cli import command_parser
from vaekit.runtime import VAE
from vaekit.train import plots

from .fast_metrics import psnr, ssim

MAX_COUNT = 32


def side_by_side(checkpoint: str | Path, *, count: int = 8, seed: int = 0):
    """A matplotlib figure of four rows (teacher / fast on posteriors, teacher / fast on prior draws)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    full = VAE.load(checkpoint, providers="cpu")
    fast = VAE.load(checkpoint, providers="cpu", decoder="fast")
    images = full.examples().images[:count]
    z_post = full.encode(images)[0]
    z_prior = full.prior.draw(np.random.default_rng(seed), count, 1.0)
    rows, titles = [], []
    for what, z in (("test posteriors", z_post), ("prior samples", z_prior)):
        t, s = full.decode(z), fast.decode(z)
        rows += [t, s]
        titles += [f"model's decoder, {what}",
                   f"fast decoder, {what}: PSNR {psnr(s, t):.1f} dB, SSIM {ssim(s, t):.3f}"]
    c, h, w = full.image_shape
    grids = [plots.image_grid(r, count) for r in rows]
    fig, axes = plt.subplots(len(grids), 1, figsize=(count * max(w, 28) / 28 * 0.9, len(grids) * 1.35 * max(h, 28) / 28),
                             dpi=100)
    for ax, grid, title in zip(axes, grids, titles):
        ax.imshow(grid, interpolation="nearest")
        ax.set_title(title, fontsize=8)
        ax.axis("off")
    fig.tight_layout()
    return fig


def main(argv: list[str] | None = None) -> int:
    p = command_parser("python -m vaekit.export.fast_figure", __doc__)
    p.add_argument("checkpoint", help="a checkpoint (or export) folder whose export has decoder.fast.onnx")
    p.add_argument("--out", required=True, help="the PNG to write")
    p.add_argument("--count", type=int, default=8, help=f"images per row (1..{MAX_COUNT}, default 8)")
    args = p.parse_args(argv)
    if not 1 <= args.count <= MAX_COUNT:
        p.error(f"--count must be in 1..{MAX_COUNT}, got {args.count}")
    try:
        plots.write_png(args.out, side_by_side(args.checkpoint, count=args.count))
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
