"""The training loop: one loop for every registered variant.

Randomness is a pure function of ``(seed, epoch)``: each epoch reseeds its shuffling,
binarisation and reparameterisation noise, so a run resumed after epoch ``e`` follows the
same path as an uninterrupted one. The checkpoint folder is rewritten (atomically, file by
file) after every epoch.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import time
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from .checkpoint import (
    RESUME,
    atomic_write_text,
    load_resume,
    read_config,
    save_checkpoint,
)
from .config import DataConfig, TrainConfig, VAEConfig
from .data import batches, binarize, load_split
from .evaluate import evaluate_elbo
from .model import VAE, build_model, count_parameters


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {name} asked for CUDA, but torch sees no GPU; use --device cpu")
    return torch.device(name)


def epoch_seed(seed: int, epoch: int) -> int:
    return seed * 100_003 + epoch


class RunFolderError(ValueError):
    pass


def _check_run_folder(out: Path, model_config: VAEConfig, resume: bool) -> dict[str, Any] | None:
    """The resume state to continue from, or None; refuses to overwrite an existing run."""
    has_run = (out / RESUME).is_file()
    if not resume:
        if has_run:
            raise RunFolderError(
                f"{out} already holds a training run: pass --resume to continue it, "
                f"or choose another --out (nothing was overwritten)"
            )
        return None
    if not has_run:
        print(f"--resume: no {RESUME} in {out} yet, starting from scratch")
        return None
    saved = read_config(out)["model"]
    if saved != model_config.to_dict():
        raise RunFolderError(
            f"--resume: the model config in {out}/config.json differs from this command's "
            f"({saved} vs {model_config.to_dict()}); resume with the same options or another --out"
        )
    return load_resume(out)


def _write_csv(path: Path, history: list[dict[str, Any]]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(history[0]))
    writer.writeheader()
    writer.writerows(history)
    atomic_write_text(path, buf.getvalue())


def train(
    model_config: VAEConfig, data_config: DataConfig, train_config: TrainConfig, *,
    progress: bool = True,
) -> tuple[VAE, list[dict[str, Any]]]:
    """Train (or resume) and return the model and its per-epoch history."""
    cfg = train_config
    out = Path(cfg.out)
    device = resolve_device(cfg.device)
    state = _check_run_folder(out, model_config, cfg.resume)

    train_data = load_split(data_config, "train")
    valid_data = load_split(data_config, "valid")
    expected = (model_config.in_channels, model_config.image_size, model_config.image_size)
    if tuple(train_data.images.shape[1:]) != expected:
        raise ValueError(
            f"{data_config.dataset} images are {tuple(train_data.images.shape[1:])} but the model "
            f"expects {expected}: set --in-channels/--image-size to match the data"
        )

    torch.manual_seed(cfg.seed)
    model = build_model(model_config).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    start_epoch, step, history = 0, 0, []
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        start_epoch, step, history = state["epoch"], state["step"], list(state["history"])
        torch.set_rng_state(state["rng"])
        print(f"resumed {out} at epoch {start_epoch}, step {step}")

    amp = (
        torch.autocast("cuda", dtype=torch.bfloat16)
        if device.type == "cuda" else contextlib.nullcontext()
    )
    steps_per_epoch = math.ceil(len(train_data) / cfg.batch_size)
    n_params = count_parameters(model)
    if progress:
        print(f"{type(model).__name__}: {n_params:,} parameters | {len(train_data):,} train, "
              f"{len(valid_data):,} valid images | device {device}")

    for epoch in range(start_epoch, cfg.epochs):
        if cfg.max_steps and step >= cfg.max_steps:
            break
        g = torch.Generator().manual_seed(epoch_seed(cfg.seed, epoch))
        torch.manual_seed(epoch_seed(cfg.seed, epoch) + 1)
        model.train()
        t0, seen, sums = time.perf_counter(), 0, {"loss": 0.0, "elbo": 0.0, "kl": 0.0}
        bar = tqdm(batches(train_data, cfg.batch_size, shuffle=True, generator=g),
                   total=steps_per_epoch, desc=f"epoch {epoch + 1}/{cfg.epochs}",
                   disable=not progress, dynamic_ncols=True)
        for x, _ in bar:
            if model.likelihood.binary:
                x = binarize(x, g)
            x = x.to(device, non_blocking=True)
            with amp:
                terms = model(x, kl_weight=model.kl_weight(step, cfg.kl_warmup_steps))
            if not torch.isfinite(terms["loss"]):
                raise FloatingPointError(
                    f"loss became {terms['loss'].item()} at step {step}: lower --lr "
                    f"(now {cfg.lr}) or --grad-clip (now {cfg.grad_clip})"
                )
            opt.zero_grad(set_to_none=True)
            terms["loss"].backward()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            step += 1
            seen += len(x)
            for k in sums:
                sums[k] += terms[k].item() * len(x)
            bar.set_postfix(loss=f"{sums['loss'] / seen:.4f}", kl=f"{sums['kl'] / seen:.4f}")
            if cfg.max_steps and step >= cfg.max_steps:
                break
        bar.close()
        train_seconds = time.perf_counter() - t0
        val = evaluate_elbo(model, valid_data, batch_size=cfg.eval_batch_size, seed=cfg.seed,
                            device=str(device))
        row = {
            "epoch": epoch + 1,
            "step": step,
            "train_loss_per_dim": sums["loss"] / max(seen, 1),
            "train_elbo_per_dim": sums["elbo"] / max(seen, 1),
            "valid_elbo_nats": val["elbo_nats"],
            "valid_bits_per_dim": val["bits_per_dim"],
            "valid_kl_nats": val["kl_nats"],
            "epoch_seconds": round(train_seconds, 2),
            "images_per_second": round(seen / train_seconds, 1),
        }
        history.append(row)
        if progress:
            print(f"epoch {epoch + 1}: valid ELBO {val['elbo_nats']:.2f} nats/image "
                  f"({val['bits_per_dim']:.4f} bits/dim), {row['images_per_second']:.0f} img/s")
        metrics = {
            "parameters": n_params,
            "train_images": len(train_data),
            "epochs": epoch + 1,
            "steps": step,
            "train_seconds": round(sum(r["epoch_seconds"] for r in history), 1),
            "device": str(device),
            "history": history,
        }
        resume = {
            "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "optimizer": opt.state_dict(),
            "epoch": epoch + 1,
            "step": step,
            "rng": torch.get_rng_state(),
            "history": history,
        }
        save_checkpoint(out, model, data=data_config, train=cfg, metrics=metrics, resume=resume)
        _write_csv(out / "metrics.csv", history)
    return model, history
