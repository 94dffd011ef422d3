"""Upper bounds on what an option may cost, checked before any work starts.

Threads are bounded by the CPUs this process may run on (``os.sched_getaffinity``): more
only adds contention (``--threads 999`` once took 48 s a step). Memory is estimated from
the model's shape before anything is allocated: the activations of the images one step or
one decoder call holds (a *lower* bound: the real peak is higher), refused when above what
the device has free, with the limit in the message. Torch is imported only to ask a GPU.
"""

from __future__ import annotations

import os
from typing import Any

MAX_SAMPLES = 100_000  # evaluate --samples: K=1000 is the usual figure; 1e9 would never end
FLOAT_BYTES = 4


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask; all of them where there is none)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def check_threads(threads: int, *, flag: str = "--threads") -> None:
    """Refuse a negative count, or more threads than usable CPUs (0: all of them)."""
    cpus = usable_cpus()
    if threads < 0:
        raise ValueError(f"{flag} must be >= 0, got {threads} (0: all cores)")
    if threads > cpus:
        raise ValueError(f"{flag} {threads} is more than the {cpus} CPUs this process may use "
                         f"(os.sched_getaffinity): pass {flag} {cpus} or fewer (0: all of them)")


def image_activation_bytes(model: Any, *, training: bool = True) -> int:
    """A lower bound on the activation bytes one image costs in the encoder plus decoder.

    Training keeps each stage's feature map once per block on each side for the backward
    pass; inference (``training=False``) holds at least the largest map twice (a layer's
    input and output). Both add the input and the output picture."""
    side, maps = int(model.image_size), []
    for mult in model.dim_mults:
        maps.append(int(model.dim) * int(mult) * side * side)
        side //= 2
    kept = 2 * max(1, int(model.blocks_per_stage)) * sum(maps) if training else 2 * max(maps)
    return (kept + 2 * int(model.in_channels) * int(model.image_size) ** 2) * FLOAT_BYTES


def images_per_step(model: Any, batch_size: int) -> int:
    """Images one training step runs through the decoder: ``batch x k`` (IWAE draws ``k``
    samples per image), plus the prior's pseudo-inputs (VampPrior encodes them each step)."""
    return batch_size * int(getattr(model, "k", 1)) + int(getattr(model, "components", 0))


def free_memory(device: str) -> int | None:
    """Bytes free on ``device`` (``cpu``: MemAvailable; ``cuda[:N]``: the GPU's free memory);
    None where it cannot be told."""
    if device.startswith("cuda"):
        import torch

        index = int(device.split(":")[1]) if ":" in device else 0
        return int(torch.cuda.mem_get_info(index)[0])
    if device != "cpu":
        return None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def gigabytes(n: float) -> str:
    return f"{n / 2**30:.1f} GB" if n >= 2**30 else f"{n / 2**20:.0f} MB"


def check_memory(images: int, model: Any, device: str, *, what: str, fix: str,
                 training: bool = True) -> None:
    """Refuse ``images`` at once through ``model`` when their activations alone exceed the
    memory free on ``device``. ``what`` names the options ("--k 100000 x --batch-size 128"),
    ``fix`` the way out ("lower --k or --batch-size")."""
    free = free_memory(device)
    per_image = image_activation_bytes(model, training=training)
    need = images * per_image
    if free is None or need <= free:
        return
    most = max(1, free // per_image)
    raise ValueError(
        f"{what} = {images:,} images at once need at least {gigabytes(need)} of activations, "
        f"more than the {gigabytes(free)} free on {device}: {fix} (at most about {most:,} "
        f"images at once here)"
    )
