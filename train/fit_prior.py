"""Fit an ex-post prior to a checkpoint's aggregate posterior:

    python -m vaekit.train.fit_prior CHECKPOINT --sampler gmm --components 10 --seed 0

encodes the checkpoint's training images (their posterior means), fits the sampler to them
and writes ``CHECKPOINT/priors/SAMPLER.safetensors``. ``python -m vaekit.export CHECKPOINT``
then ships it as ``prior.onnx``, which every client samples from. The same command on the
same checkpoint writes the same bytes.

A conditional model is encoded with each image's own class and gets one prior for all
classes: its z is meant to carry the style that every class shares, and the class is
chosen when decoding.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
from vaekit.format import CONFIG, WEIGHTS, sha256_file
from vaekit.format.cli import command_parser

from .prior_file import FORMAT, FORMAT_VERSION, FittedPrior, prior_path
from .samplers import MixtureState, Sampler, build_sampler, option_fields, sampler_names

MAX_SEED = 2**32 - 1
#: validation images scored by the fitted density (a held-out figure of the fit)
VALID_COUNT = 5000
ENCODE_BATCH = 256


def encode_split(checkpoint: str | os.PathLike, split: str, *, count: int = 0, seed: int = 0,
                 data_root: str | None = None, progress: bool = False) -> tuple[np.ndarray, int]:
    """Posterior means float32 [n, D] of ``split``'s images (a seeded subset of ``count``
    when ``0 < count < len(split)``), and the split's size.

    Kept for the process, per weights sha256: fitting several samplers to one checkpoint
    encodes its images once."""
    key = (str(Path(checkpoint).resolve()), sha256_file(Path(checkpoint) / WEIGHTS), split, count, seed, data_root)
    if key not in _ENCODED:
        for other in [k for k in _ENCODED if k[:2] != key[:2]]:  # one checkpoint's means at a time
            del _ENCODED[other]
        _ENCODED[key] = _encode(checkpoint, split, count=count, seed=seed, data_root=data_root, progress=progress)
    means, total = _ENCODED[key]
    return means.copy(), total


_ENCODED: dict[tuple, tuple[np.ndarray, int]] = {}


def _encode(checkpoint: str | os.PathLike, split: str, *, count: int, seed: int, data_root: str | None,
            progress: bool) -> tuple[np.ndarray, int]:
    import torch
    from tqdm import tqdm

    from .checkpoint import load_checkpoint_split, load_model

    model = load_model(checkpoint)
    data = load_checkpoint_split(checkpoint, split, data_root=data_root)
    total = len(data)
    index = torch.arange(total)
    if 0 < count < total:
        index = torch.randperm(total, generator=torch.Generator().manual_seed(seed))[:count].sort().values
    out = []
    with torch.no_grad():
        for i in tqdm(range(0, len(index), ENCODE_BATCH), desc=f"encode {split}", disable=not progress, leave=False):
            idx = index[i : i + ENCODE_BATCH]
            labels = data.labels[idx] if model.conditional else None
            out.append(model.encoder(data.float_batch(idx), labels)[0].float().numpy())
    means = np.concatenate(out) if out else np.zeros((0, model.config.latent_dim), np.float32)
    if not np.isfinite(means).all():
        raise ValueError(f"the encoder of {checkpoint} gives NaN or inf posterior means on the {split} "
                         f"images: the checkpoint is broken; retrain it or restore its {WEIGHTS}")
    return means, total


def fit_prior(checkpoint: str | os.PathLike, sampler: Sampler, *, seed: int = 0, count: int = 0,
              data_root: str | None = None, progress: bool = False) -> FittedPrior:
    """Fit ``sampler`` to the posterior means of ``checkpoint``'s training images (all, or a
    seeded subset of ``count``); returns the state with its record (not yet saved)."""
    from .checkpoint import load_configs

    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise ValueError(f"--seed must be a whole number in [0, {MAX_SEED}], got {seed!r}")
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f"--count must be a whole number >= 0 (0: every training image), got {count!r}")
    model_cfg, data_cfg, _ = load_configs(checkpoint)
    latents, total = encode_split(checkpoint, "train", count=count, seed=seed, data_root=data_root,
                                  progress=progress)
    state, facts = sampler.fit(latents, np.random.default_rng(seed))
    state.check(model_cfg.latent_dim, fix="the fit diverged: raise --reg-covar or use fewer --components")
    valid, _ = encode_split(checkpoint, "valid", count=VALID_COUNT, seed=seed, data_root=data_root)
    record = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "sampler": sampler.name,
        "options": sampler.options.to_dict(),
        "seed": seed,
        "covariance": state.covariance,
        "components": state.components,
        "latent_dim": state.latent_dim,
        "fitted_on": {
            "split": "train",
            "count": len(latents),
            "split_size": total,
            "dataset": data_cfg.dataset if data_cfg is not None else "unknown",
            "latents": "posterior means",
            "labels": "each image's own class; one prior for every class" if getattr(model_cfg, "num_classes", 0) else None,
            "checkpoint_sha256": sha256_file(Path(checkpoint) / WEIGHTS),
        },
        "fit": facts,
        "mean_log_density": _scores(state, latents, valid),
    }
    return FittedPrior(state, record)


def _scores(state: MixtureState, train: np.ndarray, valid: np.ndarray) -> dict[str, Any]:
    """Mean log-density (nats per latent) of the training and validation means, with N(0, I)'s."""
    def normal(z: np.ndarray) -> float:
        return float(np.mean(-0.5 * (z.astype(np.float64) ** 2).sum(1) - 0.5 * z.shape[1] * np.log(2 * np.pi)))

    out: dict[str, Any] = {"train": round(float(state.log_density(train).mean()), 4)}
    if len(valid):
        out.update(valid=round(float(state.log_density(valid).mean()), 4),
                   valid_count=len(valid), valid_under_normal=round(normal(valid), 4))
    return out


