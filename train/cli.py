"""Train a VAE:  python -m vaekit.train --dataset mnist --latent-dim 2 --epochs 20 --out runs/mnist-z2

Every field of the model, data and training configs is a flag (``--dim-mults 1 2``);
unknown flags are errors. Model flags left unset take the dataset's preset, then the
config's default. Each ``--model`` adds its own flags (``--model iwae --help`` lists ``--k``).
"""

from __future__ import annotations

import argparse
import os
import sys
import types
import typing
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

from vaekit.format import METRICS
from vaekit.format.cli import OneLineParser

from .blocks import NORMS
from .config import PRESETS, DataConfig, TrainConfig, VAEConfig
from .device import resolve_device
from .limits import check_memory, check_threads, images_per_step
from .objective import LIKELIHOODS
from .registry import MODELS, model_names
from .samplers import sampler_names
from .schedule import LR_SCHEDULES

# every choice list is read from its registry
CHOICES = {
    "norm": tuple(NORMS),
    "likelihood": tuple(sorted(LIKELIHOODS)),
    "dataset": PRESETS.keys(),  # a live view: a dataset registered later is a choice too
    "lr_schedule": tuple(LR_SCHEDULES),
}
HELP = {
    "dim": "base channel count (stage i has dim * dim_mults[i])",
    "dim_mults": "channel multiplier per stage; each stage halves the image (28x28: 2 stages)",
    "blocks_per_stage": "ConvBlocks per encoder/decoder stage",
    "bottleneck_blocks": "ResidualBlocks at the bottleneck, on each side",
    "latent_dim": "size of the latent vector z",
    "likelihood": "bernoulli (binarised pixels), logistic (discretised, 256 bins) or logistic_ar "
                  "(logistic with each colour channel shifted by the earlier ones, PixelCNN++; 2+ channels)",
    "data_root": "folder holding MNIST/, FashionMNIST/ or celeba/ (default: ../shared/data beside "
                 "the checkout when present, else ./data; only a root given here is recorded)",
    "download": "download the dataset with torchvision if it is missing (needs internet)",
    "val_size": "validation images held out from the training set (MNIST-like datasets)",
    "crop_fraction": "CelebA: centre-crop width as a fraction of the image width",
    "limit": "train on the first N images only (0: all)",
    "out": f"run folder: checkpoint, {METRICS}, metrics.csv",
    "kl_warmup_steps": "linearly warm the KL weight up from 0 over this many steps",
    "device": "auto (CUDA when present), cpu, cuda, cuda:1, ...",
    "resume": "continue the run in --out from its last finished epoch",
    "max_steps": "stop after this many optimiser steps in total (0: no limit)",
    "overwrite": "replace the checkpoint already in --out (without it, a folder holding one is refused)",
    "compile": "torch.compile the encoder and decoder (CUDA: worth it for long runs)",
    "lr_schedule": "learning rate over the run: constant, or cosine/linear decay to "
                   "--final-lr-fraction of --lr by the last step (--epochs or --max-steps)",
    "lr_warmup_steps": "linearly warm the learning rate up from 0 over this many steps",
    "final_lr_fraction": "where a decaying --lr-schedule ends, as a fraction of --lr",
    "init_from": "start from the weights of this checkpoint folder (same model options; a "
                 "fresh optimiser and history): fine-tune or continue a shipped model",
    "log_every": "steps between reading the logged terms back to the host (and the NaN check)",
}


