"""Turn a pytest-benchmark JSON and the run's extra measurements into REPORT.md and a plot.

Pure functions of their inputs (no timing here): :func:`rows` reads the benchmark JSON,
:func:`targets` checks the report's targets, :func:`render` writes the markdown and
:func:`plot` the log-log latency figure.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .backends import BACKENDS, backend_names, summary_columns
from .models import PARTS

ORT_FP32 = "ort-all"  # the fp32 ONNX Runtime CPU configuration the targets are judged on


@dataclass(frozen=True)
class Row:
    """One measured case; times in seconds."""

    model: str
    part: str
    backend: str
    batch: int
    median_s: float
    p95_s: float
    rounds: int
    flops_per_image: float
    max_abs_diff: float
    first_call_s: float

    @property
    def images_per_s(self) -> float:
        return self.batch / self.median_s

    @property
    def gflops(self) -> float:
        return self.flops_per_image * self.batch / self.median_s / 1e9


def rows(bench_json: dict[str, Any]) -> list[Row]:
    """The measured cases of a pytest-benchmark JSON (written with ``--benchmark-json``)."""
    out = []
    for b in bench_json.get("benchmarks", []):
        info, stats = b.get("extra_info", {}), b["stats"]
        if "backend" not in info:
            continue
        data = stats.get("data") or [stats["median"]]
        out.append(Row(
            model=info["model"], part=info["part"], backend=info["backend"], batch=int(info["batch"]),
            median_s=float(stats["median"]), p95_s=float(np.percentile(data, 95)),
            rounds=int(stats["rounds"]), flops_per_image=float(info.get("flops_per_image") or 0.0),
            max_abs_diff=float(info.get("max_abs_diff_vs_eager", float("nan"))),
            first_call_s=float(info.get("first_call_s", float("nan"))),
        ))
    order = {b: i for i, b in enumerate(BACKENDS)}
    return sorted(out, key=lambda r: (r.model, PARTS.index(r.part), r.batch, order.get(r.backend, 99)))


def _index(rs: list[Row]) -> dict[tuple[str, str, str, int], Row]:
    return {(r.model, r.part, r.backend, r.batch): r for r in rs}


def speedup(row: Row, index: dict) -> float | None:
    eager = index.get((row.model, row.part, "torch-eager", row.batch))
    return eager.median_s / row.median_s if eager else None


def rgb64_model(models: dict[str, Any]) -> str | None:
    """The 64x64 RGB model: the shipped CelebA one when present, else the fresh stand-in."""
    candidates = [n for n, m in models.items() if list(m.get("image_shape", [])) == [3, 64, 64]]
    shipped = [n for n in candidates if "fresh" not in n]
    return (shipped or candidates or [None])[0]


@dataclass(frozen=True)
class Target:
    passed: bool | None  # None: could not be measured
    text: str

    @property
    def line(self) -> str:
        tag = {True: "PASS", False: "FAIL", None: "N/A"}[self.passed]
        return f"- **{tag}** {self.text}"


def _ms(seconds: float) -> str:
    ms = seconds * 1e3
    return f"{ms:.3g}" if ms < 100 else f"{ms:.0f}"


def targets(rs: list[Row], extras: dict[str, Any]) -> list[Target]:
    """The targets, each judged on this run's numbers."""
    index = _index(rs)
    models = extras.get("notes", {}).get("models", {})
    out: list[Target] = []

    # 1. ORT CPU decoder >= 2x faster than PyTorch eager at batch 1 and 64.
    for model in models:
        parts, speedups = [], []
        for batch in (1, 64):
            ort = index.get((model, "decoder", ORT_FP32, batch))
            eager = index.get((model, "decoder", "torch-eager", batch))
            if not ort or not eager:
                parts.append(f"batch {batch}: not measured")
                continue
            speedups.append(eager.median_s / ort.median_s)
            parts.append(f"batch {batch}: {_ms(ort.median_s)} ms vs eager {_ms(eager.median_s)} ms "
                         f"= {speedups[-1]:.2f}x")
        ok = all(s >= 2 for s in speedups) if len(speedups) == 2 else None
        out.append(Target(ok, f"ORT CPU ({ORT_FP32}) decoder >= 2x PyTorch eager, {model}: " + "; ".join(parts)))

    # 2. 64x64 RGB decoder at batch 64 reaches >= 70% of the fp32 peak.
    peak = extras.get("peak", {})
    peak_gflops = max(peak.get("numpy_gflops", 0), peak.get("torch_gflops", 0),
                      extras.get("peak_after", {}).get("numpy_gflops", 0),
                      extras.get("peak_after", {}).get("torch_gflops", 0))
    rgb = rgb64_model(models)
    row = index.get((rgb, "decoder", ORT_FP32, 64)) if rgb else None
    if row and peak_gflops:
        best = max((r for r in rs if r.model == rgb and r.part == "decoder" and r.batch == 64
                    and r.backend in BACKENDS and BACKENDS[r.backend].precision == "fp32"), key=lambda r: r.gflops)
        pct = 100 * row.gflops / peak_gflops
        out.append(Target(pct >= 70, (
            f"64x64 RGB decoder ({rgb}) at batch 64 reaches >= 70% of fp32 peak: {ORT_FP32} achieves "
            f"{row.gflops:.1f} GFLOP/s = {pct:.1f}% of the measured sgemm peak {peak_gflops:.1f} GFLOP/s "
            f"(numpy {peak.get('numpy_gflops')}, torch {peak.get('torch_gflops')}); best fp32 backend "
            f"{best.backend} {best.gflops:.1f} GFLOP/s = {100 * best.gflops / peak_gflops:.1f}%")))
    else:
        out.append(Target(None, "64x64 RGB decoder at batch 64 vs fp32 peak: not measured"))

    # 3. int8 decoder faster than fp32 ORT, with its PSNR loss.
    for model in models:
        pairs = []
        for batch in sorted({r.batch for r in rs if r.model == model}):
            q, f = index.get((model, "decoder", "ort-int8", batch)), index.get((model, "decoder", ORT_FP32, batch))
            if q and f:
                pairs.append((batch, f.median_s / q.median_s, q, f))
        psnr = extras.get("psnr", {}).get(model, {}).get("int8")
        psnr_text = f"PSNR vs fp32 {psnr:.1f} dB" if psnr is not None else "PSNR not measured"
        if not pairs:
            out.append(Target(None, f"int8 decoder faster than fp32 ORT, {model}: no int8 graph measured"))
            continue
        ok = all(s > 1 for _, s, _, _ in pairs)
        detail = "; ".join(f"b{b}: {_ms(q.median_s)} vs {_ms(f.median_s)} ms = {s:.2f}x" for b, s, q, f in pairs)
        out.append(Target(ok, f"int8 decoder faster than fp32 ORT ({ORT_FP32}) at every batch, {model} "
                              f"({psnr_text}): {detail}"))

    # 4. A runtime-only process uses at most a third of the PyTorch process's memory.
    for model, cs in extras.get("cold_start", {}).items():
        if "error" in cs:
            out.append(Target(None, f"runtime process memory <= 1/3 of PyTorch's, {model}: {cs['error']}"))
            continue
        rt, pt = cs["runtime"], cs["torch"]
        ratio = rt["peak_rss_mib"] / pt["peak_rss_mib"]
        out.append(Target(ratio <= 1 / 3 and not rt["torch_imported"], (
            f"runtime-only process peak RSS <= 1/3 of the PyTorch process, {model}: "
            f"{rt['peak_rss_mib']:.0f} MiB vs {pt['peak_rss_mib']:.0f} MiB = {ratio:.2f}"
            + (" (but torch was imported!)" if rt["torch_imported"] else ""))))

    # 5. vaekit's runtime within 10% of (or faster than) OpenVINO on the same graphs.
    for model in models:
        parts, ratios = [], []
        for batch in (1, 64):
            rt, ov = index.get((model, "decoder", "runtime", batch)), index.get((model, "decoder", "openvino", batch))
            if rt and ov:
                ratios.append(rt.median_s / ov.median_s)
                parts.append(f"batch {batch}: {_ms(rt.median_s)} vs {_ms(ov.median_s)} ms = {ratios[-1]:.2f}x OpenVINO's time")
            else:
                parts.append(f"batch {batch}: not measured")
        ok = all(r <= 1.10 for r in ratios) if len(ratios) == 2 else None
        out.append(Target(ok, f"runtime decoder within 10% of OpenVINO's time (or faster), {model}: " + "; ".join(parts)))

    # 6. What users call (vaekit.runtime) costs at most 5% more than the bare ort-all session.
    out += overhead_targets(extras.get("overhead") or [], list(models))
    return out


