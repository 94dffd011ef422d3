"""The distilled fast decoder against the model's own decoder: latency rows for ``make bench``.

    python -m benchmarks.fast_decoder [--threads 2] [--runs 500] [EXPORT_DIR ...]

For every export that ships ``decoder.fast.onnx`` (default: the shipped checkpoints), each
decoder graph (fp32 teacher, the fast decoder at every precision the export holds) gets a
bare ONNX Runtime CPU session with ``--threads`` intra-op threads; calls at batch 1 and 64
are timed in turns (teacher, fast, fast int8, teacher, ...) so the machine's load falls on
all alike, and the median is reported with the speedup over the teacher. PSNR and SSIM
against the teacher come from the export's own record (``vaekit.json["fast_decoder"]``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from vaekit.export.fast_metrics import interleaved_latency
from vaekit.format import Contract, fast_decoder_file, graph_file
from vaekit.runtime.session import build_session

REPO = Path(__file__).resolve().parent.parent
BATCHES = (1, 64)


def fast_exports(folders: list[Path] | None = None) -> list[Path]:
    """Export folders that ship a fast decoder (default: ``checkpoints/*/onnx``)."""
    folders = folders if folders is not None else sorted((REPO / "checkpoints").glob("*/onnx"))
    out = []
    for f in folders:
        try:
            if Contract.load(f).fast_decoder is not None:
                out.append(f)
        except (OSError, ValueError):  # no or a damaged vaekit.json: the runtime says why
            continue
    return out


def measure(export_dir: Path, *, threads: int, runs: int, batches: tuple[int, ...] = BATCHES) -> dict[str, Any]:
    """``{"graphs": {name: file}, "batches": {b: {name: ms}}, "quality": ..., "cost": ...}``."""
    contract = Contract.load(export_dir)
    fast = contract.fast_decoder
    if fast is None:
        raise ValueError(f"{export_dir} ships no fast decoder: distil one with "
                         f"`python -m vaekit.train.distill CHECKPOINT`, then export again")
    graphs = {"teacher fp32": graph_file("decoder"), "fast fp32": fast_decoder_file()}
    graphs.update({f"fast {p}": fast_decoder_file(p) for p in fast.variants})
    sessions = {k: build_session(export_dir / f, threads=threads) for k, f in graphs.items()}
    d = contract.latent_dim
    result: dict[str, Any] = {"graphs": graphs, "threads": threads, "runs": runs, "batches": {},
                              "quality": {k: fast.quality[k] for k in ("posterior", "prior")},
                              "cost": fast.cost}
    for b in batches:
        z = np.random.default_rng(b).standard_normal((b, d), dtype=np.float32)
        feed = {"z": z}
        result["batches"][str(b)] = interleaved_latency(
            {k: (lambda s=s: s.run(None, feed)) for k, s in sessions.items()},
            repeats=max(5, runs // b))
    return result


def table(results: dict[str, dict[str, Any]]) -> list[str]:
    """Markdown rows: model, graph, batch, median ms, speedup over the teacher."""
    lines = ["| model | decoder | batch | median ms | vs teacher fp32 |", "|---|---|---|---|---|"]
    for model, r in results.items():
        for b, per in r["batches"].items():
            teacher = per["teacher fp32"]
            for name, ms in per.items():
                lines.append(f"| {model} | {name} | {b} | {ms:.3f} | {teacher / ms:.1f}x |")
    lines.append("")
    for model, r in results.items():
        q, c = r["quality"], r["cost"]
        lines.append(f"- {model}: fast decoder PSNR {q['posterior']['psnr_db']} dB / SSIM "
                     f"{q['posterior']['ssim']} vs the teacher on test posteriors, "
                     f"{q['prior']['psnr_db']} dB / {q['prior']['ssim']} on prior samples; "
                     f"{c['parameters']:,} parameters ({c['teacher_parameters']:,}), "
                     f"{c['flops_per_image'] / 1e6:.1f} MFLOP/image ({c['teacher_flops_per_image'] / 1e6:.1f})")
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.fast_decoder", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("exports", nargs="*", type=Path, help="export folders (default: checkpoints/*/onnx)")
    p.add_argument("--threads", type=int, default=2, help="ONNX Runtime intra-op threads (default 2)")
    p.add_argument("--runs", type=int, default=500, help="timed calls of each graph at batch 1 (default 500)")
    args = p.parse_args(argv)
    if not 1 <= args.threads <= 1024 or not 1 <= args.runs <= 1_000_000:
        p.error("--threads must be in 1..1024 and --runs in 1..1000000")
    exports = fast_exports(args.exports or None)
    if not exports:
        print("no export ships a fast decoder: distil one with `python -m vaekit.train.distill "
              "CHECKPOINT` and re-export it", file=sys.stderr)
        return 2
    results = {f.parent.name: measure(f, threads=args.threads, runs=args.runs) for f in exports}
    print("\n".join(table(results)))
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
