"""Training throughput (images/s) of vaekit's own loop, on the CPU or a GPU.

    python -m benchmarks.train_throughput --device cuda --out throughput.json
    python -m benchmarks.train_throughput --device cpu --cases mnist-preset-b128

Each case builds the model and optimiser exactly as ``python -m vaekit.train`` does
(:class:`~vaekit.train.trainer.Trainer`: bf16 autocast, channels-last and fused AdamW on CUDA,
``--compile`` optional), feeds it from a device-resident uint8 set of random images of the
case's shape (:class:`~vaekit.train.feed.DeviceFeed`: throughput does not depend on pixel
values), runs warm-up steps (``Trainer.train_step``, compilation included) and then times whole
epochs of ``Trainer.run_epoch``, the training command's own step code, host syncs and all.
Writes one JSON record per case.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import torch
from vaekit.format import atomic_write_text
from vaekit.train.config import TrainConfig, VAEConfig
from vaekit.train.data import ImageSplit
from vaekit.train.device import resolve_device
from vaekit.train.feed import DeviceFeed
from vaekit.train.trainer import Trainer, run_steps

#: optimiser steps before the timed epochs (torch.compile compiles during these)
WARMUP_STEPS = 20


@dataclass(frozen=True)
class Case:
    name: str
    model: dict[str, Any]
    batch_size: int
    compile: bool = False
    images: int = 55_000
    extra: dict[str, Any] = field(default_factory=dict)


MNIST_PRESET = dict(dim=16, latent_dim=2)
MNIST_32 = dict(dim=32, latent_dim=32)
CELEBA_PRESET = dict(in_channels=3, image_size=64, dim=16, dim_mults=(1, 2, 4, 8),
                     likelihood="logistic", latent_dim=64)

CASES = {c.name: c for c in [
    Case("mnist-preset-b128", MNIST_PRESET, 128),
    Case("mnist-d32z32-b128", MNIST_32, 128),
    Case("mnist-d32z32-b1024", MNIST_32, 1024),
    Case("mnist-d32z32-b2048", MNIST_32, 2048),
    Case("mnist-d32z32-b1024-compile", MNIST_32, 1024, compile=True),
    Case("mnist-d32z32-b2048-compile", MNIST_32, 2048, compile=True),
    Case("mnist-d16z2-b2048-compile", MNIST_PRESET, 2048, compile=True),
    Case("celeba-preset-b32", CELEBA_PRESET, 32, images=14_283),
    Case("celeba-preset-b256", CELEBA_PRESET, 256, images=14_283),
    Case("celeba-preset-b256-compile", CELEBA_PRESET, 256, compile=True, images=14_283),
]}


def run_case(case: Case, device: torch.device, *, epochs: int, max_seconds: float) -> dict[str, Any]:
    config = VAEConfig(**case.model)
    shape = (case.images, config.in_channels, config.image_size, config.image_size)
    g = torch.Generator().manual_seed(0)
    data = ImageSplit(torch.randint(0, 256, shape, dtype=torch.uint8, generator=g),
                      torch.zeros(case.images, dtype=torch.long))
    cfg = TrainConfig(out="unused", batch_size=case.batch_size, compile=case.compile,
                      device=str(device), log_every=50)
    trainer = Trainer(config, cfg, device=device)
    feed = DeviceFeed(data, device, binary=trainer.model.likelihood.binary,
                      channels_last=trainer.cuda)
    total = run_steps(cfg, feed.steps_per_epoch(cfg.batch_size))
    t0 = time.perf_counter()
    for step, (x, y) in zip(range(WARMUP_STEPS), feed.epoch(cfg.batch_size, seed=0)):
        trainer.train_step(x, y, step=step, total_steps=total)  # warm-up (and compilation)
    if trainer.cuda:
        torch.cuda.synchronize(device)
    warmup_seconds = time.perf_counter() - t0
    rates = []
    for epoch in range(epochs):
        stats = trainer.run_epoch(feed, epoch=epoch + 1, step=0)
        rates.append(stats.images / stats.seconds)
        if time.perf_counter() - t0 > max_seconds:
            break
    rates.sort()
    return {
        "case": case.name, "device": _device_name(device), "batch_size": case.batch_size,
        "compile": case.compile, "model": config.to_dict(), "images_per_epoch": case.images,
        "epochs_timed": len(rates), "images_per_second_median": rates[len(rates) // 2],
        "images_per_second_all": [round(r, 1) for r in rates],
        "warmup_seconds": round(warmup_seconds, 2), "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{platform.processor() or platform.machine()} ({torch.get_num_threads()} threads)"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.train_throughput", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:N")
    p.add_argument("--cases", nargs="+", choices=sorted(CASES), default=None,
                   help="cases to run (default: all on CUDA, mnist-preset-b128 on the CPU)")
    p.add_argument("--epochs", type=int, default=3, help="timed epochs per case (median reported)")
    p.add_argument("--max-seconds", type=float, default=60.0, help="time budget per case")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: leave as is)")
    p.add_argument("--out", default=None, help="write the JSON records here")
    args = p.parse_args(argv)
    if args.epochs < 1 or args.max_seconds <= 0 or args.threads < 0:
        p.error("--epochs must be >= 1, --max-seconds > 0 and --threads >= 0")
    try:
        device = resolve_device(args.device)
    except ValueError as e:
        p.error(str(e))
    if args.threads:
        torch.set_num_threads(args.threads)
    names = args.cases or (sorted(CASES) if device.type == "cuda" else ["mnist-preset-b128"])
    records = []
    for name in names:
        try:
            rec = run_case(CASES[name], device, epochs=args.epochs, max_seconds=args.max_seconds)
        except Exception as e:  # noqa: BLE001  one failing case must not lose the others
            rec = {"case": name, "error": f"{type(e).__name__}: {e}"[:2000]}
        records.append(rec)
        shown = rec.get("images_per_second_median")
        print(f"{name}: " + (f"{shown:,.0f} images/s" if shown else rec.get("error", "")),
              flush=True)
        if args.out:
            atomic_write_text(args.out, json.dumps(records, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
