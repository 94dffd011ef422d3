"""Distil a checkpoint's decoder into a small, norm-free fast decoder.

    python -m vaekit.train.distill CHECKPOINT [--steps 3000] [--widths 32 64 48 32] [--resume]

Writes CHECKPOINT/student/ (config.json, model.safetensors, metrics.json, resume.pt); the
next `python -m vaekit.export CHECKPOINT` ships it as decoder.fast.onnx, and the runtime
loads it with VAE.load(path, decoder="fast"). See docs/fast-decoder.md.
"""

from __future__ import annotations

import argparse
import sys

from vaekit.format import CONFIG, WEIGHTS
from vaekit.format.cli import OneLineParser

from .distill_sources import LOSSES, SOURCES
from .student import ACTIVATIONS, MAX_BLOCKS, UPSAMPLES

#: default student widths by the teacher's number of stages (one x2 upsampling per width)
DEFAULT_WIDTHS = {2: (16, 16), 3: (64, 48, 32), 4: (32, 64, 48, 32)}  # 2 and 4: the shipped students


def build_parser() -> argparse.ArgumentParser:
    from .distill_run import DistillConfig

    d = DistillConfig()
    p = OneLineParser(prog="python -m vaekit.train.distill", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", help=f"checkpoint folder ({CONFIG} + {WEIGHTS}): the teacher")
    s = p.add_argument_group("student")
    s.add_argument("--widths", type=int, nargs="+", default=None,
                   help="channels at each resolution, one x2 upsampling each (default: 16 16 for "
                        "28x28 teachers, 32 64 48 32 for 64x64)")
    s.add_argument("--blocks", type=int, default=1,
                   help=f"3x3 conv + activation layers per resolution (0..{MAX_BLOCKS}, default 1)")
    s.add_argument("--upsample", choices=UPSAMPLES, default="pixel_shuffle",
                   help="pixel_shuffle (conv then PixelShuffle; default) or nearest (resize then conv)")
    s.add_argument("--activation", choices=sorted(ACTIVATIONS), default="relu")
    t = p.add_argument_group("training")
    t.add_argument("--steps", type=int, default=d.steps, help=f"optimiser steps (default {d.steps})")
    t.add_argument("--batch-size", type=int, default=d.batch_size, help=f"latents per step (default {d.batch_size})")
    t.add_argument("--lr", type=float, default=d.lr, help=f"Adam learning rate, cosine-decayed to 0 (default {d.lr})")
    t.add_argument("--warmup-steps", type=int, default=d.warmup_steps, help=f"linear lr warm-up, at most half of --steps (default {d.warmup_steps})")
    t.add_argument("--seed", type=int, default=d.seed, help="seeds the student's weights and every latent drawn")
    t.add_argument("--loss", choices=LOSSES, default=d.loss, help=f"pixel loss (default {d.loss})")
    t.add_argument("--feature-weight", type=float, default=d.feature_weight,
                   help="weight of the same loss on the teacher encoder's stage activations "
                        f"(0: pixels only; default {d.feature_weight:g})")
    t.add_argument("--mix", type=float, nargs=3, default=list(d.mix), metavar=("POST", "PRIOR", "NORMAL"),
                   help=f"share of each batch drawn from each of {', '.join(SOURCES)} "
                        f"(default {' '.join(f'{m:g}' for m in d.mix)})")
    t.add_argument("--save-every", type=int, default=d.save_every, help="steps between validation + save")
    t.add_argument("--limit", type=int, default=0, help="use the first N training images only (0: all)")
    t.add_argument("--data-root", default=None, help=f"override the data root in the checkpoint's {CONFIG}")
    t.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    r = p.add_argument_group("run")
    r.add_argument("--resume", action="store_true", help="continue the student in CHECKPOINT/student")
    r.add_argument("--overwrite", action="store_true", help="replace the student in CHECKPOINT/student")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.resume and args.overwrite:
        parser.error("--resume and --overwrite exclude each other: continue the student, or replace it")
    if not 0 <= args.threads <= 1024:
        parser.error(f"--threads must be in 0..1024, got {args.threads} (0: torch's default)")
    from .checkpoint import CheckpointError, load_configs
    from .distill_run import DistillConfig, distill
    from .student import StudentConfig

    try:
        config = DistillConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr,
                               warmup_steps=args.warmup_steps, seed=args.seed, loss=args.loss,
                               feature_weight=args.feature_weight, mix=tuple(args.mix),
                               save_every=args.save_every, limit=args.limit)
        model_cfg, _, _ = load_configs(args.checkpoint)
        widths = args.widths or DEFAULT_WIDTHS.get(len(model_cfg.dim_mults),
                                                   (64,) * len(model_cfg.dim_mults))
        student = dict(widths=tuple(widths), blocks=args.blocks, upsample=args.upsample,
                       activation=args.activation)
        StudentConfig(channels=model_cfg.in_channels, height=model_cfg.image_size,  # range check
                      width=model_cfg.image_size, latent_dim=model_cfg.latent_dim, **student)
    except (ValueError, FileNotFoundError) as e:
        parser.error(str(e))
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    try:
        metrics = distill(args.checkpoint, student_config=student, config=config, resume=args.resume,
                          overwrite=args.overwrite, data_root=args.data_root, progress=not args.quiet)
    except (FileNotFoundError, FileExistsError, ValueError, CheckpointError, FloatingPointError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: the last save is kept; continue with the same command plus --resume",
              file=sys.stderr)
        return 130
    print(f"student of {args.checkpoint}: step {metrics.get('step')}, PSNR vs teacher "
          f"{metrics.get('psnr_posterior')} dB on test posteriors, {metrics.get('psnr_prior')} dB "
          f"on prior samples; export it with `python -m vaekit.export {args.checkpoint}`")
    return 0


if __name__ == "__main__":
    sys.exit(main())
