"""The training loop: one loop for every registered variant, on one process or many.

Randomness is a pure function of ``(seed, epoch)``: each epoch reseeds its shuffling,
binarisation and reparameterisation noise, so a run resumed after epoch ``e`` follows the
same path as an uninterrupted one.

The loop feeds the device without waiting on the host: the training images stay resident on
the training device as uint8 (:class:`~vaekit.train.feed.DeviceFeed`), batches are gathered,
binarised and converted there, and the logged terms are summed on the device and read back
only every ``log_every`` steps (which is also where a non-finite loss is caught). On CUDA it
trains under bf16 autocast in channels-last layout with a fused AdamW; ``compile=True`` compiles
the encoder and decoder in place.

Stabilisers every model gets: gradient-norm clipping (``grad_clip``); with ``skip_threshold`` an
update whose gradient norm is above it or not finite is skipped and counted (VDVAE), at the
cost of one host read of the norm per step; with ``ema`` an exponential moving average of the
weights is kept (its decay held lower over the first steps: :func:`~.schedule.ema_decay`),
validated, saved as the checkpoint's weights (so exported) and resumed exactly.

Started by ``torchrun --nproc-per-node N -m vaekit.train ...``, it trains data-parallel with
DistributedDataParallel (NCCL on GPUs, gloo on CPU): each rank takes its share of every global
batch of ``batch_size`` images, and rank 0 alone validates and writes the checkpoint.
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm
from vaekit.format import CONFIG, RESUME, image_shape

from .checkpoint import CheckpointError, save_checkpoint, state_mismatch
from .config import DataConfig, TrainConfig, VAEConfig
from .data import load_split
from .device import resolve_device
from .distributed import Distributed
from .evaluate import evaluate_elbo
from .feed import DeviceFeed
from .model import VAE, count_parameters
from .objective import kl_warmup
from .registry import build_model
from .runfolder import RunFolderError, initial_weights, prepare_run, saved_state  # noqa: F401  (RunFolderError: re-exported)
from .schedule import ema_decay, lr_factor


def epoch_seed(seed: int, epoch: int) -> int:
    return seed * 100_003 + epoch


class _Setup:
    """Model, optimiser and execution options for one run (built once, before epoch 1)."""

    def __init__(self, model_config: VAEConfig, cfg: TrainConfig, device: torch.device,
                 dist: Distributed):
        torch.manual_seed(cfg.seed)
        self.model: VAE = build_model(model_config).to(device)
        self.cuda = device.type == "cuda"
        if self.cuda:
            self.model = self.model.to(memory_format=torch.channels_last)
        # the average of the weights, made before any compile (a plain module): what is validated,
        # saved and exported when --ema is on
        self.ema = copy.deepcopy(self.model).requires_grad_(False) if cfg.ema else None
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=cfg.lr,
                                     weight_decay=cfg.weight_decay, fused=self.cuda or None)
        if cfg.compile:
            self.model.encoder.compile()
            self.model.decoder.compile()
        # what the step calls: the DDP wrapper when distributed, else the model itself
        self.step_module = dist.wrap(self.model, device)
        self.amp = (torch.autocast("cuda", dtype=torch.bfloat16) if self.cuda
                    else contextlib.nullcontext())

    @property
    def kept(self) -> VAE:
        """The weights a run validates, saves and exports: the EMA when it is on."""
        return self.model if self.ema is None else self.ema

    @torch.no_grad()
    def update_ema(self, decay: float) -> None:
        if self.ema is None:
            return
        for e, p in zip(self.ema.parameters(), self.model.parameters()):
            e.lerp_(p, 1.0 - decay)
        for e, b in zip(self.ema.buffers(), self.model.buffers()):
            e.copy_(b)

    def restore(self, state: dict[str, Any], out: Path) -> tuple[int, int, list[dict[str, Any]]]:
        """Continue from ``out``'s resume state; one that does not fit this model is a
        :class:`CheckpointError` naming the fix (not torch's size-mismatch listing)."""
        problem = state_mismatch(self.model.state_dict(), state["model"])
        if problem:
            raise CheckpointError(
                f"{out / RESUME} holds the weights of another model ({problem}), not of the run "
                f"its {CONFIG} describes: restore this run's {RESUME}, or start over with "
                f"--overwrite (nothing was changed)")
        try:
            self.model.load_state_dict(state["model"])
            if self.ema is not None:  # a run that started without --ema averages from here on
                self.ema.load_state_dict(state.get("ema", state["model"]))
            self.opt.load_state_dict(state["optimizer"])
            torch.set_rng_state(state["rng"])
            return int(state["epoch"]), int(state["step"]), list(state["history"])
        except (RuntimeError, ValueError, TypeError, KeyError) as e:
            raise CheckpointError(
                f"{out / RESUME} is damaged: {(str(e).splitlines() or [type(e).__name__])[0][:200]}; "
                f"restore it from a backup, or start over with --overwrite") from e


def run_steps(cfg: TrainConfig, steps_per_epoch: int) -> int:
    """The run's length in optimiser steps: the horizon a decaying lr schedule ends on."""
    total = cfg.epochs * steps_per_epoch
    return min(total, cfg.max_steps) if cfg.max_steps else total


def _set_lr(opt: torch.optim.Optimizer, cfg: TrainConfig, step: int, total_steps: int) -> None:
    lr = cfg.lr * lr_factor(step, schedule=cfg.lr_schedule, total_steps=total_steps,
                            warmup_steps=cfg.lr_warmup_steps,
                            final_fraction=cfg.final_lr_fraction)
    for group in opt.param_groups:
        group["lr"] = lr


def _apply_update(s: _Setup, cfg: TrainConfig, step: int) -> bool:
    """Clip, then step the optimiser (and the EMA) unless the update is to be skipped.

    Returns whether it stepped. With ``skip_threshold`` > 0 the gradient norm (before clipping)
    is read back: a norm above it, or not finite, skips the update.
    """
    params = s.model.parameters()
    if cfg.skip_threshold > 0:
        norm = torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip or math.inf)
        n = float(norm)
        if not (math.isfinite(n) and n <= cfg.skip_threshold):
            s.opt.zero_grad(set_to_none=True)
            return False
    elif cfg.grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
    s.opt.step()
    s.update_ema(ema_decay(step, cfg.ema))
    return True


