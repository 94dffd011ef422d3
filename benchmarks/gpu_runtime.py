"""Time the shipped decoders on a GPU, every way the runtime can run them (standalone script).

    python benchmarks/gpu_runtime.py --out gpu_runtime.json

For each shipped model (``checkpoints/*/onnx``) and batch size (1, 64, 1024 by default) it
times decode, median over ``--calls`` calls after ``--warmup`` untimed ones, on every backend
of :data:`benchmarks.backends.BACKENDS` marked ``gpu`` (the table ``make bench`` reads too):
ONNX Runtime CUDA through ``session.run`` (``ort-cuda``), I/O binding with host or device
buffers, captured CUDA graphs and the fp16 graph; ``vaekit.runtime.VAE`` with its
``CudaOptions``; the PyTorch decoder eager and compiled, host in/out or device-resident.

Each result also has ``max_abs_diff``: the largest pixel difference from ONNX Runtime's CPU
provider on the same latents (parity per provider). One case failing records its error and
the rest go on; the JSON is rewritten after every case, so a run cut short keeps what it
measured. ``--device cpu`` runs the same backends on the CPU (a dry run of the script).
Conditional models (a decoder that takes ``label`` beside ``z``) are left out, as in the CPU
benchmarks: the script prints each with the reason and lists it under ``skipped_models``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np
from vaekit.format import atomic_write_text

REPO = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):  # run as a script: the benchmarks package lies beside this file
    sys.path.append(str(REPO))

# after the sys.path line
from benchmarks.backends import Runner, Target, TorchCache, backend_names, first_call, make_runner  # noqa: E402
from benchmarks.models import (  # noqa: E402
    BenchModel,
    ModelSpec,
    prepare,
    shipped_checkpoints,
    untimed_checkpoints,
)

CASES = backend_names("gpu")


def cpu_reference(model: BenchModel, z: np.ndarray) -> np.ndarray:
    """The fp32 decoder's images on ONNX Runtime's CPU provider: what every case is compared with."""
    from vaekit.runtime import build_session

    return build_session(model.graphs["fp32"]["decoder"]).run(None, {"z": z})[0]


def time_case(runner: Runner, x: np.ndarray, cache: TorchCache, *, warmup: int, calls: int):
    """Median, min, p90 and mean ms of ``calls`` timed calls; returns (stats, output, first call s)."""
    prepared = runner.prepare(x)
    out, first_s = first_call(runner, prepared, cache)  # session warm-up, cuDNN search, capture, compile
    for _ in range(warmup):
        out = runner.call(prepared)
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        out = runner.call(prepared)
        times.append((time.perf_counter() - start) * 1e3)
    times.sort()
    stats = {"median_ms": statistics.median(times), "min_ms": times[0],
             "p90_ms": times[min(len(times) - 1, int(0.9 * len(times)))], "mean_ms": statistics.fmean(times)}
    return stats, out, first_s


def shipped_models(names: list[str] | None) -> tuple[list[BenchModel], dict[str, str]]:
    """The shipped models to time (``names``: only those), and those left out with the reason
    (a conditional model: the same rule as the CPU benchmarks, ``benchmarks.models``)."""
    timed = {p.name: p for p in shipped_checkpoints()}
    skipped = untimed_checkpoints()
    unknown = [n for n in names or () if n not in timed and n not in skipped]
    if unknown:
        raise ValueError(f"unknown models {unknown}; shipped: {sorted([*timed, *skipped])}")
    keep = (lambda n: n in names) if names else (lambda n: True)
    models = [prepare(ModelSpec(n, p), precisions=("fp32",)) for n, p in timed.items() if keep(n)]
    return models, {n: r for n, r in skipped.items() if keep(n)}


def machine(device: str) -> dict[str, Any]:
    """``make bench``'s machine description, plus the device and the GPU's name."""
    import torch

    from benchmarks.machine import describe

    gpu = {"gpu": torch.cuda.get_device_name(0)} if torch.cuda.is_available() else {}
    try:
        return {**describe(), "device": device, **gpu}
    except ImportError as e:  # py-cpuinfo or onnx missing: the timings matter more than the header
        return {"device": device, **gpu, "describe": f"unavailable: {e}"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True, help="JSON file to write (rewritten after every case)")
    p.add_argument("--models", default="", help="comma-separated checkpoint names (default: every shipped one)")
    p.add_argument("--batches", default="1,64,1024", help="comma-separated batch sizes (default 1,64,1024)")
    p.add_argument("--cases", default=",".join(CASES), help=f"comma-separated backends (default all: {', '.join(CASES)})")
    p.add_argument("--calls", type=int, default=50, help="timed calls per case (default 50)")
    p.add_argument("--warmup", type=int, default=5, help="untimed calls after the first (default 5)")
    p.add_argument("--device", choices=("cuda", "cpu"), default="cuda", help="cpu: a dry run of the script")
    p.add_argument("--compile-budget-s", type=float, default=240.0,
                   help="stop starting torch.compile cases once compiling took this long (default 240)")
    args = p.parse_args(argv)
    args.cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    try:
        args.batches = [int(b) for b in args.batches.split(",") if b.strip()]
    except ValueError:
        p.error(f"--batches must be comma-separated positive integers, got {args.batches!r}")
    unknown = [c for c in args.cases if c not in CASES]
    if unknown:
        p.error(f"unknown cases {unknown}; choose from {', '.join(CASES)}")
    if not args.batches or min(args.batches) < 1 or args.calls < 1 or args.warmup < 0 or args.compile_budget_s < 0:
        p.error("--batches must be positive, --calls at least 1, --warmup and --compile-budget-s at least 0")
    return args


def run_case(name: str, target: Target, z: np.ndarray, ref: np.ndarray | None, args) -> dict[str, Any]:
    """One row of the report: the timings and the parity, or the error (the run goes on)."""
    row: dict[str, Any] = {"model": target.model.name, "batch": len(z), "case": name}
    try:
        runner = make_runner(name, target)
        stats, out, first_s = time_case(runner, z, target.torch, warmup=args.warmup, calls=args.calls)
        row.update(stats, first_call_s=first_s, images_per_s=len(z) / stats["median_ms"] * 1e3)
        if ref is not None:
            row["max_abs_diff"] = float(np.abs(runner.finish(out)[0] - ref).max())
    except Exception as e:  # noqa: BLE001 - one failing case must not lose the others
        row["error"] = f"{type(e).__name__}: {str(e)[:500]}"
        row["traceback"] = traceback.format_exc(limit=4)[-1500:]
    return row


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import onnxruntime as ort

    if args.device == "cuda" and hasattr(ort, "preload_dlls"):
        try:
            ort.preload_dlls()  # CUDA/cuDNN from the nvidia-* wheels (torch's) for the CUDA provider
        except OSError as e:
            print(f"onnxruntime.preload_dlls: {e}", file=sys.stderr)
    try:
        models, skipped = shipped_models(args.models)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    report: dict[str, Any] = {"machine": machine(args.device), "calls": args.calls, "warmup": args.warmup,
                              "skipped_models": skipped, "results": []}
    for name, reason in skipped.items():
        print(f"{name:>18} skipped: {reason}", flush=True)
    atomic_write_text(args.out, json.dumps(report, indent=1))
    cache = TorchCache(budget_s=args.compile_budget_s)
    for model in models:
        for batch in args.batches:
            z = np.random.default_rng(batch).standard_normal((batch, model.latent_dim)).astype(np.float32)
            try:
                ref = cpu_reference(model, z)
            except Exception as e:  # noqa: BLE001 - keep timing even without a reference
                ref = None
                report.setdefault("errors", []).append(f"{model.name} b{batch} cpu reference: {e}")
            target = Target(model=model, part="decoder", device=args.device, max_batch=max(4096, batch), torch=cache)
            for name in args.cases:
                row = run_case(name, target, z, ref, args)
                report["results"].append(row)
                shown = (f"{row['median_ms']:9.3f} ms  diff {row.get('max_abs_diff', float('nan')):.2e}"
                         if "median_ms" in row else f"ERROR {row['error'][:120]}")
                print(f"{model.name:>18} b{batch:<5} {name:<26} {shown}", flush=True)
                atomic_write_text(args.out, json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
