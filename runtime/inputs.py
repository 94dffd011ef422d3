"""What the runtime accepts: images, latents and numeric arguments, checked and coerced.

Every function raises ``ValueError`` naming the problem and the fix; nothing here runs a
graph. Images become float32 [N, C, H, W] in [0, 1], latents float32 [N, D].

Bounds (documented in the README): ``|z| <= MAX_ABS_LATENT`` (the prior is N(0, I), so a
typical |z| is below 5; far larger values overflow float32 inside the decoder and come
back as NaN images), ``0 <= temperature <= MAX_TEMPERATURE``, ``0 <= seed <= MAX_SEED``,
``1 <= max_batch <= MAX_BATCH_LIMIT``, ``1 <= threads <= MAX_THREADS``.

These checks sit on every ``decode``/``encode``, so an input that is already what the graph
takes (a C-contiguous float32 array) is handed on as is, never copied, and each check is one
pass over the data without a temporary: :func:`latents_in_bound` (z), :func:`in_unit_range`
(images), :func:`all_finite` (the encoder's means, the decoded images). Only a batch that
fails one pays for the exact diagnosis that names the problem.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import onnxruntime as ort
from vaekit.format import MAX_ABS_LATENT

# MAX_ABS_LATENT is vaekit.format's: one bound for every client (the page and Node read it too)

MAX_TEMPERATURE = 100.0
MAX_SEED = 2**63 - 1
MAX_BATCH_LIMIT = 1 << 20
MAX_THREADS = 1024


# ----------------------------------------------------------------------------- numbers


def check_int(name: str, value: Any, lo: int, hi: int, hint: str = "") -> int:
    """``value`` as an int in [lo, hi] (bools and floats are refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an int in [{lo}, {hi}]{hint}, got {value!r} ({type(value).__name__})")
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be an int in [{lo}, {hi}]{hint}, got {value}")
    return int(value)


def check_seed(seed: Any) -> int | None:
    if seed is None:
        return None
    return check_int("seed", seed, 0, MAX_SEED, " or None (a fresh random seed)")


def check_temperature(temperature: Any) -> float:
    ok = isinstance(temperature, (int, float, np.integer, np.floating)) and not isinstance(temperature, bool)
    if not ok or not np.isfinite(temperature) or not 0 <= temperature <= MAX_TEMPERATURE:
        raise ValueError(
            f"temperature must be a finite number in [0, {MAX_TEMPERATURE:g}] (1.0: the prior; 0: its "
            f"mean; above {MAX_TEMPERATURE:g} the latents leave the region the decoder was trained "
            f"on), got {temperature!r}"
        )
    return float(temperature)


def check_batch(n: int, max_batch: int) -> None:
    if n > max_batch:
        raise ValueError(
            f"batch of {n} exceeds max_batch={max_batch}: split it into chunks, or "
            f"load with VAE.load(..., max_batch={n})"
        )


def require_finite(a: np.ndarray, what: str, kinds: str, fix: str) -> None:
    if all_finite(a):
        return
    bad = int(a.size - np.count_nonzero(np.isfinite(a)))
    if bad:
        raise ValueError(f"{what} contain {bad} non-finite values ({kinds}): {fix}")


def all_finite(a: np.ndarray) -> bool:
    """Whether every value of a float array is finite, in one pass and without a temporary.

    A sum (of squares, for arrays small enough that :func:`squares` is quicker) is finite
    exactly when no term is NaN or inf, unless finite terms overflow it; so True is always
    right, and False (rare: only for values near the float32 limit) sends the caller to the
    exact count.
    """
    total = squares(a) if a.size <= SMALL else np.add.reduce(a, axis=None)
    return math.isfinite(total)


#: arrays up to this size are checked with one dot product: about 0.5 us against 1-2 us for a
#: numpy reduction, and below the size where OpenBLAS would hand the product to its threads
SMALL = 8192


def squares(a: np.ndarray) -> float:
    """The sum of squares of an array's values (one BLAS dot product; no temporary when the
    array is C-contiguous)."""
    return float(np.vdot(a, a))


# ----------------------------------------------------------------------------- images


def images_wanted(image_shape: tuple[int, int, int]) -> str:
    c, h, w = image_shape
    want = f"(N, {c}, {h}, {w}) for a batch, ({c}, {h}, {w})" + (f" or ({h}, {w})" if c == 1 else "")
    return want + " for one image"


def coerce_images(images: Any, image_shape: tuple[int, int, int], max_batch: int) -> tuple[np.ndarray, bool]:
    """-> (float32 [N, C, H, W] in [0, 1], whether the input was a single image)."""
    x = np.asarray(images)
    c, h, w = image_shape
    shape = x.shape
    single = x.ndim in (2, 3)
    if x.ndim == 4 and shape[1:] == (c, h, w):
        pass
    elif x.ndim == 3 and shape == (c, h, w):
        x = x[None]
    elif x.ndim == 2 and c == 1 and shape == (h, w):
        x = x[None, None]
    else:
        raise ValueError(shape_problem(shape, image_shape))
    if x.shape[0] == 0:
        raise ValueError("got an empty batch (0 images): pass at least one image")
    check_batch(x.shape[0], max_batch)
    if x.dtype != np.float32 or not x.flags.c_contiguous:  # float32 C-contiguous: used as is
        if x.dtype == np.uint8:  # one pass into a new C-contiguous float32 array
            scaled = np.empty(x.shape, np.float32)
            np.divide(x, np.float32(255), out=scaled)
            return scaled, single
        if x.dtype == np.bool_:
            return np.ascontiguousarray(x, dtype=np.float32), single
        if not np.issubdtype(x.dtype, np.floating):
            raise ValueError(
                f"images have dtype {x.dtype}: pass uint8 (0..255) or float in [0, 1] "
                f"(e.g. images.astype(np.uint8) for 0..255 integers)"
            )
        with np.errstate(over="ignore"):  # too large for float32 becomes inf, reported below
            x = np.ascontiguousarray(x, dtype=np.float32)
    if in_unit_range(x):
        return x, single
    require_finite(x, "images", "NaN or inf", "clean them (np.nan_to_num) before encoding")
    lo, hi = float(x.min()), float(x.max())
    if lo < 0 or hi > 1:
        raise ValueError(
            f"float images must be in [0, 1], got values in [{lo:g}, {hi:g}]: divide 0..255 "
            f"images by 255 (or pass uint8), and map [-1, 1] images with (x + 1) / 2"
        )
    return x, single


#: the bits of float32 1.0: every float32 in [+0.0, 1.0], and no other (no negative number, NaN
#: or inf), has its bits at or below it as an unsigned integer
ONE_BITS = 0x3F800000


def in_unit_range(x: np.ndarray) -> bool:
    """True when every value of a C-contiguous float32 array is in [0, 1] (so none is NaN or
    inf): one integer max over its bits. False is not a verdict (-0.0 is in range but has
    its sign bit set): the caller then checks the values."""
    return bool(np.maximum.reduce(x.view(np.uint32), axis=None) <= ONE_BITS)


def shape_problem(shape: tuple[int, ...], image_shape: tuple[int, int, int]) -> str:
    """Why images of ``shape`` do not fit a model taking ``image_shape`` (C, H, W), and the fix."""
    c, h, w = image_shape
    msg = f"images of shape {shape} do not fit this model: expected {images_wanted(image_shape)}"
    if len(shape) not in (2, 3, 4):
        return f"{msg} (got rank {len(shape)})"
    channels_last = len(shape) >= 3 and shape[-3:-1] == (h, w)
    if not channels_last and shape[-2:] != (h, w):
        return f"{msg}; the images are not {h}x{w}: resize them to {h}x{w} first"
    if channels_last:
        got = shape[-1]
        move = ("images.transpose(0, 3, 1, 2)" if len(shape) == 4 else "image.transpose(2, 0, 1)")
        if got == c:
            return (f"{msg}; they are channels-last (H, W, C) with {got} channel(s): move the channel "
                    f"axis first with {move}")
        return (f"{msg}; they look channels-last (H, W, C) with {got} channels where the model takes "
                f"{c}: convert the colour mode (e.g. PIL's .convert('{'L' if c == 1 else 'RGB'}')) "
                f"and move the channel axis first with {move}")
    if len(shape) == 3 and c == 1:
        return f"{msg}; for a batch of {shape[0]} grayscale images add the channel axis: images[:, None]"
    got_c = shape[1] if len(shape) == 4 else shape[0] if len(shape) == 3 else 1
    mode = "'L'" if c == 1 else "'RGB'"
    return f"{msg}; got {got_c} channels where the model takes {c} (convert the colour mode, e.g. PIL's .convert({mode}))"


# ----------------------------------------------------------------------------- latents


def coerce_latents(z: Any, latent_dim: int, max_batch: int) -> tuple[np.ndarray, bool]:
    """-> (float32 [N, D] with every |z| <= MAX_ABS_LATENT, whether the input was one latent [D])."""
    z = np.asarray(z)
    d = latent_dim
    if z.ndim == 1 and z.shape[0] == d:
        z, single = z[None], True
    elif z.ndim == 2 and z.shape[1] == d:
        single = False
    else:
        raise ValueError(
            f"latents of shape {tuple(z.shape)} do not fit this model: expected (N, {d}) for a "
            f"batch or ({d},) for one latent (latent_dim={d})"
        )
    if z.shape[0] == 0:
        raise ValueError("got an empty batch (0 latents): pass at least one latent")
    check_batch(z.shape[0], max_batch)
    if z.dtype != np.float32 or not z.flags.c_contiguous:  # float32 C-contiguous: used as is
        if not (np.issubdtype(z.dtype, np.floating) or np.issubdtype(z.dtype, np.integer)):
            raise ValueError(f"latents have dtype {z.dtype}: pass real numbers (float32)")
        with np.errstate(over="ignore"):  # too large for float32 becomes inf, reported below
            z = np.ascontiguousarray(z, dtype=np.float32)
    if latents_in_bound(z):
        return z, single
    require_finite(z, "latents", "NaN or inf, or too large for float32", "pass finite latents")
    largest = float(np.abs(z).max())
    if largest > MAX_ABS_LATENT:
        raise ValueError(
            f"latents must satisfy |z| <= {MAX_ABS_LATENT:g}, got |z| up to {largest:g}: the prior is "
            f"N(0, I) (typical |z| < 5) and latents this far out overflow inside the decoder; "
            f"scale them down (or clip with np.clip(z, -{MAX_ABS_LATENT:g}, {MAX_ABS_LATENT:g}))"
        )
    return z, single


def latents_in_bound(z: np.ndarray) -> bool:
    """True when every |z| is finite and at most :data:`MAX_ABS_LATENT`; False is not a
    verdict (the caller then checks each value).

    A small batch takes one dot product: each z**2 is at most the sum of squares, and a sum
    below (MAX_ABS_LATENT / 2)**2 proves the bound with room to spare for float32 rounding;
    NaN and inf fail the comparison. A larger one takes a min and a max.
    """
    if z.size <= SMALL:
        return squares(z) <= (MAX_ABS_LATENT / 2) ** 2
    return bool(-MAX_ABS_LATENT <= np.minimum.reduce(z, axis=None)
                and np.maximum.reduce(z, axis=None) <= MAX_ABS_LATENT)


# ----------------------------------------------------------------------------- labels


def coerce_labels(labels: Any, n: int, class_names: Sequence[str]) -> np.ndarray | None:
    """Class labels for a batch of ``n``: int64 [n] in [0, K), or None for an unconditional model.

    ``class_names`` are the model's K classes (empty: the model takes no label). ``labels``
    is one int per item, or one int for the whole batch.
    """
    k = len(class_names)
    if not k:
        if labels is not None:
            raise ValueError("this model is not conditional (its graphs take no label): drop labels=")
        return None
    shown = ", ".join(f"{i}={c!r}" for i, c in enumerate(class_names[:10])) + (", ..." if k > 10 else "")
    if labels is None:
        raise ValueError(f"this model is conditional on {k} classes ({shown}): pass labels=, one int "
                         f"in [0, {k}) per item or one int for all")
    y = np.asarray(labels)
    if y.dtype == np.bool_ or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels must be integers in [0, {k}) ({shown}), got dtype {y.dtype}: pass "
                         f"class indices such as labels=3 or labels=np.array([0, 1, 2])")
    if y.ndim == 0:
        y = np.full(n, y)
    if y.shape != (n,):
        raise ValueError(f"labels has shape {tuple(y.shape)} but the batch has {n} items: pass one "
                         f"label per item (shape ({n},)) or one int for all")
    low, high = int(y.min()), int(y.max())
    if low < 0 or high >= k:
        raise ValueError(f"labels must be in [0, {k}) ({shown}), got values from {low} to {high}")
    return np.ascontiguousarray(y, dtype=np.int64)


