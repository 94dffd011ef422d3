"""The training loop: one loop for every registered variant, on one process or many.

:func:`train` prepares the run folder and the data, runs the epochs of a
:class:`~vaekit.train.trainer.Trainer` (the model, the optimiser and the step), validates
after each and saves the checkpoint and the resume state.

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

from pathlib import Path
from typing import Any

import torch
from vaekit.format import RESUME, image_shape

from .checkpoint import save_checkpoint
from .config import DataConfig, TrainConfig, VAEConfig
from .data import load_split
from .device import resolve_device
from .distributed import Distributed
from .evaluate import evaluate_elbo
from .feed import DeviceFeed
from .model import VAE, count_parameters
from .runfolder import RunFolderError, initial_weights, prepare_run  # noqa: F401  (RunFolderError: re-exported)
from .trainer import EpochStats, Trainer


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
        trainer = Trainer(model_config, cfg, device=device, dist=dist)
        if init is not None:
            trainer.model.load_state_dict(init)
            if progress and dist.is_main:
                print(f"starting from the weights of {cfg.init_from}")
        trainer.model.check_labels(train_data.labels, train_data.classes)  # once, not per step
        feed = DeviceFeed(train_data, device, binary=trainer.model.likelihood.binary,
                          channels_last=trainer.cuda)
        start_epoch, step, history = 0, 0, []
        if state is not None:
            start_epoch, step, history = trainer.restore(state, out)
            if dist.is_main:
                print(f"resumed {out} at epoch {start_epoch}, step {step}")
        n_params = count_parameters(trainer.model)
        if progress and dist.is_main:
            print(f"{type(trainer.model).__name__}: {n_params:,} parameters | {len(train_data):,} "
                  f"train, {len(valid_data):,} valid images | device {device}"
                  + (f" x {dist.world} processes ({dist.backend})" if dist.active else "")
                  + (" | bf16 autocast, channels-last" if trainer.cuda else "")
                  + (" | compiled" if cfg.compile else ""))

        for epoch in range(start_epoch, cfg.epochs):
            if cfg.max_steps and step >= cfg.max_steps:
                break
            stats = trainer.run_epoch(feed, epoch=epoch, step=step, progress=progress)
            step = stats.step
            if dist.is_main:
                row = _epoch_row(trainer.kept, valid_data, cfg, device, epoch, stats)
                history.append(row)
                if progress:
                    print(f"epoch {epoch + 1}: valid ELBO {row['valid_elbo_nats']:.2f} nats/image "
                          f"({row['valid_bits_per_dim']:.4f} bits/dim), "
                          f"{row['images_per_second']:.0f} img/s"
                          + (f", {stats.skipped} updates skipped" if stats.skipped else ""))
                _save(trainer, out, data_config, cfg, history, n_params, len(train_data), device,
                      dist, epoch, step)
            dist.barrier()
        return trainer.kept, history


def _epoch_row(model: VAE, valid_data, cfg: TrainConfig, device: torch.device, epoch: int,
               stats: EpochStats) -> dict[str, Any]:
    val = evaluate_elbo(model, valid_data, batch_size=cfg.eval_batch_size, seed=cfg.seed,
                        device=str(device))
    return {
        "epoch": epoch + 1,
        "step": stats.step,
        **{f"train_{k}_per_dim": v for k, v in stats.means.items()},
        "valid_elbo_nats": val["elbo_nats"],
        "valid_bits_per_dim": val["bits_per_dim"],
        "valid_kl_nats": val["kl_nats"],
        "epoch_seconds": round(stats.seconds, 2),
        "images_per_second": round(stats.images / max(stats.seconds, 1e-9), 1),
        "skipped_steps": stats.skipped,
    }


def _save(trainer: Trainer, out: Path, data_config: DataConfig, cfg: TrainConfig,
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
        "model": {k: v.detach().cpu() for k, v in trainer.model.state_dict().items()},
        "optimizer": trainer.opt.state_dict(),
        "epoch": epoch + 1,
        "step": step,
        "rng": torch.get_rng_state(),
        "history": history,
    }
    if trainer.ema is not None:
        resume["ema"] = {k: v.detach().cpu() for k, v in trainer.ema.state_dict().items()}
    save_checkpoint(out, trainer.kept, data=data_config, train=cfg, metrics=metrics, resume=resume)