RUNTIME_OVERHEAD_LIMIT = 1.05  # runtime / ort-all, timed interleaved (benchmarks/overhead.py)


def overhead_targets(measured: list[dict[str, Any]], models: list[str]) -> list[Target]:
    """One target line per model: every part and batch of ``benchmarks.overhead`` within the limit."""
    if not measured:
        return [Target(None, "runtime within 5% of ort-all at every batch: not measured (no shipped "
                             "checkpoint in this run; `python -m benchmarks.overhead` times it)")]
    out = []
    for model in [m for m in models if any(r["model"] == m for r in measured)]:
        rs = [r for r in measured if r["model"] == model]
        slower = [r for r in rs if r.get("ratio_low", r["ratio"]) > RUNTIME_OVERHEAD_LIMIT]
        unresolved = [r for r in rs if r not in slower
                      and r.get("ratio_high", r["ratio"]) > RUNTIME_OVERHEAD_LIMIT]
        # within: the whole 95% interval is at most 1.05; slower: all of it above; else the
        # machine's noise is wider than the 5% asked about and the case says so
        passed = False if slower else (None if unresolved else True)
        detail = "; ".join(f"{r['part']} b{r['batch']} {r['ratio']:.3f}"
                           + (f" ({r['ratio_low']:.3f}-{r['ratio_high']:.3f})" if "ratio_low" in r else "")
                           for r in rs)
        verdict = ("" if passed else f" [{len(slower)} shown slower, {len(unresolved)} not resolvable: "
                   f"their 95% interval straddles {RUNTIME_OVERHEAD_LIMIT}]")
        out.append(Target(passed, f"runtime within 5% of ort-all at every batch (runtime / ort-all, "
                                  f"interleaved, median of {min(r['rounds'] for r in rs)}+ rounds, "
                                  f"95% interval), {model}: {detail}{verdict}"))
    return out


