"""Time the shipped decoders on a GPU, every way the runtime can run them (standalone script).

    python benchmarks/gpu_runtime.py --out gpu_runtime.json

For each shipped model (``checkpoints/*/onnx``) and batch size (1, 64, 1024 by default) it
times decode, median over ``--calls`` calls after ``--warmup`` untimed ones, for:

- ``ort-cuda-run``: ONNX Runtime CUDA, ``session.run`` (numpy in, numpy out).
- ``ort-cuda-iobinding``: I/O binding, numpy in (copied once), numpy out (copied once).
- ``ort-cuda-iobinding-device``: I/O binding with the latents already on the GPU and the
  images left there (no host copies: what a GPU pipeline pays).
- ``ort-cuda-graph`` / ``ort-cuda-graph-device``: the same through a captured CUDA graph
  (``enable_cuda_graph``, fixed buffers): host in/out, and replay only.
- ``ort-cuda-fp16`` / ``ort-cuda-fp16-graph``: the ``decoder.fp16.onnx`` graph, host in/out.
- ``runtime-cuda`` / ``runtime-cuda-graph`` / ``runtime-cuda-tf32-off``: ``vaekit.runtime.VAE``
  (input checks, I/O binding, CUDA graphs via ``CudaOptions``), host in/out.
- ``torch-eager`` / ``torch-eager-device`` / ``torch-compile`` / ``torch-compile-device``: the
  PyTorch decoder on CUDA (torch is imported only for these).

Each result also has ``max_abs_diff``: the largest pixel difference from ONNX Runtime's CPU
provider on the same latents (parity per provider). One case failing records its error and
the rest go on; the JSON is rewritten after every case, so a run cut short keeps what it
measured. ``--device cpu`` runs the same cases on the CPU (a dry run of the script).
Conditional models (a decoder that takes ``label`` beside ``z``) are left out, as in the CPU
benchmarks: the script prints each with the reason and lists it under ``skipped_models``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from vaekit.format import CONTRACT_FILE, ONNX_SUBFOLDER, atomic_write_text, graph_file

REPO = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):  # run as a script: the benchmarks package lies beside this file
    sys.path.append(str(REPO))

from benchmarks.models import untimed_reason  # noqa: E402  (after the sys.path line)

CASES = (
    "ort-cuda-run", "ort-cuda-iobinding", "ort-cuda-iobinding-device", "ort-cuda-graph",
    "ort-cuda-graph-device", "ort-cuda-fp16", "ort-cuda-fp16-graph", "runtime-cuda",
    "runtime-cuda-graph", "runtime-cuda-tf32-off", "torch-eager", "torch-eager-device",
    "torch-compile", "torch-compile-device",
)
CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"

Call = Callable[[], Any]
Fetch = Callable[[Any], np.ndarray]


# ----------------------------------------------------------------------------- ONNX Runtime


def _providers(device: str, **options: str) -> list:
    if device == "cpu":
        return [CPU]
    return [(CUDA, {"device_id": "0", **options}), CPU]


def _session(path: Path, device: str, **options: str):
    from vaekit.runtime import build_session

    session = build_session(path, providers=_providers(device, **options))
    want = CPU if device == "cpu" else CUDA
    if session.get_providers()[0] != want:
        raise RuntimeError(f"{path.name}: asked for {want}, the session runs on {session.get_providers()}")
    return session


def ort_run(path: Path, z: np.ndarray, device: str) -> tuple[Call, Fetch]:
    session = _session(path, device)
    return (lambda: session.run(None, {"z": z})[0]), np.asarray


def ort_iobinding(path: Path, z: np.ndarray, device: str) -> tuple[Call, Fetch]:
    session = _session(path, device)
    dev = "cpu" if device == "cpu" else "cuda"

    def call():
        binding = session.io_binding()
        binding.bind_cpu_input("z", z)
        binding.bind_output("image", dev, 0)
        session.run_with_iobinding(binding)
        return binding.copy_outputs_to_cpu()[0]

    return call, np.asarray


def ort_iobinding_device(path: Path, z: np.ndarray, device: str) -> tuple[Call, Fetch]:
    import onnxruntime as ort

    session = _session(path, device)
    dev = "cpu" if device == "cpu" else "cuda"
    z_dev = ort.OrtValue.ortvalue_from_numpy(z, dev, 0)
    binding = session.io_binding()
    binding.bind_ortvalue_input("z", z_dev)
    binding.bind_output("image", dev, 0)

    def call():
        session.run_with_iobinding(binding)
        return binding.get_outputs()[0]

    return call, lambda out: out.numpy()


def ort_graph(path: Path, z: np.ndarray, device: str, *, host: bool) -> tuple[Call, Fetch]:
    """Fixed buffers bound once; with CUDA, a captured CUDA graph replayed on each call."""
    import onnxruntime as ort

    session = _session(path, device, **({} if device == "cpu" else {"enable_cuda_graph": "1"}))
    dev = "cpu" if device == "cpu" else "cuda"
    out_shape = [z.shape[0], *[int(d) for d in session.get_outputs()[0].shape[1:]]]
    z_buf = ort.OrtValue.ortvalue_from_numpy(z, dev, 0)
    out_buf = ort.OrtValue.ortvalue_from_shape_and_type(out_shape, np.float32, dev, 0)
    binding = session.io_binding()
    binding.bind_ortvalue_input("z", z_buf)
    binding.bind_ortvalue_output("image", out_buf)
    options = ort.RunOptions()
    if device != "cpu":
        options.add_run_config_entry("gpu_graph_id", "1")

    def call_host():
        z_buf.update_inplace(z)
        session.run_with_iobinding(binding, options)
        return binding.copy_outputs_to_cpu()[0]

    def call_device():
        session.run_with_iobinding(binding, options)
        return out_buf

    if host:
        return call_host, np.asarray
    return call_device, lambda out: out.numpy()


def runtime_vae(export_dir: Path, z: np.ndarray, device: str, **cuda: Any) -> tuple[Call, Fetch]:
    from vaekit.runtime import VAE, CudaOptions

    if device == "cpu":
        vae = VAE.load(export_dir, providers="cpu", max_batch=max(1024, len(z)), io_binding=True)
    else:
        vae = VAE.load(export_dir, providers="cuda", cuda=CudaOptions(**cuda), max_batch=max(1024, len(z)))
        if vae.providers[0] != CUDA:
            raise RuntimeError(f"vaekit.runtime asked for CUDA, runs on {vae.providers}")
        if cuda.get("cuda_graph") and not vae.cuda_graph:
            raise RuntimeError("vaekit.runtime fell back from CUDA graphs (see its warning)")
    return (lambda: vae.decode(z)), np.asarray


# ----------------------------------------------------------------------------- PyTorch


def torch_decoder(checkpoint: Path, z: np.ndarray, device: str, *, compiled: bool, host: bool) -> tuple[Call, Fetch]:
    import torch
    from vaekit.train import load_model

    dev = torch.device("cuda" if device != "cpu" else "cpu")
    module = load_model(checkpoint, device=dev).decoder_mean().eval()
    if compiled:
        module = torch.compile(module)
    z_dev = torch.from_numpy(z).to(dev)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)

    def call_host():
        with torch.inference_mode():
            out = module(torch.from_numpy(z).to(dev)).float().cpu().numpy()
        return out

    def call_device():
        with torch.inference_mode():
            out = module(z_dev)
        sync()
        return out

    if host:
        return call_host, np.asarray
    return call_device, lambda out: out.float().cpu().numpy()


# ----------------------------------------------------------------------------- cases


def make_case(name: str, model: dict, z: np.ndarray, device: str) -> tuple[Call, Fetch]:
    onnx = model["export_dir"]
    fp32, fp16 = onnx / graph_file("decoder"), onnx / graph_file("decoder", "fp16")
    table: dict[str, Callable[[], tuple[Call, Fetch]]] = {
        "ort-cuda-run": lambda: ort_run(fp32, z, device),
        "ort-cuda-iobinding": lambda: ort_iobinding(fp32, z, device),
        "ort-cuda-iobinding-device": lambda: ort_iobinding_device(fp32, z, device),
        "ort-cuda-graph": lambda: ort_graph(fp32, z, device, host=True),
        "ort-cuda-graph-device": lambda: ort_graph(fp32, z, device, host=False),
        "ort-cuda-fp16": lambda: ort_iobinding(fp16, z, device),
        "ort-cuda-fp16-graph": lambda: ort_graph(fp16, z, device, host=True),
        "runtime-cuda": lambda: runtime_vae(onnx, z, device),
        "runtime-cuda-graph": lambda: runtime_vae(onnx, z, device, cuda_graph=True),
        "runtime-cuda-tf32-off": lambda: runtime_vae(onnx, z, device, tf32=False),
        "torch-eager": lambda: torch_decoder(model["checkpoint"], z, device, compiled=False, host=True),
        "torch-eager-device": lambda: torch_decoder(model["checkpoint"], z, device, compiled=False, host=False),
        "torch-compile": lambda: torch_decoder(model["checkpoint"], z, device, compiled=True, host=True),
        "torch-compile-device": lambda: torch_decoder(model["checkpoint"], z, device, compiled=True, host=False),
    }
    if name.startswith("ort-cuda-fp16") and not fp16.is_file():
        raise FileNotFoundError(f"{fp16} is missing (export with --fp16)")
    return table[name]()


def time_case(call: Call, *, warmup: int, calls: int) -> tuple[dict[str, float], Any, float]:
    start = time.perf_counter()
    out = call()  # first call: session warm-up, cuDNN search, graph capture, compilation
    first_s = time.perf_counter() - start
    for _ in range(warmup):
        out = call()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        out = call()
        times.append((time.perf_counter() - start) * 1e3)
    times.sort()
    stats = {"median_ms": statistics.median(times), "min_ms": times[0],
             "p90_ms": times[min(len(times) - 1, int(0.9 * len(times)))], "mean_ms": statistics.fmean(times)}
    return stats, out, first_s


def shipped_models(names: list[str] | None) -> tuple[list[dict], dict[str, str]]:
    """The shipped models to time (``names``: only those), and those left out with the reason
    (a conditional model: the same rule as the CPU benchmarks, ``benchmarks.models``)."""
    models, skipped = [], {}
    for folder in sorted((REPO / "checkpoints").glob(f"*/{ONNX_SUBFOLDER}/{CONTRACT_FILE}")):
        export_dir = folder.parent
        if names and export_dir.parent.name not in names:
            continue
        reason = untimed_reason(export_dir)
        if reason:
            skipped[export_dir.parent.name] = reason
            continue
        contract = json.loads(folder.read_text())
        models.append({"name": export_dir.parent.name, "checkpoint": export_dir.parent, "export_dir": export_dir,
                       "latent_dim": int(contract["latent_dim"])})
    return models, skipped


def machine(device: str) -> dict[str, Any]:
    import onnxruntime as ort

    info: dict[str, Any] = {"python": platform.python_version(), "platform": platform.platform(),
                            "onnxruntime": ort.__version__, "providers": ort.get_available_providers(),
                            "device": device, "cpu_count": os.cpu_count()}
    try:
        import torch

        info["torch"] = torch.__version__
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    except Exception as e:  # noqa: BLE001 - torch is optional here
        info["torch"] = f"unavailable: {type(e).__name__}: {e}"
    return info


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True, help="JSON file to write (rewritten after every case)")
    p.add_argument("--models", default="", help="comma-separated checkpoint names (default: every shipped one)")
    p.add_argument("--batches", default="1,64,1024", help="comma-separated batch sizes (default 1,64,1024)")
    p.add_argument("--cases", default=",".join(CASES), help=f"comma-separated cases (default all: {', '.join(CASES)})")
    p.add_argument("--calls", type=int, default=50, help="timed calls per case (default 50)")
    p.add_argument("--warmup", type=int, default=5, help="untimed calls after the first (default 5)")
    p.add_argument("--device", choices=("cuda", "cpu"), default="cuda", help="cpu: a dry run of the script")
    p.add_argument("--compile-budget-s", type=float, default=240.0,
                   help="stop starting torch.compile cases once compiling took this long (default 240)")
    args = p.parse_args(argv)
    batches = [int(b) for b in args.batches.split(",") if b.strip()]
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in cases if c not in CASES]
    if unknown or not batches or min(batches) < 1 or args.calls < 1 or args.warmup < 0:
        p.error(f"unknown cases {unknown} (choose from {CASES}), or a batch/calls/warmup out of range")

    import onnxruntime as ort

    if args.device == "cuda" and hasattr(ort, "preload_dlls"):
        try:
            ort.preload_dlls()  # CUDA/cuDNN from the nvidia-* wheels (torch's) for the CUDA provider
        except OSError as e:
            print(f"onnxruntime.preload_dlls: {e}", file=sys.stderr)
    models, skipped = shipped_models([m.strip() for m in args.models.split(",") if m.strip()])
    report: dict[str, Any] = {"machine": machine(args.device), "calls": args.calls, "warmup": args.warmup,
                              "skipped_models": skipped, "results": []}
    for name, reason in skipped.items():
        print(f"{name:>18} skipped: {reason}", flush=True)
    atomic_write_text(args.out, json.dumps(report, indent=1))
    compile_s = 0.0
    for model in models:
        for batch in batches:
            z = np.random.default_rng(batch).standard_normal((batch, model["latent_dim"])).astype(np.float32)
            try:
                ref = _session(model["export_dir"] / graph_file("decoder"), "cpu").run(None, {"z": z})[0]
            except Exception as e:  # noqa: BLE001 - keep timing even without a reference
                ref = None
                report.setdefault("errors", []).append(f"{model['name']} b{batch} cpu reference: {e}")
            for name in cases:
                row: dict[str, Any] = {"model": model["name"], "batch": batch, "case": name}
                if name.startswith("torch-compile") and compile_s > args.compile_budget_s:
                    row["error"] = f"skipped: torch.compile budget of {args.compile_budget_s:.0f} s used up"
                else:
                    try:
                        call, fetch = make_case(name, model, z, args.device)
                        stats, out, first_s = time_case(call, warmup=args.warmup, calls=args.calls)
                        if name.startswith("torch-compile"):
                            compile_s += first_s
                        row.update(stats, first_call_s=first_s, images_per_s=batch / stats["median_ms"] * 1e3)
                        if ref is not None:
                            row["max_abs_diff"] = float(np.abs(fetch(out) - ref).max())
                    except Exception as e:  # noqa: BLE001 - one failing case must not lose the others
                        row["error"] = f"{type(e).__name__}: {str(e)[:500]}"
                        row["traceback"] = traceback.format_exc(limit=4)[-1500:]
                report["results"].append(row)
                shown = (f"{row['median_ms']:9.3f} ms  diff {row.get('max_abs_diff', float('nan')):.2e}"
                         if "median_ms" in row else f"ERROR {row['error'][:120]}")
                print(f"{model['name']:>18} b{batch:<5} {name:<26} {shown}", flush=True)
                atomic_write_text(args.out, json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
