"""``python -m vaekit.runtime.bench [FOLDER ...] [--batches 1 8 64] [--seconds 60]``

How fast do the exported graphs run on this machine? Times ``VAE.decode`` and ``VAE.encode``
(what an app calls: the graphs plus the runtime's input checks) for each export folder (or
checkpoint folder with ``onnx/``; default: every ``checkpoints/*/onnx``) at a few batch sizes,
and prints one table: median milliseconds per call, images per second, and the spread
(95th percentile). Needs numpy and onnxruntime only (no torch); the whole run takes about
``--seconds``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .contract import CONTRACT_FILE, ONNX_SUBFOLDER, PRECISIONS
from .vae import VAE

PARTS = ("decode", "encode")
MAX_BATCH = 1024
MIN_REPEATS = 3  # a case is timed at least this often, whatever the budget


@dataclass(frozen=True)
class Timing:
    """One (model, part, batch) case: ``ms`` per call (median, p95 over ``repeats`` calls)."""

    model: str
    part: str
    batch: int
    median_ms: float
    p95_ms: float
    repeats: int

    @property
    def images_per_second(self) -> float:
        return self.batch / (self.median_ms / 1000)


def default_folders(root: Path | None = None) -> list[Path]:
    """Every ``checkpoints/*/onnx`` export under ``root`` (default: the current folder)."""
    root = root or Path.cwd()
    return sorted(p.parent for p in (root / "checkpoints").glob(f"*/{ONNX_SUBFOLDER}/{CONTRACT_FILE}"))


def model_name(vae: VAE) -> str:
    """A checkpoint's folder name (``mnist-z2`` for ``checkpoints/mnist-z2/onnx``)."""
    folder = vae.folder
    return folder.parent.name if folder.name == ONNX_SUBFOLDER else folder.name


def time_call(call, *, budget_s: float) -> list[float]:
    """Run ``call`` once untimed (warm-up), then until ``budget_s`` is spent (at least
    :data:`MIN_REPEATS` times); returns each call's milliseconds."""
    call()
    times: list[float] = []
    deadline = time.perf_counter() + budget_s
    while len(times) < MIN_REPEATS or time.perf_counter() < deadline:
        t0 = time.perf_counter()
        call()
        times.append((time.perf_counter() - t0) * 1000)
    return times


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bench_model(vae: VAE, batches: list[int], *, budget_s: float, seed: int = 0) -> list[Timing]:
    """Time decode and encode of ``vae`` at each batch size, ``budget_s`` seconds per case."""
    rng = np.random.default_rng(seed)
    name = model_name(vae)
    out = []
    for batch in batches:
        z = rng.standard_normal((batch, vae.latent_dim), dtype=np.float32)
        images = rng.integers(0, 256, (batch, *vae.image_shape), dtype=np.uint8)
        labels = np.zeros(batch, dtype=np.int64) if vae.conditional else None
        calls = {"decode": lambda: vae.decode(z, labels=labels),
                 "encode": lambda: vae.encode(images, labels=labels)}
        for part in PARTS:
            times = time_call(calls[part], budget_s=budget_s)
            out.append(Timing(name, part, batch, statistics.median(times), percentile(times, 0.95),
                              len(times)))
    return out


def table(timings: list[Timing]) -> str:
    """A Markdown table, one row per case."""
    rows = ["| model | part | batch | median ms | p95 ms | images/s | calls |",
            "|:---|:---|---:|---:|---:|---:|---:|"]
    for t in timings:
        rows.append(f"| {t.model} | {t.part} | {t.batch} | {t.median_ms:.3g} | {t.p95_ms:.3g} | "
                    f"{t.images_per_second:,.0f} | {t.repeats} |")
    return "\n".join(rows)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m vaekit.runtime.bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folders", nargs="*", metavar="FOLDER",
                   help="export folders or checkpoint folders with onnx/ (default: every checkpoints/*/onnx)")
    p.add_argument("--batches", nargs="+", type=int, default=[1, 8, 64], metavar="N",
                   help=f"batch sizes to time, each 1-{MAX_BATCH} (default: 1 8 64)")
    p.add_argument("--seconds", type=float, default=60.0,
                   help="about how long the whole run takes, 1-3600 (default 60)")
    p.add_argument("--precision", choices=PRECISIONS, default="fp32",
                   help="which graphs to time (fp16/int8: folders exported with --fp16/--int8)")
    p.add_argument("--threads", type=int, default=None,
                   help="ONNX Runtime intra-op threads (default: onnxruntime's, all cores)")
    p.add_argument("--providers", default="cpu", help="cpu (default), cuda or auto")
    args = p.parse_args(argv)
    bad = [b for b in args.batches if not 1 <= b <= MAX_BATCH]
    if bad:
        p.error(f"--batches must each be in 1..{MAX_BATCH}, got {bad}")
    if not 1 <= args.seconds <= 3600:
        p.error(f"--seconds must be in 1..3600, got {args.seconds}")
    if args.threads is not None and not 1 <= args.threads <= 1024:
        p.error(f"--threads must be in 1..1024, got {args.threads}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    folders = [Path(f) for f in args.folders] or default_folders()
    if not folders:
        print(f"error: no export folder given and none found at checkpoints/*/{ONNX_SUBFOLDER} under "
              f"{Path.cwd()}: pass a folder, e.g. python -m vaekit.runtime.bench checkpoints/mnist-z2",
              file=sys.stderr)
        return 2
    try:
        models = [VAE.load(f, providers=args.providers, threads=args.threads, precision=args.precision,
                           max_batch=max(args.batches)) for f in folders]
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    cases = len(models) * len(args.batches) * len(PARTS)
    budget = args.seconds / cases * 0.8  # the rest goes to warm-up calls and loading
    print(f"timing {len(models)} model(s) x {len(args.batches)} batch sizes x decode/encode, "
          f"{args.precision}, on {models[0].providers[0]} ({os.cpu_count()} CPUs)...", flush=True)
    t0 = time.perf_counter()
    timings = [t for vae in models for t in bench_model(vae, args.batches, budget_s=budget)]
    print(table(timings))
    print(f"{time.perf_counter() - t0:.0f} s; ms per call of VAE.decode / VAE.encode (the graph "
          f"plus the runtime's input checks), median and 95th percentile")
    return 0


if __name__ == "__main__":
    sys.exit(main())