# ----------------------------------------------------------------------------- CLI


def build_parser() -> argparse.ArgumentParser:
    p = command_parser("python -m vaekit.train.fit_prior", __doc__)
    p.add_argument("checkpoint", help=f"checkpoint folder ({CONFIG} + {WEIGHTS})")
    p.add_argument("--sampler", choices=sampler_names(), default="gmm",
                   help="the density to fit (default: gmm); " + "; ".join(
                       f"{n}: {build_sampler(n, {}).doc}" for n in sampler_names()))
    p.add_argument("--seed", type=int, default=0, help="seeds the image subset and the fit's start (default: 0)")
    p.add_argument("--count", type=int, default=0,
                   help="fit on a seeded subset of this many training images (default 0: all)")
    p.add_argument("--data-root", default=None, help=f"override the data root in {CONFIG}")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads for encoding (0: all cores)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    group = p.add_argument_group("sampler options (each applies to the samplers that take it)")
    for name, f in option_fields().items():
        group.add_argument("--" + name.replace("_", "-"), dest=name, type=type(f.default), default=None,
                           help=f"{f.metadata['help']} (default: {f.default:g})")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.threads < 0:
        parser.error(f"--threads must be >= 0 (0: all cores), got {args.threads}")
    try:
        sampler = build_sampler(args.sampler, {k: getattr(args, k) for k in option_fields()})
    except ValueError as e:
        parser.error(str(e))
    return run(args.checkpoint, sampler, seed=args.seed, count=args.count, data_root=args.data_root,
               threads=args.threads, progress=not args.quiet)


def run(checkpoint: str | os.PathLike, sampler: Sampler, *, seed: int = 0, count: int = 0,
        data_root: str | None = None, threads: int = 0, progress: bool = True) -> int:
    """Fit, save and print one line about it; errors are one line on stderr (exit 2)."""
    from .data import DatasetNotFoundError

    if threads:
        import torch

        torch.set_num_threads(threads)
    try:
        fitted = fit_prior(checkpoint, sampler, seed=seed, count=count, data_root=data_root, progress=progress)
        path = fitted.save(checkpoint)
    except (DatasetNotFoundError, FileNotFoundError, ValueError) as e:
        print(f"error: {str(e).splitlines()[0]}", file=sys.stderr)
        return 2
    r = fitted.record
    scores = r["mean_log_density"]
    valid = (f"; validation means {scores['valid']:.2f} nats/latent (N(0, I): {scores['valid_under_normal']:.2f})"
             if "valid" in scores else "")
    print(f"{path}: {r['sampler']} ({r['components']} x {r['covariance']}) fitted on "
          f"{r['fitted_on']['count']} training means{valid}; ship it with `python -m vaekit.export {checkpoint}`")
    return 0


__all__ = ["encode_split", "fit_prior", "main", "prior_path", "run"]

if __name__ == "__main__":
    sys.exit(main())
