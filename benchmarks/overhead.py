"""What ``vaekit.runtime`` adds over a bare ONNX Runtime session, measured so that load on the
machine cannot fake it.

    python -m benchmarks.overhead [--models mnist-z2 celeba64] [--batches 1 64] [--repeats 30]

For each shipped model, graph and batch size, three calls run in turn, round after round, on
the same inputs: ``session`` (``build_session`` on the fp32 graph, as the ``ort-all`` backend
builds it), ``runtime`` (``VAE.decode`` / ``VAE.encode``, whose session is built by the same
function with the same options) and ``checks`` (the runtime's input and output checks alone,
no graph). Interleaving puts any slow spell of the machine on all three alike; the table gives
each one's median and the runtime's median overhead over the session per round. Needs numpy and
onnxruntime only.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def interleaved(calls: dict, repeats: int) -> dict[str, list[float]]:
    """Each call once per round (after one untimed warm-up round): milliseconds per call."""
    from vaekit.export.fast_metrics import interleaved_times

    return interleaved_times(calls, repeats=repeats, warmup=1)


def model_cases(name: str, batch: int, threads: int | None, repeats: int) -> list[dict]:
    from vaekit.format import graph_file
    from vaekit.runtime import VAE
    from vaekit.runtime.inputs import check_decoded, coerce_images, coerce_latents
    from vaekit.runtime.session import build_session

    folder = REPO / "checkpoints" / name / "onnx"
    vae = VAE.load(folder, providers="cpu", threads=threads)
    rng = np.random.default_rng(0)
    labels = np.zeros(batch, np.int64) if vae.conditional else None
    extra = {} if labels is None else {"label": labels}
    z = rng.standard_normal((batch, vae.latent_dim), dtype=np.float32)
    images = rng.random((batch, *vae.image_shape), dtype=np.float32)
    rows = []
    for part, feed, call, checks in (
        ("decoder", {"z": z}, lambda: vae.decode(z, labels=labels),
         lambda: check_decoded(decoded, coerce_latents(z, vae.latent_dim, 1024)[0])),
        ("encoder", {"image": images}, lambda: vae.encode(images, labels=labels),
         lambda: coerce_images(images, vae.image_shape, 1024)),
    ):
        session = build_session(folder / graph_file(part), threads=threads)
        decoded = session.run(None, {**feed, **extra})[0]
        times = interleaved({"session": lambda s=session, f=feed: s.run(None, {**f, **extra}),
                             "runtime": call, "checks": checks}, repeats)
        per_round = [r - s for r, s in zip(times["runtime"], times["session"])]
        session_ms = statistics.median(times["session"])
        rows.append({"model": name, "part": part, "batch": batch, "session_ms": session_ms,
                     "runtime_ms": statistics.median(times["runtime"]),
                     "checks_ms": statistics.median(times["checks"]),
                     "overhead_pct": 100 * statistics.median(per_round) / session_ms})
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.overhead", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["mnist-z2", "mnist-z32", "celeba64"])
    p.add_argument("--batches", nargs="+", type=int, default=[1, 64])
    p.add_argument("--repeats", type=int, default=30, help="rounds per case (1-10000, default 30)")
    p.add_argument("--threads", type=int, default=None, help="intra-op threads (default: onnxruntime's)")
    args = p.parse_args(argv)
    if not 1 <= args.repeats <= 10_000:
        p.error(f"--repeats must be in 1..10000, got {args.repeats}")
    if any(not 1 <= b <= 1024 for b in args.batches):
        p.error(f"--batches must each be in 1..1024, got {args.batches}")
    missing = [m for m in args.models if not (REPO / "checkpoints" / m / "onnx").is_dir()]
    if missing:
        p.error(f"no checkpoints/NAME/onnx for {missing}")
    print("| model | part | batch | session ms | runtime ms | checks ms | runtime overhead |")
    print("|:---|:---|---:|---:|---:|---:|---:|")
    for name in args.models:
        for batch in args.batches:
            for r in model_cases(name, batch, args.threads, args.repeats):
                print(f"| {r['model']} | {r['part']} | {r['batch']} | {r['session_ms']:.3g} | "
                      f"{r['runtime_ms']:.3g} | {r['checks_ms']:.3g} | {r['overhead_pct']:+.1f}% |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
