"""Decoded images ``[N, C, H, W]`` as one uint8 picture for the browser: numpy only.

:func:`tile` lays images out in a grid or a strip; :func:`to_display` upscales by a whole
factor (nearest neighbour) so 28x28 digits are visible and each model pixel stays crisp.
"""

from __future__ import annotations

import math

import numpy as np

DISPLAY_TILE = 112  # decoded tiles are upscaled (nearest neighbour) to at least this many pixels
PAD = 2  # pixels between tiles of a grid or strip, before upscaling


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Float images in [0, 1] (or uint8) as uint8, same shape."""
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images
    return np.clip(np.rint(images.astype(np.float32) * 255.0), 0, 255).astype(np.uint8)


def display_scale(height: int, *, target: int = DISPLAY_TILE) -> int:
    """Whole upscaling factor that makes a tile ``height`` pixels tall at least ``target``."""
    return max(1, math.ceil(target / max(1, int(height))))


def tile(images: np.ndarray, *, cols: int | None = None, pad: int = PAD) -> np.ndarray:
    """Lay ``[N, C, H, W]`` images out row-major in a grid: uint8 ``[C, H', W']``.

    ``cols`` defaults to ceil(sqrt(N)); tiles are separated by ``pad`` white pixels, so
    ``H' = rows*H + (rows-1)*pad`` and ``W' = cols*W + (cols-1)*pad``.
    """
    images = to_uint8(images)
    if images.ndim != 4 or images.shape[0] == 0:
        raise ValueError(f"expected images [N, C, H, W] with N >= 1, got shape {images.shape}")
    n, c, h, w = images.shape
    cols = cols or math.ceil(math.sqrt(n))
    cols = max(1, min(int(cols), n))
    rows = math.ceil(n / cols)
    out = np.full((c, rows * h + (rows - 1) * pad, cols * w + (cols - 1) * pad), 255, np.uint8)
    for i, img in enumerate(images):
        r, k = divmod(i, cols)
        out[:, r * (h + pad) : r * (h + pad) + h, k * (w + pad) : k * (w + pad) + w] = img
    return out


def to_display(image: np.ndarray, *, scale: int = 1) -> np.ndarray:
    """One uint8 or [0, 1] image ``[C, H, W]`` as ``[H*s, W*s]`` (grey) or ``[H*s, W*s, 3]``.

    Upscaling is nearest neighbour, so each model pixel stays a crisp square.
    """
    image = to_uint8(image)
    if image.ndim != 3 or image.shape[0] not in (1, 3):
        raise ValueError(f"expected one image [C, H, W] with C in (1, 3), got {image.shape}")
    out = image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0)
    if scale > 1:
        out = np.repeat(np.repeat(out, scale, axis=0), scale, axis=1)
    return np.ascontiguousarray(out)
