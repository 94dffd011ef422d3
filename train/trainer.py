"""One run's model, optimiser and step: what ``python -m vaekit.train`` runs and benchmarks time.

:class:`Trainer` builds the model and its AdamW exactly as the training command does (bf16
autocast, channels-last and a fused AdamW on CUDA; ``compile=True`` compiles the encoder and
decoder in place). Its public step API:

* :meth:`Trainer.train_step` takes one batch ``x [N, C, H, W]`` (``y [N]``) through forward,
  backward, the learning-rate schedule, gradient clipping and the optimiser. The stabilisers
  plug in here: with ``skip_threshold`` an update whose gradient norm is above it (or not
  finite) is skipped; with ``ema`` the moving average of the weights follows every update.
* :meth:`Trainer.run_epoch` runs one seeded epoch of :meth:`train_step` from a
  :class:`~vaekit.train.feed.DeviceFeed`, sums the logged terms on the device and reads them
  back every ``log_every`` steps (the non-finite check), and returns an :class:`EpochStats`.

Randomness is a pure function of ``(seed, epoch)`` (:func:`epoch_seed`), so a run resumed
after epoch ``e`` follows the same path as an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm
from vaekit.format import CONFIG, RESUME

from .checkpoint import CheckpointError, state_mismatch
from .config import TrainConfig, VAEConfig
from .distributed import Distributed
from .feed import DeviceFeed
from .model import VAE
from .objective import kl_warmup
from .registry import build_model
from .runfolder import saved_state
from .schedule import ema_decay, lr_factor


def epoch_seed(seed: int, epoch: int) -> int:
    return seed * 100_003 + epoch


def run_steps(cfg: TrainConfig, steps_per_epoch: int) -> int:
    """The run's length in optimiser steps: the horizon a decaying lr schedule ends on."""
    total = cfg.epochs * steps_per_epoch
    return min(total, cfg.max_steps) if cfg.max_steps else total


@dataclass(frozen=True)
class EpochStats:
    """What one :meth:`Trainer.run_epoch` did, summed over every rank."""

    #: the global step after the epoch (it counts batches, skipped updates included)
    step: int
    #: mean of each logged term (``loss``, ``elbo``, ...) over the images trained on
    means: dict[str, float]
    #: images the updates that were applied trained on
    images: int
    seconds: float
    #: updates skipped by ``skip_threshold``
    skipped: int


