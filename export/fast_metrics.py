"""What a fast decoder's record measures: PSNR and SSIM against its teacher, FLOPs, latency.

All numpy (and onnxruntime for latency); no torch, so the benchmarks can reuse it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping

import numpy as np

#: SSIM as Wang et al. 2004: an 11-tap Gaussian window (sigma 1.5), K1 0.01, K2 0.03, range 1
SSIM_WINDOW, SSIM_SIGMA, SSIM_K = 11, 1.5, (0.01, 0.03)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two image batches in [0, 1] (over all pixels; capped at 200)."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 200.0 if mse == 0 else round(min(200.0, 10 * math.log10(1.0 / mse)), 2)


def _blur(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Separable 'valid' Gaussian filter over the last two axes of ``x`` [..., H, W]."""
    k = len(kernel)
    h, w = x.shape[-2] - k + 1, x.shape[-1] - k + 1
    rows = sum(kernel[i] * x[..., i:i + h, :] for i in range(k))
    return sum(kernel[j] * rows[..., :, j:j + w] for j in range(k))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of two image batches [N, C, H, W] in [0, 1] (per channel, then averaged).

    Images smaller than the window use a window of their own size.
    """
    a, b = a.astype(np.float64), b.astype(np.float64)
    size = min(SSIM_WINDOW, a.shape[-1], a.shape[-2])
    t = np.arange(size) - (size - 1) / 2
    kernel = np.exp(-(t ** 2) / (2 * SSIM_SIGMA ** 2))
    kernel /= kernel.sum()
    c1, c2 = (k ** 2 for k in SSIM_K)
    mu_a, mu_b = _blur(a, kernel), _blur(b, kernel)
    var_a = _blur(a * a, kernel) - mu_a ** 2
    var_b = _blur(b * b, kernel) - mu_b ** 2
    cov = _blur(a * b, kernel) - mu_a * mu_b
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return round(float(s.mean()), 4)


def interleaved_times(runs: Mapping[str, Callable[[], object]], *, repeats: int,
                      warmup: int) -> dict[str, list[float]]:
    """Milliseconds of every call of each callable, timed in turns (A, B, A, B, ...) for
    ``repeats`` rounds after ``warmup`` untimed calls of each.

    Interleaving makes a shared machine's load fall on every contestant alike.
    """
    for fn in runs.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            t0 = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - t0) * 1e3)
    return times


def interleaved_latency(runs: Mapping[str, Callable[[], object]], *, repeats: int,
                        warmup: int = 5) -> dict[str, float]:
    """Median milliseconds per call of each callable, timed in turns (:func:`interleaved_times`)."""
    times = interleaved_times(runs, repeats=repeats, warmup=warmup)
    return {k: round(float(np.median(v)), 4) for k, v in times.items()}
