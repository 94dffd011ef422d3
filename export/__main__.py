"""python -m vaekit.export CHECKPOINT [--out DIR] [--fp16] [--int8] [--examples N] [--if-missing]

Writes DIR (default CHECKPOINT/onnx): encoder.onnx, decoder.onnx, vaekit.json and
examples.npz (test images for demos), atomically, after checking ONNX Runtime against
PyTorch at batch sizes 1, 7 and 64; and prior.onnx when the model samples from a learned
or fitted prior (`python -m vaekit.train.fit_prior CHECKPOINT`) rather than N(0, I).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vaekit.format import (
    CONFIG,
    CONTRACT_FILE,
    EXAMPLES_FILE,
    GRAPHS,
    PRECISIONS,
    WEIGHTS,
    Contract,
)
from vaekit.format.cli import command_parser

from .destinations import check_destination


def build_parser() -> argparse.ArgumentParser:
    p = command_parser("python -m vaekit.export", __doc__)
    p.add_argument("checkpoint", help=f"checkpoint folder ({CONFIG} + {WEIGHTS})")
    p.add_argument("--out", default=None, help="export folder (default: CHECKPOINT/onnx)")
    p.add_argument("--fp16", action="store_true",
                   help="also write encoder.fp16.onnx / decoder.fp16.onnx (half precision, for GPUs)")
    p.add_argument("--int8", action="store_true",
                   help="also write encoder.int8.onnx / decoder.int8.onnx (static int8, for CPUs)")
    # a precision an earlier export to DIR wrote is written again without its flag
    p.add_argument("--examples", type=int, default=None,
                   help=f"test images saved to {EXAMPLES_FILE} (default: 2000 for latent_dim 2, else 64; 0: none)")
    p.add_argument("--data-root", default=None, help=f"override the data root in {CONFIG}")
    p.add_argument("--if-missing", action="store_true",
                   help="do nothing when DIR already holds an export of these exact weights")
    p.add_argument("--prior", default="auto", metavar="NAME",
                   help="the prior samples are drawn from by default, shipped as prior.onnx: auto (the "
                        "model's learned prior, else the fitted prior in CHECKPOINT/priors with the best "
                        "validation log-density, else normal), normal (N(0, I)), vamp, or a fitted "
                        "sampler's name (see python -m vaekit.train.fit_prior --help)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    t = p.add_argument_group("Triton Inference Server")
    t.add_argument("--triton", metavar="REPO", default=None,
                   help="also write a Triton model repository: REPO/NAME_encoder and REPO/NAME_decoder "
                        "(config.pbtxt + 1/model.onnx; NAME: the checkpoint folder's name)")
    t.add_argument("--triton-max-batch", type=int, default=None, metavar="B",
                   help="max_batch_size of the Triton models (1-65536, default 64; needs --triton)")
    t.add_argument("--triton-gpu", action="store_true", default=None,
                   help="one instance per GPU (KIND_GPU) instead of one CPU instance (needs --triton)")
    t.add_argument("--triton-precision", choices=PRECISIONS, default=None,
                   help="which graphs the repository serves (default fp32; needs --triton; fp16/int8 "
                        "need --fp16/--int8)")
    return p


TRITON_DEFAULTS = {"triton_max_batch": 64, "triton_gpu": False, "triton_precision": "fp32"}


def check_options(args: argparse.Namespace) -> None:
    """Options that need another one, and the Triton destination, before any work (ValueError;
    the export checks ``--out`` itself, once it knows the checkpoint)."""
    if args.examples is not None and args.examples < 0:
        raise ValueError(f"--examples must be >= 0, got {args.examples} (0: no {EXAMPLES_FILE})")
    if args.out is not None and not args.out.strip():  # Path("") would be the working directory
        raise ValueError("--out '' is empty: pass the export folder, or leave --out out "
                         "(default: CHECKPOINT/onnx)")
    given = [k for k in TRITON_DEFAULTS if getattr(args, k) is not None]
    if args.triton is None and given:
        flags = " ".join("--" + k.replace("_", "-") for k in given)
        raise ValueError(f"{flags} only shape the Triton repository: add --triton REPO, or drop "
                         f"{'it' if len(given) == 1 else 'them'}")
    for key, default in TRITON_DEFAULTS.items():
        setattr(args, key, default if getattr(args, key) is None else getattr(args, key))
    if not 1 <= args.triton_max_batch <= 1 << 16:
        raise ValueError(f"--triton-max-batch must be in 1..65536, got {args.triton_max_batch}")
    if args.triton_precision != "fp32" and not getattr(args, args.triton_precision):
        raise ValueError(f"--triton-precision {args.triton_precision} serves the "
                         f"{args.triton_precision} graphs: add --{args.triton_precision} so that "
                         f"they are exported")
    if args.triton is not None:
        check_destination(args.triton, "--triton")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        check_options(args)
    except ValueError as e:
        parser.error(str(e))
    from .freshness import default_out, is_up_to_date  # no torch: --if-missing answers fast

    out = Path(args.out) if args.out is not None else default_out(args.checkpoint)
    kept = kept_precisions(out, fp16=args.fp16, int8=args.int8)
    if kept:  # a re-export keeps the precisions the folder had
        args.fp16, args.int8 = args.fp16 or "fp16" in kept, args.int8 or "int8" in kept
        if not args.quiet:
            print(f"keeping the {', '.join(kept)} graphs {out} already has")
    if args.if_missing and args.prior == "auto" and is_up_to_date(args.checkpoint, out, fp16=args.fp16,
                                                                  int8=args.int8):
        print(f"{out} is up to date with {args.checkpoint} (same weights sha256); nothing to do")
        return _triton(args, out)
    from .errors import ExportError

    try:
        from .pipeline import export_checkpoint

        contract = export_checkpoint(args.checkpoint, out=out, fp16=args.fp16, int8=args.int8,
                                     examples=args.examples, data_root=args.data_root,
                                     progress=not args.quiet, prior=args.prior)
    except (FileNotFoundError, ValueError, ExportError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ninterrupted: nothing was written; {out} is as it was", file=sys.stderr)
        return 130
    print(summary(contract, out))
    return _triton(args, out)


def kept_precisions(out: Path, *, fp16: bool, int8: bool) -> list[str]:
    """The extra precisions (fp16, int8) an earlier export in ``out`` wrote and this one was
    not asked for: a re-export writes them again instead of dropping them."""
    try:
        shipped = Contract.load(out / CONTRACT_FILE).precisions
    except (OSError, ValueError):
        return []
    asked = {"fp16": fp16, "int8": int8}
    return [p for p in ("fp16", "int8") if p in shipped and not asked[p]]


def _triton(args: argparse.Namespace, out: Path) -> int:
    """Write the Triton model repository when ``--triton REPO`` is given (from the export in ``out``)."""
    if args.triton is None:
        return 0
    from .errors import ExportError
    from .triton import TritonConfig, write_triton_repo

    name = Path(args.checkpoint).resolve().name
    try:
        folders = write_triton_repo(out, args.triton, name=name, config=TritonConfig(
            max_batch_size=args.triton_max_batch, gpu=args.triton_gpu, precision=args.triton_precision))
    except (FileNotFoundError, ValueError, ExportError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"Triton model repository {args.triton}: " + ", ".join(f.name for f in folders))
    return 0


def _worst(per_graph: dict) -> float:
    """The largest difference in ``{"encoder": {output: d}, "decoder": {output: d}}``."""
    return max(d for g in GRAPHS for d in per_graph[g].values())


def summary(contract: dict, out: Path) -> str:
    head = (f"exported {contract['checkpoint']} -> {out}  (opset {contract['opset']}, "
            f"{contract['dataset']}, latent_dim {contract['latent_dim']})")
    lines = [head]
    for graph in ("encoder", "decoder"):
        worst = max(d for per_b in contract["parity"][graph].values() for d in per_b.values())
        lines.append(f"  {contract[graph]['file']:<20} {contract[graph]['bytes'] / 1024:9.1f} KiB   "
                     f"max |ORT - torch| {worst:.2e} (batch 1/7/64)")
    for precision, v in contract.get("variants", {}).items():
        for graph in GRAPHS:
            lines.append(f"  {v[graph]['file']:<20} {v[graph]['bytes'] / 1024:9.1f} KiB")
        if v.get("runs_on_cpu"):
            lines.append(f"    {precision}: decoder PSNR vs fp32 {v['decoder_psnr_db_vs_fp32']:.1f} dB")
            encoder = (v.get("parity_vs_torch_fp32") or {}).get("encoder")
            if encoder:  # what reconstructions and the latent explorer read
                worst = {o: max(per_b[o] for per_b in encoder.values()) for o in next(iter(encoder.values()))}
                lines.append(f"    {precision}: encoder max |{precision} - torch fp32| "
                             + ", ".join(f"{o} {d:.3g}" for o, d in worst.items()) + " (batch 1/7/64)")
        else:
            lines.append(f"    {precision}: {v.get('note')}")
        if v.get("kernel_paths"):
            paths = ", ".join(f"{name} {p['decoder_psnr_db_vs_fp32']}" for name, p in v["kernel_paths"].items())
            lines.append(f"    {precision} per kernel path (dB): {paths}; largest uint8 x int8 pair sum "
                         f"{v['int16_pair_sum_max']} (int16 holds 32767)")
        computed = v.get("fp16_computed")
        if computed:
            cuda = f", on CUDA {_worst(computed['cuda']):.2e}" if "cuda" in computed else ""
            lines.append(f"    {precision} computed in float16: max |fp16 - torch fp32| "
                         f"{_worst(computed):.2e} (ONNX reference evaluator){cuda}")
    prior = contract.get("prior") or {}
    if prior.get("file"):
        lines.append(f"  {prior['file']:<20} {prior['bytes'] / 1024:9.1f} KiB   prior {prior['name']!r} "
                     f"({prior['components']} x {prior['covariance']} Gaussian, {prior['source']}): "
                     f"the default of sample()")
    else:
        lines.append("  prior: N(0, I) (fit one with `python -m vaekit.train.fit_prior CHECKPOINT`)")
    ex = contract.get("examples")
    lines.append(f"  {EXAMPLES_FILE}: {ex['count']} test images" if ex else f"  {EXAMPLES_FILE}: not written")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