def overhead_section(measured: list[dict[str, Any]]) -> list[str]:
    """The interleaved runtime vs ort-all table, and what the runtime adds."""
    from .overhead import HEADER, line

    if not measured:
        return []
    return ["", "## vaekit.runtime vs the bare ort-all session, interleaved", "",
            ("The latency tables time each backend after the other, so on a shared machine their "
             "`runtime` and `ort-all` columns differ by whatever the load did in between. Here both "
             "calls go through one session (the runtime's own, built with ort-all's options and "
             "threads) on the same input, in alternation (`python -m benchmarks.overhead`), so the "
             "ratio is what the runtime does around `session.run`; the ratio is the median over rounds, with "
             "a 95% interval of that median that assumes nothing about the timings' distribution: "
             "a target case passes when all of its interval is at most 1.05, fails when all of it "
             "is above, and is N/A (not resolvable on this machine) when the interval straddles it. "
             "What the runtime adds is its checks: one pass over the latents or images in, one sum "
             "over the outputs (`checks us`, the fastest call), and no copy of either."), "",
            *HEADER, *(line(r) for r in measured)]


def _table(rs: list[Row], index: dict) -> list[str]:
    lines = ["| batch | backend | median ms | p95 ms | rounds | images/s | vs eager | GFLOP/s | max abs diff vs eager |",
             "|---:|:---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rs:
        s = speedup(r, index)
        lines.append(
            f"| {r.batch} | {r.backend} | {_ms(r.median_s)} | {_ms(r.p95_s)} | {r.rounds} | "
            f"{r.images_per_s:,.0f} | {'' if s is None else f'{s:.2f}x'} | {r.gflops:.1f} | "
            f"{r.max_abs_diff:.1e} |")
    return lines


def summary_table(rs: list[Row], batches: tuple[int, ...] = (1, 64)) -> list[str]:
    """Median ms per backend at a few batch sizes, and the best backend's speed-up vs eager."""
    index = _index(rs)
    present = [b for b in summary_columns() if any(r.backend == b for r in rs)]
    lines = ["| model | part | batch | " + " | ".join(f"{b} ms" for b in present) + " | fastest (vs eager) |",
             "|:---|:---|---:|" + "---:|" * len(present) + ":---|"]
    keys = sorted({(r.model, r.part) for r in rs}, key=lambda k: (k[0], PARTS.index(k[1])))
    for model, part in keys:
        for batch in batches:
            cells = [index.get((model, part, b, batch)) for b in present]
            measured = [c for c in cells if c]
            if not measured:
                continue
            best = min(measured, key=lambda r: r.median_s)
            s = speedup(best, index)
            lines.append(f"| {model} | {part} | {batch} | "
                         + " | ".join(_ms(c.median_s) if c else "-" for c in cells)
                         + f" | {best.backend}" + (f" ({s:.1f}x)" if s else "") + " |")
    return lines


def _mib(n: int) -> str:
    return f"{n / 2**20:.2f} MiB" if n >= 2**20 else f"{n / 1024:.0f} KiB"


def render(rs: list[Row], extras: dict[str, Any], *, plot_file: str | None = "latency.png") -> str:
    """The whole REPORT.md."""
    m = extras.get("machine", {})
    notes = extras.get("notes", {})
    models = notes.get("models", {})
    index = _index(rs)
    out = ["# vaekit benchmarks", ""]
    out.append(f"Command: `{extras.get('command', 'make bench')}` (took {extras.get('elapsed_s', 0) / 60:.1f} min). "
               f"Date: {m.get('date', '?')}.")
    out.append("")
    out.append(f"- CPU: {m.get('cpu_model', '?')}, {m.get('logical_cores', '?')} logical cores "
               f"({m.get('cores_usable', '?')} usable), SIMD: {', '.join(m.get('simd', [])) or '?'}; "
               f"int8 kernels: {m.get('int8_kernel', '?')}; "
               f"{m.get('memory_gib', '?')} GiB RAM; {m.get('platform', '?')}")
    out.append(f"- onnxruntime {m.get('onnxruntime', '?')} (providers built in: "
               f"{', '.join(m.get('onnxruntime_providers', []))}), torch {m.get('torch', '?')}, "
               f"numpy {m.get('numpy', '?')}, onnx {m.get('onnx', '?')}, OpenVINO "
               f"{m.get('openvino') or 'not installed'}, Python {m.get('python', '?')}")
    out.append(f"- Threads per backend: {notes.get('threads', '?')} (ORT intra-op, torch.set_num_threads); "
               f"load average at start {', '.join(f'{x:.2f}' for x in m.get('loadavg', []))}")
    peak, after = extras.get("peak", {}), extras.get("peak_after", {})
    if peak:
        out.append(f"- fp32 peak (sgemm {peak['n']}^3, best of 3): numpy {peak['numpy_gflops']} GFLOP/s, "
                   f"torch {peak['torch_gflops']} GFLOP/s before the benchmarks"
                   + (f"; numpy {after['numpy_gflops']}, torch {after['torch_gflops']} after" if after else ""))
    out.append("- CUDA: " + extras.get("cuda", "not probed"))
    training = extras.get("training_during_run") or []
    if training:
        out += ["", ("> **Measured while training ran: numbers are pessimistic.** "
                f"{len(training)} `vaekit.train` process(es) shared the CPU during this run:")]
        out += [f"> `{cmd}`" for cmd in sorted(set(training))]
    out += ["", "## Targets", ""]
    out += [t.line for t in targets(rs, extras)]
    if extras.get("fast_decoder"):  # distilled decoder.fast.onnx vs the teacher (benchmarks/fast_decoder.py)
        from .fast_decoder import table

        out += ["", "## Fast decoder (distilled) vs the model's decoder, ONNX Runtime CPU, interleaved", ""]
        out += table(extras["fast_decoder"])

    out += overhead_section(extras.get("overhead") or [])

    out += ["", "## Models", ""]
    for name, info in models.items():
        flops = info.get("flops_per_image", {})
        fl = ", ".join(f"{part} {flops[part] / 1e6:.1f} MFLOP/image" for part in PARTS if flops.get(part))
        out.append(f"- **{name}**: {info['description']}; image {tuple(info['image_shape'])}, latent "
                   f"{info['latent_dim']}; {fl}")
        for note in info.get("notes", []):
            out.append(f"  - {note}")

    out += ["", "## Summary", "", *summary_table(rs)]
    if plot_file:
        out += ["", f"![latency vs batch size, log-log]({plot_file})"]

    out += ["", "## Latency", "",
            ("Median and p95 of the timed rounds (each round one call on the whole batch, after 2 to 4 "
            "untimed warm-up calls, the first of which compiles for torch.compile); `vs eager` is PyTorch eager's median over this one, on the same "
            "input in the same run. GFLOP/s counts the fp32 graph's conv/gemm/matmul FLOPs "
            "(2 per multiply-add, from ONNX shape inference) for every backend.")]
    for model in models:
        for part in PARTS:
            sub = [r for r in rs if r.model == model and r.part == part]
            if sub:
                out += ["", f"### {model} {part}", ""] + _table(sub, index)

    compile_rows = [r for r in rs if r.backend == "torch-compile"]
    if compile_rows:
        out += ["", "torch.compile first calls (compile included): " + ", ".join(
            f"{r.model}/{r.part} b{r.batch} {r.first_call_s:.1f} s" for r in compile_rows)
            + f"; compiling took {notes.get('compile_spent_s', 0):.0f} s in all; inductor cache "
            + f"{m.get('inductor_cache', 'state unknown')}."]

    skipped = notes.get("skipped", {})
    if skipped:
        by_reason: dict[str, list[str]] = defaultdict(list)
        for case, reason in skipped.items():
            by_reason[reason].append(case)
        out += ["", "## Not measured", ""]
        for reason, cases in by_reason.items():
            out.append(f"- {len(cases)} case(s), e.g. `{cases[0]}`: {reason}")

    cold = extras.get("cold_start", {})
    if cold:
        out += ["", "## Cold start and memory", "",
                ("Fresh `python` process to the first decoded image (batch 1), median of the runs after "
                "one unmeasured run that warms the page cache; peak RSS is the process's VmHWM (high-water resident set)."), "",
                "| model | process | cold start s | peak RSS MiB | imports torch | runs (s) |",
                "|:---|:---|---:|---:|:---|:---|"]
        for model, cs in cold.items():
            if "error" in cs:
                out.append(f"| {model} | - | - | - | - | {cs['error']} |")
                continue
            for kind, label in (("runtime", "vaekit.runtime only"), ("torch", "PyTorch model")):
                c = cs[kind]
                out.append(f"| {model} | {label} | {c['seconds']:.2f} | {c['peak_rss_mib']:.0f} | "
                           f"{'yes' if c['torch_imported'] else 'no'} | "
                           f"{', '.join(f'{s:.2f}' for s in c['seconds_all'])} |")

    sizes = extras.get("sizes", {})
    if sizes:
        out += ["", "## Graph files", "", "| model | precision | encoder | decoder | decoder PSNR vs fp32 |",
                "|:---|:---|---:|---:|---:|"]
        for model, per in sizes.items():
            for precision, parts in per.items():
                p = extras.get("psnr", {}).get(model, {}).get(precision)
                out.append(f"| {model} | {precision} | {_mib(parts['encoder'])} | {_mib(parts['decoder'])} | "
                           f"{'' if p is None else f'{p:.1f} dB'} |")
    out += training_section(extras.get("train_throughput", []), extras.get("gpu", {}))
    out += ["", ("Raw numbers: `benchmark.json` (pytest-benchmark, all rounds), `extras.json` (machine, "
            "peak, cold start, sizes, PSNR, skipped cases)."), ""]
    return "\n".join(out)


def training_section(local: list[dict[str, Any]], gpu: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Training throughput of vaekit's own loop: this run's cases plus GPU results measured elsewhere.

    ``local``: records of ``benchmarks.train_throughput`` from this run; ``gpu``: file name ->
    records kept in ``results/gpu/`` (throughput records, or shipped training runs), each naming
    the device it was measured on. Nothing here is estimated: a case without a record is absent.
    """
    out = ["", "## Training throughput", ""]
    out.append("images/s of `python -m vaekit.train`'s own step code (`benchmarks/train_throughput.py`: "
               "device-resident uint8 data, `Trainer.run_epoch` of `vaekit.train.trainer`, median of timed epochs after "
               "20 warm-up steps; bf16 autocast + channels-last on CUDA).")
    cases = local + [r for f, rs in sorted(gpu.items()) if "throughput" in f for r in rs]
    if cases:
        out += ["", "| device | case | batch | compile | images/s (median) | warm-up s |",
                "|:---|:---|---:|:---|---:|---:|"]
        for r in cases:
            if "error" in r:
                out.append(f"| | {r['case']} | | | failed: {r['error'][:80]} | |")
                continue
            out.append(f"| {r['device']} | {r['case']} | {r['batch_size']} | {'yes' if r['compile'] else 'no'} "
                       f"| {r['images_per_second_median']:,.0f} | {r['warmup_seconds']} |")
    runs = [r for f, rs in sorted(gpu.items()) if "training_runs" in f for r in rs]
    if runs:
        out += ["", "Shipped models trained on a GPU (whole runs, validation and checkpoints included; "
                "the four shared one GPU at the same time, so each rate is a share):", "",
                "| model | variant | parameters | batch | epochs | training s | images/s (median epoch) "
                "| test K=1000 bound s | device |", "|:---|:---|---:|---:|---:|---:|---:|---:|:---|"]
        for r in runs:
            out.append(f"| {r['model']} | {r['model_type']} | {r['parameters']:,} | {r['batch_size']} | "
                       f"{r['epochs']} | {r['train_seconds']:.0f} | {r['images_per_second_median']:,.0f} | "
                       f"{r['test_eval_seconds_k1000']} ({r['test_images']:,} images) | {r['device']} |")
    return out


def plot(rs: list[Row], path: str | Path) -> None:
    """Median latency vs batch size per backend, log-log, one panel per model and part."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = sorted({(r.model, r.part) for r in rs}, key=lambda k: (k[0], PARTS.index(k[1])))
    if not panels:
        raise ValueError("no benchmark rows to plot: run `python -m benchmarks.run` first")
    cols = 2
    nrows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(6 * cols, 4 * nrows), squeeze=False)
    colors = {b: plt.cm.tab10(i) for i, b in enumerate(backend_names("bench"))}
    for ax, (model, part) in zip(axes.flat, panels):
        for backend in colors:
            pts = sorted((r.batch, r.median_s * 1e3) for r in rs
                         if r.model == model and r.part == part and r.backend == backend)
            if pts:
                xs, ys = zip(*pts)
                ax.plot(xs, ys, marker="o", label=backend, color=colors[backend])
        ax.set_xscale("log", base=2)
        batch_sizes = sorted({r.batch for r in rs})
        ax.set_xticks(batch_sizes, [str(b) for b in batch_sizes])
        ax.minorticks_off()
        ax.set_yscale("log")
        ax.set_title(f"{model} {part}")
        ax.set_xlabel("batch size")
        ax.set_ylabel("median latency (ms)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