class Trainer:
    """Model, optimiser and execution options for one run (built once, before epoch 1).

    ``device`` is resolved already (:func:`~vaekit.train.device.resolve_device`); ``dist``
    (default: a world of one) wraps the model in DistributedDataParallel under ``torchrun``.
    """

    def __init__(self, model_config: VAEConfig, cfg: TrainConfig, *, device: torch.device,
                 dist: Distributed | None = None):
        self.cfg = cfg
        self.dist = dist or Distributed()
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
        self.step_module = self.dist.wrap(self.model, device)
        self.amp = (torch.autocast("cuda", dtype=torch.bfloat16) if self.cuda
                    else contextlib.nullcontext())

    @property
    def kept(self) -> VAE:
        """The weights a run validates, saves and exports: the EMA when it is on."""
        return self.model if self.ema is None else self.ema

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

    # --- the step ------------------------------------------------------------------------

    def train_step(self, x: torch.Tensor, y: torch.Tensor, *, step: int, total_steps: int
                   ) -> dict[str, torch.Tensor] | None:
        """One optimiser step on ``x [N, C, H, W]`` (targets, on the device) and ``y [N]``.

        ``step`` (0-based, global) sets the KL warm-up, the learning rate on a schedule ending
        at ``total_steps`` (:func:`run_steps`) and the EMA's decay. Returns the batch's terms
        (scalar device tensors, not read back), or None when ``skip_threshold`` skipped it.
        """
        cfg = self.cfg
        if not self.model.training:  # after a validation pass
            self.model.train()
        with self.amp:
            terms = self.step_module(x, y, kl_scale=kl_warmup(step, cfg.kl_warmup_steps))
        self.opt.zero_grad(set_to_none=True)
        terms["loss"].backward()
        lr = cfg.lr * lr_factor(step, schedule=cfg.lr_schedule, total_steps=total_steps,
                                warmup_steps=cfg.lr_warmup_steps,
                                final_fraction=cfg.final_lr_fraction)
        for group in self.opt.param_groups:
            group["lr"] = lr
        return terms if self._apply_update(step) else None

    def _apply_update(self, step: int) -> bool:
        """Clip, then step the optimiser (and the EMA) unless the update is to be skipped.

        Returns whether it stepped. With ``skip_threshold`` > 0 the gradient norm (before
        clipping) is read back: a norm above it, or not finite, skips the update.
        """
        cfg = self.cfg
        params = self.model.parameters()
        if cfg.skip_threshold > 0:
            norm = torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip or math.inf)
            n = float(norm)
            if not (math.isfinite(n) and n <= cfg.skip_threshold):
                self.opt.zero_grad(set_to_none=True)
                return False
        elif cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        self.opt.step()
        self._update_ema(ema_decay(step, cfg.ema))
        return True

    @torch.no_grad()
    def _update_ema(self, decay: float) -> None:
        if self.ema is None:
            return
        for e, p in zip(self.ema.parameters(), self.model.parameters()):
            e.lerp_(p, 1.0 - decay)
        for e, b in zip(self.ema.buffers(), self.model.buffers()):
            e.copy_(b)

    # --- the epoch -----------------------------------------------------------------------

    def run_epoch(self, feed: DeviceFeed, *, epoch: int, step: int, progress: bool = False
                  ) -> EpochStats:
        """Epoch ``epoch`` (0-based) from global step ``step``: at most ``cfg.max_steps`` in all.

        Raises ``FloatingPointError`` (naming the fix) when a logged term becomes non-finite
        or ``log_every`` updates in a row are skipped.
        """
        cfg, dist = self.cfg, self.dist
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
            terms = self.train_step(x, y, step=step, total_steps=total_steps)
            step += 1
            bar.update()
            if terms is None:
                skipped += 1
                window_skips += 1
                if window_skips == cfg.log_every:
                    raise FloatingPointError(
                        f"the {cfg.log_every} updates up to step {step} were all skipped (gradient "
                        f"norm above --skip-threshold {cfg.skip_threshold} or not finite): lower "
                        f"--lr (now {cfg.lr}) or raise --skip-threshold; the last finished epoch is "
                        f"saved in {cfg.out}")
                continue
            window_skips = 0
            if sums is None:
                keys = list(terms)
                sums = torch.zeros(len(keys), dtype=acc, device=feed.device)
            sums += torch.stack([terms[k].detach().to(acc) for k in keys]) * len(x)
            seen += len(x)
            if (i + 1) % cfg.log_every == 0 or i + 1 == steps:
                self._check_finite(sums, keys, step)  # the one host sync every log_every steps
                bar.set_postfix({k: f"{v:.4f}" for k, v in zip(keys, (sums / max(seen, 1)).tolist())
                                 if k in ("loss", "kl")})
        bar.close()
        if sums is None:
            return EpochStats(step, {}, 0, time.perf_counter() - t0, skipped)
        totals = dist.all_reduce_sum(torch.cat([sums, sums.new_tensor([seen, skipped])]))
        if self.cuda:
            torch.cuda.synchronize(feed.device)
        seconds = time.perf_counter() - t0
        n = float(totals[-2])
        return EpochStats(step, {k: float(v) / n for k, v in zip(keys, totals[:-2])}, int(n),
                          seconds, int(totals[-1]) // dist.world)

    def _check_finite(self, sums: torch.Tensor, keys: list[str], step: int) -> None:
        cfg = self.cfg
        if not bool(torch.isfinite(sums).all()):
            bad = [k for k, v in zip(keys, sums.tolist()) if not math.isfinite(v)]
            clip = (f"--grad-clip (now {cfg.grad_clip:g})" if cfg.grad_clip
                    else "set --grad-clip (now 0: no clipping; e.g. --grad-clip 100)")
            raise FloatingPointError(
                f"{', '.join(bad)} became non-finite within the {cfg.log_every} steps up to step "
                f"{step}: lower --lr (now {cfg.lr}) or {clip}; {saved_state(Path(cfg.out))}"
            )
