"""Learning-rate schedules: pure functions of the optimiser step, so a resumed run follows them.

The loop sets ``lr = cfg.lr * lr_factor(step, ...)`` before every optimiser step. A run's
length in steps (``epochs * steps_per_epoch``, or ``max_steps`` when that comes first) is the
horizon a decaying schedule ends on; warm-up ramps linearly from ``1 / warmup_steps`` to 1.

Each schedule maps the decay's progress ``p`` in [0, 1] to a factor that goes from 1 to 0; the
factor actually applied is ``final_fraction + (1 - final_fraction) * shape(p)``, so
``final_fraction`` is where the run ends as a fraction of ``--lr``.
"""

from __future__ import annotations

import math
from typing import Callable

#: name -> shape(progress in [0, 1]) -> factor in [0, 1]; CLI choices are read from here
LR_SCHEDULES: dict[str, Callable[[float], float]] = {
    "constant": lambda p: 1.0,
    "cosine": lambda p: 0.5 * (1.0 + math.cos(math.pi * p)),  # Loshchilov & Hutter 2017, one cycle
    "linear": lambda p: 1.0 - p,
}


def lr_factor(step: int, *, schedule: str, total_steps: int, warmup_steps: int = 0,
              final_fraction: float = 0.0) -> float:
    """The multiplier of the base learning rate for optimiser step ``step`` (0-based).

    ``constant`` ignores ``final_fraction``: its factor is 1 after the warm-up.
    """
    if schedule not in LR_SCHEDULES:
        raise ValueError(f"unknown lr schedule {schedule!r}; choose one of {sorted(LR_SCHEDULES)}")
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant":
        return 1.0
    decay_steps = max(total_steps - warmup_steps, 1)
    progress = min(max(step - warmup_steps, 0) / decay_steps, 1.0)
    return final_fraction + (1.0 - final_fraction) * LR_SCHEDULES[schedule](progress)


def ema_decay(step: int, decay: float) -> float:
    """The EMA decay used after optimiser step ``step`` (0-based): ``decay``, held lower early on.

    ``min(decay, (1 + step) / (10 + step))`` (the warm-up of TensorFlow's
    ``ExponentialMovingAverage``): the average spans about a tenth of the steps so far until
    ``decay`` takes over, so it does not carry the initial weights through a short run.
    """
    return min(decay, (1 + step) / (10 + step))
