"""Data-parallel training on torch.distributed, started by ``torchrun``.

``torchrun --nproc-per-node N -m vaekit.train ...`` sets ``RANK``, ``WORLD_SIZE`` and
``LOCAL_RANK``; :meth:`Distributed.from_env` then joins the process group (NCCL for CUDA,
gloo on CPU) and :meth:`Distributed.wrap` puts the model under DistributedDataParallel. A plain
``python -m vaekit.train`` is a world of one: every method is then a no-op.
"""

from __future__ import annotations

import os
from types import TracebackType

import torch
import torch.distributed as tdist
from torch import nn

from .device import resolve_device


class Distributed:
    def __init__(self, *, rank: int = 0, world: int = 1, local_rank: int = 0, backend: str = ""):
        self.rank, self.world, self.local_rank, self.backend = rank, world, local_rank, backend

    @classmethod
    def from_env(cls, device: str) -> Distributed:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
        wants_cuda = resolve_device(device, local_rank=local_rank).type == "cuda"
        backend = "nccl" if wants_cuda else "gloo"
        if wants_cuda:
            torch.cuda.set_device(local_rank)
        if not tdist.is_initialized():
            tdist.init_process_group(backend=backend)
        return cls(rank=rank, world=world, local_rank=local_rank, backend=backend)

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def wrap(self, model: nn.Module, device: torch.device) -> nn.Module:
        if not self.active:
            return model
        ids = [device.index] if device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(model, device_ids=ids)

    def all_reduce_sum(self, t: torch.Tensor) -> torch.Tensor:
        if self.active:
            t = t.clone()
            tdist.all_reduce(t)
        return t

    def barrier(self) -> None:
        if self.active:
            tdist.barrier()

    def describe(self, device: torch.device) -> str:
        name = str(device)
        if device.type == "cuda":
            name = f"{device} ({torch.cuda.get_device_name(device)})"
        return f"{name} x {self.world} ({self.backend})" if self.active else name

    def __enter__(self) -> Distributed:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.active and tdist.is_initialized():
            tdist.destroy_process_group()
