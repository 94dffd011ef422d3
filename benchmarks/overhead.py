"""What ``vaekit.runtime`` adds over a bare ONNX Runtime session, measured so that load on the
machine cannot fake it.

    python -m benchmarks.overhead [--models mnist-z2 celeba64] [--batches 1 8 64] [--seconds 3]

For each shipped model, graph and batch size, two calls take turns on the same input:
``ort-all`` (``session.run(None, feed)`` on a prepared dict: the call of the benchmark
backend of that name) and ``runtime`` (``VAE.decode`` / ``VAE.encode`` on the same array, as
the ``runtime`` backend calls them). Both go through one session, the runtime's own
(``VAE.sessions``), which is built as ``ort-all``'s is (``build_session``, optimisation level
all, the same intra-op threads: checked), so what differs is only what the runtime does
around ``session.run``. Two sessions of one graph would add their own difference: each has
its thread pool and memory arena, and two identical ones were seen to differ by 1-2%, as
much as the runtime's checks cost. Intra-op threads default to all cores, as in
``make bench``. Each
round times a short block of each (warm, as in a benchmark loop), the order of the blocks
swapped every round, so a busy spell of the machine falls on both alike; the ratio is the
median over rounds of runtime / ort-all. ``checks`` is the runtime's input and output checks
alone (no graph), in microseconds. Needs numpy and onnxruntime only.
"""

from __future__ import annotations

import math
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from vaekit.format.cli import command_parser

REPO = Path(__file__).resolve().parent.parent
MODELS = ("mnist-z2", "mnist-z32", "fashion-mnist-z16", "celeba64")
MIN_ROUNDS, MAX_ROUNDS = 15, 5000


def paired(a: Callable[[], object], b: Callable[[], object], *, seconds: float,
           rounds: int | None = None) -> tuple[list[float], list[float]]:
    """Per round, the median milliseconds of a block of ``a`` calls and of a block of ``b`` calls,
    the order of the two blocks swapped each round.

    A block repeats one call, as a benchmark loop does, for about 5 ms (1 to 50 timed calls);
    below 5 ms per call, its first call (the one that follows the other call) is untimed, so
    both run as warm as in their own loop. ``rounds``: exactly that many; None: enough to
    fill ``seconds`` (within [MIN_ROUNDS, MAX_ROUNDS]).
    """
    for call in (a, b, a, b):
        call()
    start = time.perf_counter()
    a()
    b()
    per_pair = time.perf_counter() - start
    size = max(1, min(50, int(0.010 / max(per_pair, 1e-6))))
    lead = 1 if per_pair < 0.010 else 0
    if rounds is None:
        rounds = max(MIN_ROUNDS, min(MAX_ROUNDS, int(seconds / (per_pair * (size + lead)))))
    times: tuple[list[float], list[float]] = ([], [])
    for i in range(rounds):
        for k in ((0, 1) if i % 2 == 0 else (1, 0)):
            call, block = (a, b)[k], []
            for j in range(lead + size):
                t0 = time.perf_counter()
                call()
                if j >= lead:
                    block.append((time.perf_counter() - t0) * 1000)
            times[k].append(statistics.median(block))
    return times


def median_interval(values: list[float]) -> tuple[float, float]:
    """A 95% confidence interval of the median of ``values``, free of any assumption on their
    distribution: the order statistics ``n/2 -+ 0.98 sqrt(n)`` (the normal approximation of
    the binomial; the whole range below 6 values)."""
    x, n = sorted(values), len(values)
    half = 0.98 * math.sqrt(n)
    lo, hi = max(0, math.floor(n / 2 - half)), min(n - 1, math.ceil(n / 2 + half) - 1)
    return x[lo], x[hi]


def best_us(call: Callable[[], object], n: int = 200) -> float:
    """The fastest of ``n`` calls, in microseconds (what the call costs when nothing interrupts it)."""
    best = float("inf")
    for _ in range(n):
        t0 = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - t0)
    return best * 1e6


def model_cases(name: str, batches: list[int], threads: int, *, seconds: float,
                rounds: int | None = None) -> list[dict]:
    """One row per part and batch: medians, the paired ratio and the checks' cost."""
    from vaekit.format import graph_file
    from vaekit.runtime import VAE
    from vaekit.runtime.inputs import all_finite, check_decoded, coerce_images, coerce_latents
    from vaekit.runtime.session import build_session

    folder = REPO / "checkpoints" / name / "onnx"
    vae = VAE.load(folder, providers="cpu", threads=threads, max_batch=4096)
    rows = []
    for part in ("decoder", "encoder"):
        session = vae.sessions[part]
        same_as_ort_all(session, build_session(folder / graph_file(part), threads=threads,
                                               optimization="all"))
        name_in = session.get_inputs()[0].name
        for batch in batches:
            rng = np.random.default_rng(batch)  # the latency benchmark's inputs
            if part == "decoder":
                x = rng.standard_normal((batch, vae.latent_dim), dtype=np.float32)
                out = vae.decode(x)
                runtime, checks = (lambda x=x: vae.decode(x)), (
                    lambda x=x, out=out: check_decoded(out, coerce_latents(x, vae.latent_dim, 4096)[0]))
            else:
                x = rng.random((batch, *vae.image_shape), dtype=np.float32)
                mean = vae.encode(x)[0]
                runtime, checks = (lambda x=x: vae.encode(x)), (
                    lambda x=x, mean=mean: (coerce_images(x, vae.image_shape, 4096), all_finite(mean)))
            feed = {name_in: np.ascontiguousarray(x, dtype=np.float32)}
            bare, ours = paired(lambda feed=feed: session.run(None, feed), runtime,
                                seconds=seconds, rounds=rounds)
            ratios = [r / s for r, s in zip(ours, bare)]
            low, high = median_interval(ratios)
            rows.append({
                "model": name, "part": part, "batch": batch, "threads": threads, "rounds": len(bare),
                "ort_all_ms": statistics.median(bare), "runtime_ms": statistics.median(ours),
                "ratio": statistics.median(ratios), "ratio_low": low, "ratio_high": high,
                "checks_us": best_us(checks), "load": os.getloadavg()[0],
            })
    return rows


