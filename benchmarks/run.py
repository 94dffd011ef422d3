"""python -m benchmarks.run [--out DIR] [--models a,b] [--backends x,y] [--batches 1,8] [--target-s S] ...

What ``make bench`` runs. In one run, on this machine:

1. describes the machine and measures the fp32 sgemm peak;
2. runs ``benchmarks/test_latency.py`` for real (pytest-benchmark, full mode, its settings
   saved for it as JSON): every model x part x backend x batch, written to ``DIR/benchmark.json``;
3. measures the sgemm peak again, cold start and peak RSS (runtime-only vs PyTorch
   process), graph file sizes and the int8 / fp16 decoders' PSNR against fp32;
4. writes ``DIR/extras.json``, ``DIR/REPORT.md`` (tables and the targets as
   PASS/FAIL lines) and ``DIR/latency.png``; every file atomically.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .backends import backend_names
from .models import model_pool, model_specs
from .settings import BenchSettings

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "benchmarks" / "results"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=str(DEFAULT_OUT), help="results folder (default: benchmarks/results)")
    p.add_argument("--models", default=None,
                   help="comma list of models (default: every shipped checkpoint + the 64x64 RGB config); "
                        f"known: {', '.join(model_pool())}")
    p.add_argument("--backends", default=",".join(backend_names("bench")),
                   help=f"comma list of backends (default: all of them: {', '.join(backend_names('bench'))})")
    p.add_argument("--batches", default="1,8,64,256", help="comma list of batch sizes")
    p.add_argument("--target-s", type=float, default=0.6, help="timed seconds per case (rounds >= 5)")
    p.add_argument("--max-minutes", type=float, default=14.0,
                   help="whole-run budget: cases not started when it would be exceeded are skipped "
                        "(with the reason in the report), leaving time for the rest of the run")
    p.add_argument("--compile-budget-s", type=float, default=150.0,
                   help="stop compiling new modules with torch.compile once this much time is spent")
    p.add_argument("--threads", type=int, default=None, help="threads per backend (default: all cores)")
    p.add_argument("--sgemm-n", type=int, default=4096, help="matrix size of the peak sgemm")
    p.add_argument("--cold-runs", type=int, default=3, help="measured fresh processes per kind")
    p.add_argument("--render-only", action="store_true",
                   help="rebuild REPORT.md from the JSON already in --out (and its gpu/ folder)")
    return p


def gpu_results(out: Path) -> dict[str, list]:
    """``out/gpu/*.json``: GPU figures measured on a GPU machine and kept with the results."""
    return {p.name: json.loads(p.read_text()) for p in sorted((out / "gpu").glob("*.json"))}


def train_throughput(out: Path) -> list:
    """The training-throughput case: the CPU preset always, the CUDA cases when a GPU is usable."""
    path = out / "train_throughput.json"
    cmd = [sys.executable, "-m", "benchmarks.train_throughput", "--out", str(path)]
    records = []
    for extra in (["--device", "cpu", "--epochs", "1", "--max-seconds", "120"],
                  ["--device", "cuda", "--epochs", "2", "--max-seconds", "30"]):
        if extra[1] == "cuda" and not _cuda_usable():
            continue
        print("$", " ".join(cmd[1:] + extra), flush=True)
        if subprocess.call(cmd + extra, cwd=REPO) == 0 and path.is_file():
            records += json.loads(path.read_text())
    path.unlink(missing_ok=True)
    return records


def _cuda_usable() -> bool:
    import torch

    return torch.cuda.is_available()


def render_only(out: Path) -> int:
    from vaekit.format import atomic_write_text

    from . import report

    try:
        bench_json = json.loads((out / "benchmark.json").read_text())
        extras = json.loads((out / "extras.json").read_text())
    except (OSError, ValueError) as e:
        print(f"error: --render-only needs benchmark.json and extras.json in {out} ({e}); "
              f"run `make bench` first", file=sys.stderr)
        return 2
    extras["gpu"] = gpu_results(out)
    atomic_write_text(out / "REPORT.md", report.render(report.rows(bench_json), extras))
    print(f"wrote {out / 'REPORT.md'}")
    return 0


def settings_from(args: argparse.Namespace, out: Path, start: float) -> BenchSettings:
    """The latency run's settings from the command line; a bad value exits with a one-line error."""
    def words(text: str) -> tuple[str, ...]:
        return tuple(w.strip() for w in text.split(",") if w.strip())

    try:
        batches = tuple(int(b) for b in words(args.batches))
    except ValueError:
        raise SystemExit(f"error: --batches must be a comma list of positive integers, got {args.batches!r}") from None
    try:
        models = model_specs("full", args.models)
        settings = BenchSettings(
            mode="full", models=words(args.models or ""), backends=words(args.backends), batches=batches,
            threads=(os.cpu_count() or 1) if args.threads is None else args.threads, target_s=args.target_s,
            compile_budget_s=args.compile_budget_s, notes=str(out / "notes.json"),
            # the latency cases must end early enough for step 3 (under a minute per model) and the report
            deadline=start + 60 * args.max_minutes - 60 - 50 * len(models))
    except ValueError as e:
        raise SystemExit(f"error: {e}") from None
    if args.max_minutes <= 0 or args.sgemm_n < 1 or args.cold_runs < 1:
        raise SystemExit("error: --max-minutes must be positive, --sgemm-n and --cold-runs at least 1")
    return settings


def run_pytest(out: Path, settings: BenchSettings) -> int:
    """The benchmarks for real; returns pytest's exit code. JSON lands in out/benchmark.json."""
    tmp_json, settings_file = out / ".benchmark.json.tmp", out / ".settings.json"
    settings.save(settings_file)
    cmd = [sys.executable, "-m", "pytest", str(REPO / "benchmarks" / "test_latency.py"), "-q",
           "-p", "no:cacheprovider", f"--bench-settings={settings_file}", "--benchmark-enable",
           f"--benchmark-json={tmp_json}", "--benchmark-columns=median,iqr,rounds", "--benchmark-sort=name", "-rs"]
    print("$", " ".join(cmd[1:]), flush=True)
    try:
        rc = subprocess.call(cmd, cwd=REPO)
    finally:
        settings_file.unlink(missing_ok=True)
    if tmp_json.is_file():
        os.replace(tmp_json, out / "benchmark.json")
    return rc


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    start = time.time()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.render_only:
        return render_only(out)
    settings = settings_from(args, out, start)

    from vaekit.format import Contract, atomic_write_bytes, atomic_write_text

    from . import fast_decoder, machine, overhead, report
    from .models import graph_bytes

    n_threads = settings.threads
    print(f"[1/4] machine and fp32 peak (sgemm {args.sgemm_n}^3, {n_threads} threads)", flush=True)
    given = sys.argv[1:] if argv is None else argv
    extras: dict = {"command": " ".join(["python -m benchmarks.run", *given])}
    extras["machine"] = machine.describe()
    training = set(extras["machine"]["training_processes"])
    if training:
        print(f"warning: {len(training)} training process(es) share the CPU: numbers will be pessimistic",
              flush=True)
    extras["peak"] = machine.sgemm_peak(n=args.sgemm_n, threads=n_threads).__dict__
    print(f"      peak: {extras['peak']}", flush=True)

    print("[2/4] latency benchmarks (pytest-benchmark)", flush=True)
    rc = run_pytest(out, settings)
    if not (out / "benchmark.json").is_file() or not (out / "notes.json").is_file():
        print(f"error: the benchmarks wrote no results (pytest exit code {rc}); see the output above",
              file=sys.stderr)
        return rc or 1
    bench_json = json.loads((out / "benchmark.json").read_text())
    notes = json.loads((out / "notes.json").read_text())
    (out / "notes.json").unlink()
    extras["notes"] = notes
    training |= set(machine.training_processes())

    print("[3/4] peak again, cold start and memory, graph sizes, PSNR", flush=True)
    extras["peak_after"] = machine.sgemm_peak(n=args.sgemm_n, threads=n_threads).__dict__
    extras["cold_start"], extras["sizes"], extras["psnr"] = {}, {}, {}
    for name, m in notes["models"].items():
        try:
            extras["cold_start"][name] = machine.cold_start(
                export_dir=m["export_dir"], checkpoint=m["checkpoint"], threads=n_threads, runs=args.cold_runs)
        except RuntimeError as e:
            extras["cold_start"][name] = {"error": str(e)[:300]}
        extras["sizes"][name] = {p: {part: graph_bytes(Path(path)) for part, path in g.items()}
                                 for p, g in m["graphs"].items()}
        # the decoder PSNR of each reduced precision against fp32, measured and recorded by the export
        variants = Contract.load(m["export_dir"]).variants or {}
        extras["psnr"][name] = {p: v.decoder_psnr_db_vs_fp32 for p, v in variants.items()
                                if v.decoder_psnr_db_vs_fp32 is not None}
    print("      fast decoders (benchmarks/fast_decoder.py)", flush=True)
    extras["fast_decoder"] = {f.parent.name: fast_decoder.measure(f, threads=n_threads, runs=500)
                              for f in fast_decoder.fast_exports()}
    print("      runtime vs ort-all, interleaved (benchmarks/overhead.py)", flush=True)
    extras["overhead"] = overhead.measure(overhead.shipped(notes["models"]), notes["batches"],
                                          threads=n_threads, seconds=3.0)
    print("      training throughput (benchmarks/train_throughput.py)", flush=True)
    extras["train_throughput"] = train_throughput(out)
    extras["gpu"] = gpu_results(out)
    training |= set(machine.training_processes())
    extras["training_during_run"] = sorted(training)
    extras["cuda"] = _cuda_line(report.rows(bench_json), notes)
    extras["elapsed_s"] = time.time() - start

    print("[4/4] report", flush=True)
    rows = report.rows(bench_json)
    atomic_write_text(out / "extras.json", json.dumps(extras, indent=2, sort_keys=True, default=str) + "\n")
    with tempfile.TemporaryDirectory(dir=out) as tmp:
        png = Path(tmp) / "latency.png"
        report.plot(rows, png)
        atomic_write_bytes(out / "latency.png", png.read_bytes())
    text = report.render(rows, extras)
    atomic_write_text(out / "REPORT.md", text)
    print("\n".join(t.line for t in report.targets(rows, extras)))
    print(f"wrote {out / 'REPORT.md'}, {out / 'latency.png'}, {out / 'benchmark.json'} "
          f"in {extras['elapsed_s'] / 60:.1f} min")
    return 0 if rc == 0 else rc


def _cuda_line(rows, notes) -> str:
    if any(r.backend == "ort-cuda" for r in rows):
        return "measured (backend `ort-cuda` in the tables)"
    reasons = {v for k, v in notes.get("skipped", {}).items() if k.endswith("-ort-cuda")}
    return min(reasons) if reasons else "not available on this machine"


if __name__ == "__main__":
    sys.exit(main())
