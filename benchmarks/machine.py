"""What the report says about the machine, and the measurements outside pytest-benchmark.

* :func:`describe` - CPU model, cores, SIMD flags (py-cpuinfo), library versions, date, load.
* :func:`sgemm_peak` - the CPU's achievable fp32 peak, from a large single-precision matmul.
* :func:`cold_start` - fresh process start to first decoded image, and the process's peak
  RSS, for a process that only imports ``vaekit.runtime`` and one that loads the PyTorch
  model; each in its own subprocess.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def training_processes() -> list[str]:
    """Command lines of running ``vaekit.train`` processes (they share the CPU with us)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if Path(argv[0]).name.startswith("python") and "vaekit.train" in argv[:3]:
            found.append(" ".join(argv).strip())
    return found


def describe() -> dict[str, object]:
    """A JSON-able description of this machine and the library versions."""
    import cpuinfo  # py-cpuinfo, installed with pytest-benchmark (which records it too)
    import onnx
    import onnxruntime
    import torch

    cpu = cpuinfo.get_cpu_info()
    flags = set(cpu.get("flags", []))
    simd = [f for f in ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "avx512_bf16",
                        "amx_tile", "amx_int8") if f in flags]
    from vaekit.runtime.cpu import int8_kernel

    try:
        import openvino
        openvino_version = openvino.__version__
    except ImportError:
        openvino_version = None
    return {
        "cpu_model": cpu.get("brand_raw") or platform.processor() or "unknown",
        "logical_cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu_mhz": cpu.get("hz_actual_friendly"),
        "simd": simd,
        "int8_kernel": int8_kernel(),
        "openvino": openvino_version,
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "onnxruntime": onnxruntime.__version__,
        "onnxruntime_providers": onnxruntime.get_available_providers(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "onnx": onnx.__version__,
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "loadavg": list(os.getloadavg()),
        "training_processes": training_processes(),
        "inductor_cache": inductor_cache(),
    }


def inductor_cache() -> str:
    """Whether torch.compile's on-disk cache already holds compiled code (compiles are faster)."""
    import getpass

    folder = Path(os.environ.get("TORCHINDUCTOR_CACHE_DIR") or f"/tmp/torchinductor_{getpass.getuser()}")
    if folder.is_dir() and any(folder.iterdir()):
        return f"warm ({folder} existed before the run: compile times may be cache hits)"
    return f"cold ({folder} was empty or absent before the run)"


@dataclass(frozen=True)
class Peak:
    """Best-of-``repeats`` fp32 matmul throughput of an ``n``^3 product, per library."""

    n: int
    numpy_gflops: float
    torch_gflops: float

    @property
    def gflops(self) -> float:
        return max(self.numpy_gflops, self.torch_gflops)


def sgemm_peak(*, n: int = 4096, repeats: int = 3, threads: int | None = None) -> Peak:
    """Measure fp32 GFLOP/s of ``[n, n] @ [n, n]`` with numpy (BLAS) and torch (oneDNN/MKL)."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    flops = 2.0 * n**3

    def best(fn) -> float:
        fn()  # warm-up: thread pools, page faults
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return flops / min(times) / 1e9

    c = np.empty((n, n), dtype=np.float32)
    np_gflops = best(lambda: np.matmul(a, b, out=c))
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    tc = torch.empty((n, n))
    torch_gflops = best(lambda: torch.mm(ta, tb, out=tc))
    return Peak(n=n, numpy_gflops=round(np_gflops, 1), torch_gflops=round(torch_gflops, 1))


RUNTIME_CHILD = """
import json, resource, sys, time
import numpy as np
from vaekit.runtime import VAE
vae = VAE.load(sys.argv[1], providers="cpu", threads=int(sys.argv[2]))
image = vae.decode(np.zeros((1, vae.latent_dim), np.float32))
done = time.time()
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")]
peak_kib = int(hwm[0].split()[1]) if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"done": done, "maxrss_kib": peak_kib,
                  "torch_imported": "torch" in sys.modules, "shape": list(image.shape)}))
"""

TORCH_CHILD = """
import json, resource, sys, time
import torch
from vaekit.train import load_model
torch.set_num_threads(int(sys.argv[2]))
model = load_model(sys.argv[1])
with torch.inference_mode():
    image = model.decoder_mean()(torch.zeros(1, model.config.latent_dim))
done = time.time()
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")]
peak_kib = int(hwm[0].split()[1]) if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"done": done, "maxrss_kib": peak_kib,
                  "torch_imported": True, "shape": list(image.shape)}))
"""


@dataclass(frozen=True)
class ColdStart:
    """Median over ``runs`` fresh processes (after one unmeasured run that warms the page cache)."""

    kind: str  # "runtime" or "torch"
    seconds: float
    peak_rss_mib: float
    runs: int
    torch_imported: bool
    seconds_all: tuple[float, ...]


def _child(script: str, target: str, threads: int) -> dict:
    start = time.time()
    proc = subprocess.run([sys.executable, "-c", script, target, str(threads)], cwd=REPO,
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"cold-start child failed (rc {proc.returncode}): {proc.stderr.strip()[-500:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["seconds"] = result["done"] - start
    return result


def cold_start(*, export_dir: str, checkpoint: str, threads: int, runs: int = 3) -> dict[str, dict]:
    """Cold start and peak RSS of a runtime-only process vs a PyTorch process (decode 1 image)."""
    out = {}
    for kind, script, target in (("runtime", RUNTIME_CHILD, export_dir), ("torch", TORCH_CHILD, checkpoint)):
        _child(script, target, threads)  # warm the page cache: we measure process start, not disk
        results = [_child(script, target, threads) for _ in range(runs)]
        seconds = [r["seconds"] for r in results]
        out[kind] = asdict(ColdStart(
            kind=kind, seconds=statistics.median(seconds),
            peak_rss_mib=statistics.median(r["maxrss_kib"] for r in results) / 1024,
            runs=runs, torch_imported=any(r["torch_imported"] for r in results),
            seconds_all=tuple(round(s, 3) for s in seconds),
        ))
    return out