def same_as_ort_all(session, ort_all) -> None:
    """Refuse to compare when the runtime's session is not built as the ort-all backend's is."""
    mine, theirs = session.get_session_options(), ort_all.get_session_options()
    for key in ("graph_optimization_level", "intra_op_num_threads", "inter_op_num_threads",
                "execution_mode"):
        if getattr(mine, key) != getattr(theirs, key):
            raise RuntimeError(f"the runtime's session has {key}={getattr(mine, key)} where ort-all "
                               f"has {getattr(theirs, key)}: the comparison would time two settings")
    if session.get_providers() != ort_all.get_providers():
        raise RuntimeError(f"the runtime's session runs on {session.get_providers()}, ort-all on "
                           f"{ort_all.get_providers()}")


def shipped(models) -> list[str]:
    """Those of ``models`` that ship an export in ``checkpoints/NAME/onnx`` and take no label."""
    from vaekit.format import Contract

    folders = [(m, REPO / "checkpoints" / m / "onnx") for m in models]
    return [m for m, f in folders if f.is_dir() and not Contract.load(f).conditional]


def measure(models: list[str], batches: list[int], *, threads: int, seconds: float = 3.0,
            rounds: int | None = None, progress: Callable[[dict], None] | None = None) -> list[dict]:
    """Every model's rows (see :func:`model_cases`); ``progress`` gets each row as it comes."""
    rows = []
    for name in models:
        for row in model_cases(name, batches, threads, seconds=seconds, rounds=rounds):
            rows.append(row)
            if progress:
                progress(row)
    return rows


HEADER = ["| model | part | batch | ort-all ms | runtime ms | runtime / ort-all | 95% interval | checks us | rounds | load |",
          "|:---|:---|---:|---:|---:|---:|:---|---:|---:|---:|"]


def line(r: dict) -> str:
    return (f"| {r['model']} | {r['part']} | {r['batch']} | {r['ort_all_ms']:.3g} | {r['runtime_ms']:.3g} | "
            f"{r['ratio']:.3f} | {_interval(r)} | {r['checks_us']:.3g} | {r['rounds']} | {r['load']:.1f} |")


def _interval(r: dict) -> str:
    """The ratio's 95% interval (rows measured before it was recorded have none)."""
    return f"{r['ratio_low']:.3f}-{r['ratio_high']:.3f}" if "ratio_low" in r else "-"


def main(argv: list[str] | None = None) -> int:
    p = command_parser("python -m benchmarks.overhead", __doc__)
    p.add_argument("--models", nargs="+", default=list(MODELS))
    p.add_argument("--batches", nargs="+", type=int, default=[1, 8, 64])
    p.add_argument("--seconds", type=float, default=3.0, help="timed seconds per case (0.1-600, default 3)")
    p.add_argument("--repeats", type=int, default=None,
                   help="exactly this many rounds per case (1-10000) instead of --seconds")
    p.add_argument("--threads", type=int, default=None,
                   help="intra-op threads of both sessions (default: all cores, as make bench)")
    args = p.parse_args(argv)
    if args.repeats is not None and not 1 <= args.repeats <= 10_000:
        p.error(f"--repeats must be in 1..10000, got {args.repeats}")
    if not 0.1 <= args.seconds <= 600:
        p.error(f"--seconds must be in 0.1..600, got {args.seconds}")
    if any(not 1 <= b <= 1024 for b in args.batches):
        p.error(f"--batches must each be in 1..1024, got {args.batches}")
    if args.threads is not None and not 1 <= args.threads <= 1024:
        p.error(f"--threads must be in 1..1024, got {args.threads}")
    missing = [m for m in args.models if not (REPO / "checkpoints" / m / "onnx").is_dir()]
    if missing:
        p.error(f"no checkpoints/NAME/onnx for {missing}")
    labelled = sorted(set(args.models) - set(shipped(args.models)))
    if labelled:
        p.error(f"{labelled} take a class label; the comparison covers the unconditional models")
    n_threads = args.threads or os.cpu_count() or 1
    print(f"intra-op threads: {n_threads}; load average at start: "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("\n".join(HEADER))
    measure(args.models, args.batches, threads=n_threads, seconds=args.seconds, rounds=args.repeats,
            progress=lambda r: print(line(r), flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
