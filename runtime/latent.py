"""Latent maths: paths between two latents (numpy only, no graph)."""

from __future__ import annotations

import numpy as np

from .inputs import MAX_BATCH_LIMIT, check_int

METHODS = ("linear", "slerp")


def interpolate_latents(a: np.ndarray, b: np.ndarray, steps: int, *, method: str = "linear") -> np.ndarray:
    """``steps`` latents from ``a`` to ``b`` inclusive: float32 [steps, D].

    ``slerp`` follows the great circle between the two directions while interpolating the
    norms linearly; it falls back to ``linear`` when a or b is zero or they are parallel.
    """
    if method not in METHODS:
        raise ValueError(f"unknown interpolation method {method!r}; choose one of {METHODS}")
    steps = check_int("steps", steps, 2, MAX_BATCH_LIMIT, " (both endpoints included)")
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"endpoints must be two latents of the same shape (D,), got {a.shape} and {b.shape}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("endpoints contain NaN or inf: pass finite latents")
    t = np.linspace(0.0, 1.0, steps)[:, None]
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if method == "slerp" and na > 0 and nb > 0:
        ua, ub = a / na, b / nb
        omega = np.arccos(np.clip(ua @ ub, -1.0, 1.0))
        if np.sin(omega) > 1e-6:
            s = np.sin(omega)
            direction = (np.sin((1 - t) * omega) * ua + np.sin(t * omega) * ub) / s
            return (((1 - t) * na + t * nb) * direction).astype(np.float32)
    return ((1 - t) * a + t * b).astype(np.float32)


__all__ = ["METHODS", "interpolate_latents"]