def _base_type(tp: Any) -> Any:
    """``int | None`` -> ``int``; other types unchanged."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return next(a for a in typing.get_args(tp) if a is not type(None))
    return tp


def _add_fields(group: argparse._ArgumentGroup, cls: type, *, defaults_none: bool) -> None:
    hints = typing.get_type_hints(cls)  # resolves the string annotations of `from __future__`
    for f in fields(cls):
        flag = "--" + f.name.replace("_", "-")
        tp = _base_type(hints[f.name])
        default = None if defaults_none else (
            f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]
        )
        text = f.metadata.get("help") or HELP.get(f.name, "")  # a variant's own flags carry theirs
        shown = _shown_default(f) if defaults_none else f.default
        if f.name in getattr(cls, "derived", ()):  # computed by the config, no preset applies
            shown = ""
        if shown not in ("", MISSING):
            text = f"{text} (default: {shown})".strip()
        kw: dict[str, Any] = {"dest": f.name, "default": default, "help": text}
        if tp is bool:
            group.add_argument(flag, action="store_true", **{**kw, "default": default or False})
            continue
        if typing.get_origin(tp) is tuple:
            kw.update(nargs="+", type=int)
        else:
            kw["type"] = tp
        if f.name in CHOICES:
            kw["choices"] = CHOICES[f.name]
        group.add_argument(flag, **kw)


def _shown_default(f: Any) -> str:
    """A model flag's default as --help shows it: the dataset presets' values where they set it.

    ``--dim`` -> ``16 for the mnist/fashion-mnist/celeba presets``; ``--latent-dim`` ->
    ``2 for mnist, 16 for fashion-mnist, ...``; a key no preset sets shows the class default.
    """
    by_value: dict[str, list[str]] = {}
    for dataset, preset in PRESETS.items():
        if f.name in preset:
            value = preset[f.name]
            value = " ".join(map(str, value)) if isinstance(value, (tuple, list)) else str(value)
            by_value.setdefault(value, []).append(dataset)
    own = f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]
    own = " ".join(map(str, own)) if isinstance(own, (tuple, list)) else own
    if not by_value:
        return str(own)
    parts = [f"{value} for {'/'.join(names)}" for value, names in by_value.items()]
    rest = [d for d in PRESETS if f.name not in PRESETS[d]]
    if rest:
        parts.append(f"{own} for {'/'.join(rest)}")
    return ", ".join(parts) + (" presets" if len(parts) == 1 else "")


def build_parser(model_cls: type[VAEConfig]) -> argparse.ArgumentParser:
    p = OneLineParser(
        prog="python -m vaekit.train", description=__doc__, allow_abbrev=False,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", choices=model_names(), default="vae",
                   help="VAE variant (default: vae); --model NAME --help lists its own flags")
    p.add_argument("--threads", type=int, default=0,
                   help="torch CPU threads, at most the CPUs this process may use (0: all of them)")
    p.add_argument("--fit-prior", nargs="+", default=[], metavar="SAMPLER", choices=sampler_names(),
                   help=f"after training, fit these ex-post priors ({', '.join(sampler_names())}) to the "
                        f"training posteriors, with their default options and seed 0: the same as "
                        f"`python -m vaekit.train.fit_prior OUT --sampler SAMPLER` for each")
    _add_fields(p.add_argument_group("model"), model_cls, defaults_none=True)
    _add_fields(p.add_argument_group("data"), DataConfig, defaults_none=False)
    _add_fields(p.add_argument_group("training"), TrainConfig, defaults_none=False)
    return p


def parse(argv: list[str] | None) -> tuple[VAEConfig, DataConfig, TrainConfig, argparse.Namespace]:
    pre = OneLineParser(prog="python -m vaekit.train", add_help=False, allow_abbrev=False)
    pre.add_argument("--model", choices=model_names(), default="vae")
    known, _ = pre.parse_known_args(argv)
    model_cls = MODELS[known.model].config_class
    parser = build_parser(model_cls)
    args = parser.parse_args(argv)  # unknown flags are errors here

    def pick(cls: type) -> dict[str, Any]:
        return {f.name: getattr(args, f.name) for f in fields(cls)}

    given = {k: v for k, v in pick(model_cls).items() if v is not None}
    try:
        data = DataConfig(**pick(DataConfig))
        train = TrainConfig(**pick(TrainConfig))
        _check_image_options(data.dataset, given)
        model = model_cls(**{**preset_for(model_cls, data.dataset), **given})
        check_threads(args.threads)
        device = str(resolve_device(train.device))
        check_step_memory(model, train, device)
    except ValueError as e:
        parser.error(str(e))
    return model, data, train, args


def preset_for(model_cls: type[VAEConfig], dataset: str) -> dict[str, Any]:
    """The dataset's preset without the keys ``model_cls`` derives itself (hvae: latent_dim)."""
    derived = getattr(model_cls, "derived", ())
    return {k: v for k, v in PRESETS[dataset].items() if k not in derived}