def _train_epoch(s: _Setup, feed: DeviceFeed, cfg: TrainConfig, epoch: int, step: int,
                 dist: Distributed, progress: bool
                 ) -> tuple[int, dict[str, float], int, float, int]:
    """One epoch; returns ``(step, mean logged terms, images seen by all ranks, seconds,
    skipped updates)``. ``step`` counts batches, skipped ones included."""
    s.model.train()
    gen_seed = epoch_seed(cfg.seed, epoch)
    torch.manual_seed(gen_seed + 1 + dist.rank)  # reparameterisation noise: per rank
    batches = feed.epoch(cfg.batch_size, seed=gen_seed, rank=dist.rank, world=dist.world)
    steps = feed.steps_per_epoch(cfg.batch_size, dist.world)
    total_steps = run_steps(cfg, steps)
    if cfg.max_steps:
        steps = min(steps, cfg.max_steps - step)
    sums: torch.Tensor | None = None
    keys: list[str] = []
    acc = torch.float32 if feed.device.type == "mps" else torch.float64  # MPS has no float64
    seen = 0  # images this rank trained on: a host count, no kernel per step
    skipped = window_skips = 0
    t0 = time.perf_counter()
    bar = tqdm(total=steps, desc=f"epoch {epoch + 1}/{cfg.epochs}", dynamic_ncols=True,
               disable=not (progress and dist.is_main))
    for i, (x, y) in enumerate(batches):
        if i >= steps:
            break
        with s.amp:
            terms = s.step_module(x, y, kl_scale=kl_warmup(step, cfg.kl_warmup_steps))
        s.opt.zero_grad(set_to_none=True)
        terms["loss"].backward()
        _set_lr(s.opt, cfg, step, total_steps)
        stepped = _apply_update(s, cfg, step)
        step += 1
        bar.update()
        if not stepped:
            skipped += 1
            window_skips += 1
            if window_skips == cfg.log_every:
                raise FloatingPointError(
                    f"the {cfg.log_every} updates up to step {step} were all skipped (gradient "
                    f"norm above --skip-threshold {cfg.skip_threshold} or not finite): lower --lr "
                    f"(now {cfg.lr}) or raise --skip-threshold; the last finished epoch is saved "
                    f"in {cfg.out}")
            continue
        window_skips = 0
        if sums is None:
            keys = list(terms)
            sums = torch.zeros(len(keys), dtype=acc, device=feed.device)
        sums += torch.stack([terms[k].detach().to(acc) for k in keys]) * len(x)
        seen += len(x)
        if (i + 1) % cfg.log_every == 0 or i + 1 == steps:
            _check_finite(sums, keys, step, cfg)  # the one host sync every log_every steps
            bar.set_postfix({k: f"{v:.4f}" for k, v in zip(keys, (sums / max(seen, 1)).tolist())
                             if k in ("loss", "kl")})
    bar.close()
    if sums is None:
        return step, {}, 0, time.perf_counter() - t0, skipped
    totals = dist.all_reduce_sum(torch.cat([sums, sums.new_tensor([seen, skipped])]))
    if s.cuda:
        torch.cuda.synchronize(feed.device)
    seconds = time.perf_counter() - t0
    n = float(totals[-2])
    return (step, {k: float(v) / n for k, v in zip(keys, totals[:-2])}, int(n), seconds,
            int(totals[-1]) // dist.world)


def _check_finite(sums: torch.Tensor, keys: list[str], step: int, cfg: TrainConfig) -> None:
    if not bool(torch.isfinite(sums).all()):
        bad = [k for k, v in zip(keys, sums.tolist()) if not math.isfinite(v)]
        clip = (f"--grad-clip (now {cfg.grad_clip:g})" if cfg.grad_clip
                else "set --grad-clip (now 0: no clipping; e.g. --grad-clip 100)")
        raise FloatingPointError(
            f"{', '.join(bad)} became non-finite within the {cfg.log_every} steps up to step "
            f"{step}: lower --lr (now {cfg.lr}) or {clip}; {saved_state(Path(cfg.out))}"
        )


def train(
    model_config: VAEConfig, data_config: DataConfig, train_config: TrainConfig, *,
    progress: bool = True,
) -> tuple[VAE, list[dict[str, Any]]]:
    """Train (or resume); return the (unwrapped) model and its per-epoch history.

    With ``ema`` the model returned is the averaged one (what was validated and saved)."""
    cfg = train_config
    out = Path(cfg.out)
    with Distributed.from_env(cfg.device) as dist:
        device = resolve_device(cfg.device, local_rank=dist.local_rank if dist.active else None)
        # --init-from starts a run; it is read before prepare_run, whose --overwrite may empty
        # the folder it names. A resumed run goes on from its own weights and never reads it.
        resuming = cfg.resume and (out / RESUME).is_file()
        init = (initial_weights(cfg.init_from, model_config)
                if cfg.init_from and not resuming else None)
        state = prepare_run(out, model_config, data_config, cfg, writer=dist.is_main)

        train_data = load_split(data_config, "train")
        valid_data = load_split(data_config, "valid")
        expected = image_shape(model_config)
        if tuple(train_data.images.shape[1:]) != expected:
            raise ValueError(
                f"{data_config.dataset} images are {tuple(train_data.images.shape[1:])} but the "
                f"model expects {expected}: set --in-channels/--image-size to match the data"
            )
        s = _Setup(model_config, cfg, device, dist)
        if init is not None:
            s.model.load_state_dict(init)
            if progress and dist.is_main:
                print(f"starting from the weights of {cfg.init_from}")
        s.model.check_labels(train_data.labels, train_data.classes)  # once, not per step
        feed = DeviceFeed(train_data, device, binary=s.model.likelihood.binary,
                          channels_last=s.cuda)
        start_epoch, step, history = 0, 0, []
        if state is not None:
            start_epoch, step, history = s.restore(state, out)
            if dist.is_main:
                print(f"resumed {out} at epoch {start_epoch}, step {step}")
        n_params = count_parameters(s.model)
        if progress and dist.is_main:
            print(f"{type(s.model).__name__}: {n_params:,} parameters | {len(train_data):,} "
                  f"train, {len(valid_data):,} valid images | device {device}"
                  + (f" x {dist.world} processes ({dist.backend})" if dist.active else "")
                  + (" | bf16 autocast, channels-last" if s.cuda else "")
                  + (" | compiled" if cfg.compile else ""))

        for epoch in range(start_epoch, cfg.epochs):
            if cfg.max_steps and step >= cfg.max_steps:
                break
            step, means, seen, seconds, skipped = _train_epoch(s, feed, cfg, epoch, step, dist,
                                                               progress)
            if dist.is_main:
                row = _epoch_row(s.kept, valid_data, cfg, device, epoch, step, means, seen,
                                 seconds, skipped)
                history.append(row)
                if progress:
                    print(f"epoch {epoch + 1}: valid ELBO {row['valid_elbo_nats']:.2f} nats/image "
                          f"({row['valid_bits_per_dim']:.4f} bits/dim), "
                          f"{row['images_per_second']:.0f} img/s"
                          + (f", {skipped} updates skipped" if skipped else ""))
                _save(s, out, data_config, cfg, history, n_params, len(train_data), device,
                      dist, epoch, step)
            dist.barrier()
        return s.kept, history


def _epoch_row(model: VAE, valid_data, cfg: TrainConfig, device: torch.device, epoch: int,
               step: int, means: dict[str, float], seen: int, seconds: float, skipped: int
               ) -> dict[str, Any]:
    val = evaluate_elbo(model, valid_data, batch_size=cfg.eval_batch_size, seed=cfg.seed,
                        device=str(device))
    return {
        "epoch": epoch + 1,
        "step": step,
        **{f"train_{k}_per_dim": v for k, v in means.items()},
        "valid_elbo_nats": val["elbo_nats"],
        "valid_bits_per_dim": val["bits_per_dim"],
        "valid_kl_nats": val["kl_nats"],
        "epoch_seconds": round(seconds, 2),
        "images_per_second": round(seen / max(seconds, 1e-9), 1),
        "skipped_steps": skipped,
    }


def _save(s: _Setup, out: Path, data_config: DataConfig, cfg: TrainConfig,
          history: list[dict[str, Any]], n_params: int, n_train: int, device: torch.device,
          dist: Distributed, epoch: int, step: int) -> None:
    metrics = {
        "parameters": n_params,
        "train_images": n_train,
        "epochs": epoch + 1,
        "steps": step,
        "train_seconds": round(sum(r["epoch_seconds"] for r in history), 1),
        "device": dist.describe(device),
        "skipped_steps": sum(r.get("skipped_steps", 0) for r in history),
        "ema": cfg.ema,
        "history": history,
    }
    resume = {
        "model": {k: v.detach().cpu() for k, v in s.model.state_dict().items()},
        "optimizer": s.opt.state_dict(),
        "epoch": epoch + 1,
        "step": step,
        "rng": torch.get_rng_state(),
        "history": history,
    }
    if s.ema is not None:
        resume["ema"] = {k: v.detach().cpu() for k, v in s.ema.state_dict().items()}
    save_checkpoint(out, s.kept, data=data_config, train=cfg, metrics=metrics, resume=resume)