def check_device_input(value: ort.OrtValue, name: str, shape: tuple[int, ...], max_batch: int) -> None:
    """An OrtValue passed as ``name``: float32 with ``shape`` after its batch axis.

    Its values are not read (that would copy them off the device): finiteness and ranges
    are the caller's responsibility on this path.
    """
    got = tuple(value.shape())
    if value.data_type() != "tensor(float)" or len(got) != len(shape) + 1 or got[1:] != shape:
        raise ValueError(
            f"{name} OrtValue is {value.data_type()} {list(got)}, expected tensor(float) "
            f"[N, {', '.join(map(str, shape))}]: pass a batch with the model's shape, or a numpy array"
        )
    if got[0] == 0:
        raise ValueError(f"got an empty batch (0 rows in the {name} OrtValue): pass at least one")
    check_batch(got[0], max_batch)


def check_decoded(images: np.ndarray, z: np.ndarray | None = None) -> np.ndarray:
    """Decoded images must be finite: a NaN image is an error, never a silent result.

    One pass (:func:`all_finite`), about 4 ms for 1024 64x64 RGB images on one core; the
    images are returned as they are, not copied.
    """
    bad = 0 if all_finite(images) else int(images.size - np.count_nonzero(np.isfinite(images)))
    if bad:
        where = "" if z is None else f" (largest |z| in the batch: {float(np.abs(z).max()):g})"
        raise ValueError(
            f"the decoder returned {bad} non-finite pixel values{where}: the latents are too far from "
            f"the prior N(0, I) for this graph's arithmetic (fp16 graphs overflow sooner); pass "
            f"latents closer to 0 (|z| of a few units) or load precision='fp32'"
        )
    return images


__all__ = [
    "MAX_ABS_LATENT", "MAX_BATCH_LIMIT", "MAX_SEED", "MAX_TEMPERATURE", "MAX_THREADS", "SMALL",
    "all_finite", "check_batch", "check_decoded", "check_device_input", "check_int", "check_seed",
    "check_temperature", "coerce_images", "coerce_labels", "coerce_latents", "images_wanted",
    "in_unit_range", "latents_in_bound", "require_finite", "shape_problem", "squares",
]