def _check_image_options(dataset: str, given: dict[str, Any]) -> None:
    """The dataset fixes the image shape: ``--image-size 32`` for MNIST is refused up front."""
    preset = PRESETS[dataset]
    for key in ("in_channels", "image_size"):
        if key in given and given[key] != preset[key]:
            flag = "--" + key.replace("_", "-")
            raise ValueError(
                f"{flag} {given[key]} does not match {dataset}, whose images are "
                f"{preset['in_channels']}x{preset['image_size']}x{preset['image_size']}: "
                f"drop {flag} (or pass {flag} {preset[key]})"
            )


def check_step_memory(model: VAEConfig, train: TrainConfig, device: str) -> None:
    """Refuse a batch (times IWAE's ``k``) whose activations alone exceed the free memory of
    ``device`` (resolved: ``cpu``, ``cuda:1``, ...)."""
    k = getattr(model, "k", 1)
    components = getattr(model, "components", 0)
    what = (f"--batch-size {train.batch_size}" + (f" x --k {k}" if k > 1 else "")
            + (f" + --components {components}" if components else ""))
    fix = "lower " + " or ".join(f for f, v in (("--k", k > 1), ("--components", components),
                                                ("--batch-size", True)) if v)
    check_memory(images_per_step(model, train.batch_size), model, device, what=what, fix=fix)
    check_memory(train.eval_batch_size, model, device, what=f"--eval-batch-size {train.eval_batch_size}",
                 fix="lower --eval-batch-size", training=False)


def main(argv: list[str] | None = None) -> int:
    model, data, train_cfg, args = parse(argv)
    out = train_cfg.out
    try:
        code = _run(model, data, train_cfg, args.threads)
        if code == 0 and args.fit_prior and os.environ.get("RANK", "0") == "0":
            code = _fit_priors(out, args.fit_prior)
        return code
    except KeyboardInterrupt:
        from .runfolder import saved_state

        print(f"\ninterrupted: {saved_state(Path(out))}", file=sys.stderr)
        return 130


def _fit_priors(out: str, names: list[str]) -> int:
    """Fit each named sampler to the finished run (one line each; 2 if one fails)."""
    from .fit_prior import run
    from .samplers import build_sampler

    codes = [run(out, build_sampler(name, {}), progress=False) for name in dict.fromkeys(names)]
    return max(codes)


def _run(model: VAEConfig, data: DataConfig, train_cfg: TrainConfig, threads: int) -> int:
    import torch

    from .data import DatasetNotFoundError
    from .loop import train
    from .runfolder import saved_state

    out = train_cfg.out
    if threads:
        torch.set_num_threads(threads)
    try:
        train(model, data, train_cfg)
    except (DatasetNotFoundError, ValueError) as e:  # RunFolderError, CheckpointError, config checks
        print(f"error: {e}", file=sys.stderr)
        return 2
    except FloatingPointError as e:
        print(f"error: training diverged: {e}", file=sys.stderr)
        return 1
    except torch.OutOfMemoryError:
        print(f"error: out of memory (--batch-size {train_cfg.batch_size}, --eval-batch-size "
              f"{train_cfg.eval_batch_size}): continue with --resume and a lower --eval-batch-size "
              f"if it ran out while validating, else start a new run with a lower --batch-size "
              f"({saved_state(Path(out))})", file=sys.stderr)
        return 1
    except OSError as e:  # disk full, folder removed or made read-only mid-run
        print(f"error: cannot write the run in {out} ({e.strerror or e}"
              f"{f': {e.filename}' if e.filename else ''}): fix that; {saved_state(Path(out))}",
              file=sys.stderr)
        return 1
    if os.environ.get("RANK", "0") == "0":  # under torchrun, rank 0 speaks for the run
        print(f"checkpoint: {out}  (evaluate: python -m vaekit.train.evaluate {out})")
    return 0

