"""Reading what a visitor uploads: numpy + PIL only, every refusal a sentence with the fix.

:func:`open_image` reads an uploaded file and rejects what is not an image, an empty, a
damaged or a huge one; 16-bit and float pictures are scaled by their real bit depth
(:func:`to_8bit`) or refused. :func:`array_to_image` does the same for arrays.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PIXELS = 40_000_000  # a 40-megapixel photo decodes to ~120 MB of RGB; beyond that, refuse
MAX_FILE_BYTES = 25 * 1024 * 1024


def open_image(path: str | os.PathLike, *, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Open an uploaded file as an upright 8-bit PIL image, or raise a readable ``ValueError``.

    Only the header is read before the size check, so a huge image is refused without
    being decoded. 16-bit and float pictures are scaled by their real bit depth
    (:func:`to_8bit`).
    """
    if path is None or str(path) == "":
        raise ValueError("no image was given: upload a picture or pick a built-in example")
    path = os.fspath(path)
    name = os.path.basename(path)
    if not os.path.isfile(path):
        raise ValueError(f"the uploaded file {name!r} is gone: upload it again")
    size = os.path.getsize(path)
    if size == 0:
        raise ValueError("the uploaded file is empty (0 bytes): upload a PNG or JPEG picture")
    if size > MAX_FILE_BYTES:
        raise ValueError(
            f"the uploaded file is {size / 2**20:.0f} MB; the limit is "
            f"{MAX_FILE_BYTES // 2**20} MB: upload a smaller picture"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
    except (UnidentifiedImageError, Image.DecompressionBombError) as e:
        raise ValueError(
            f"{name!r} is not an image this demo can read ({type(e).__name__}): "
            "upload a PNG, JPEG, WebP, GIF or BMP picture"
        ) from e
    w, h = image.size
    if w * h > max_pixels:
        raise ValueError(
            f"the image is {w}x{h} pixels ({w * h / 1e6:.0f} megapixels); the limit is "
            f"{max_pixels / 1e6:.0f} megapixels: scale it down before uploading"
        )
    if w < 1 or h < 1:
        raise ValueError(f"the image is {w}x{h} pixels: upload a picture with some content")
    bits = _bits_per_sample(image)  # read before exif_transpose, which drops the file's tags
    try:
        image.load()
        image = ImageOps.exif_transpose(image)
    except (OSError, ValueError) as e:  # truncated or corrupt data past the header
        raise ValueError(
            f"{name!r} is damaged and cannot be decoded ({e}): upload it again "
            "or try another picture"
        ) from e
    return to_8bit(image, name=name, bits=bits)


def _bits_per_sample(image: Image.Image) -> int | None:
    """Bits per sample of a 32-bit-integer ("I") PIL image as the file declares them."""
    if image.format == "PNG":
        return 16  # PNG has no deeper greyscale; Pillow widens 16-bit PNGs to "I"
    tags = getattr(image, "tag_v2", None)  # TIFF
    if tags is not None and tags.get(258):
        bits = tags.get(258)
        return int(bits[0] if isinstance(bits, tuple) else bits)
    return None


def to_8bit(image: Image.Image, *, name: str = "the image", bits: int | None = None) -> Image.Image:
    """``image`` with 8-bit samples: 16-bit greyscale divided by 257 (65535 -> 255), integer
    images by their declared bit depth, float images in [0, 1] times 255.

    Float images outside [0, 1] and 32-bit integer images are refused with a ``ValueError``
    (there is no one right way to scale them). 8-bit modes come back unchanged. ``bits``:
    the file's declared bits per sample (read from ``image`` itself when None).
    """
    mode = image.mode
    if mode.startswith("I;16"):
        a = np.asarray(image).astype(np.float64) / 257.0
    elif mode == "I":
        bits = bits if bits is not None else _bits_per_sample(image)
        if bits is None or bits > 16:
            raise ValueError(
                f"{name!r} holds {bits or 'unknown'}-bit integer pixels, which this demo cannot "
                "scale to a picture: save it as an 8- or 16-bit PNG"
            )
        a = np.asarray(image).astype(np.float64) * (255.0 / (2**bits - 1))
    elif mode == "F":
        a = np.asarray(image).astype(np.float64)
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name!r} holds NaN or infinite pixels: save it as an 8-bit PNG")
        lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
        if lo < 0 or hi > 1:
            raise ValueError(
                f"{name!r} is a floating-point image with values from {lo:g} to {hi:g}; this demo "
                "reads float images in [0, 1]: rescale it to [0, 1] or save it as an 8-bit PNG"
            )
        a = a * 255.0
    else:
        return image
    return Image.fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8), "L")


def array_to_image(array: np.ndarray) -> Image.Image:
    """A ``[H, W]``, ``[H, W, 3]`` or ``[H, W, 4]`` array (as Gradio passes it) as 8-bit PIL.

    uint8 is taken as is, uint16 is divided by 257, floats in [0, 1] are multiplied by 255;
    anything else is refused.
    """
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise ValueError(
            f"expected an image array [H, W], [H, W, 3] or [H, W, 4], got shape {array.shape}"
        )
    if array.size == 0:
        raise ValueError("the image is empty (0 pixels): upload or draw a picture")
    if array.dtype == np.uint16:
        array = np.rint(array / 257.0).astype(np.uint8)
    elif array.dtype != np.uint8:
        if array.dtype == bool or not np.issubdtype(array.dtype, np.floating):
            raise ValueError(f"image arrays must be uint8, uint16 or float in [0, 1], got {array.dtype}")
        if not np.all(np.isfinite(array)):
            raise ValueError("the image holds NaN or infinite values")
        if array.min() < 0 or array.max() > 1:
            raise ValueError(
                f"a float image must lie in [0, 1], got values from {array.min():g} to "
                f"{array.max():g}: scale it to [0, 1] or pass uint8"
            )
        array = np.clip(np.rint(array * 255.0), 0, 255).astype(np.uint8)
    return Image.fromarray(array)
