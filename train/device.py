"""The one place a ``--device`` value is checked and turned into a :class:`torch.device`.

``auto`` picks CUDA when torch sees a GPU, else the CPU; ``cpu``, ``mps``, ``cuda`` and
``cuda:N`` name one. The training loop, the training and evaluation commands, the
distributed set-up and the throughput benchmark all resolve through :func:`resolve_device`,
so a device this machine lacks is refused with the same one-line message everywhere.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def check_device_name(name: str) -> None:
    """Refuse a value that names no device (``--device gpu``); needs no torch."""
    if not DEVICE.match(name):
        raise ValueError(f"--device must be auto, cpu, cuda, cuda:N or mps, got {name!r} "
                         f"(e.g. --device cpu)")


def resolve_device(name: str, *, local_rank: int | None = None) -> torch.device:
    """``name`` as the device to run on, refusing one this machine does not have.

    ``local_rank`` (a process under ``torchrun``) turns a plain ``cuda`` into that process's
    own GPU, ``cuda:LOCAL_RANK``. Raises ``ValueError`` with a one-line message naming the fix.
    """
    import torch

    check_device_name(name)
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "mps" and not torch.backends.mps.is_available():
        raise ValueError("--device mps asked for Apple's GPU, but torch sees none: "
                         "use --device cpu or --device auto")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(f"--device {name} asked for CUDA, but torch sees no GPU: use "
                             f"--device cpu (or --device auto, which picks CUDA when present)")
        index = int(name.split(":")[1]) if ":" in name else (local_rank or 0)
        count = torch.cuda.device_count()
        if index >= count:
            raise ValueError(f"--device {name}: torch sees {count} GPU(s), cuda:0 to "
                             f"cuda:{count - 1}; pick one of those")
        if local_rank is not None and ":" not in name:
            return torch.device("cuda", local_rank)
    return torch.device(name)
