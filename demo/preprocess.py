"""Turning what a visitor gives the demo into what a model takes, and back: numpy + PIL only.

Nothing here knows about Gradio or ONNX Runtime, so every step is tested directly.

* :func:`open_image` reads an uploaded file and rejects what is not an image, an empty or
  a huge one with a :class:`ValueError` that says what to do instead.
* :func:`photo_to_input` frames an upload the way the training data was framed: centre crop
  to the model's aspect ratio, resize, greyscale or RGB, and (for white-on-black datasets
  such as MNIST) inversion of dark-on-light pictures.
* :func:`sketch_to_input` turns a sketchpad drawing into an MNIST-style digit: ink cropped
  to its bounding box, scaled into a 20x20 box and centred by centre of mass in 28x28.
* :func:`tile` / :func:`to_display` lay out decoded images ``[N, C, H, W]`` as one uint8
  picture, upscaled by a whole factor so 28x28 digits are visible in a browser.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PIXELS = 40_000_000  # a 40-megapixel photo decodes to ~120 MB of RGB; beyond that, refuse
MAX_FILE_BYTES = 25 * 1024 * 1024
DISPLAY_TILE = 112  # decoded tiles are upscaled (nearest neighbour) to at least this many pixels
PAD = 2  # pixels between tiles of a grid or strip, before upscaling

# Datasets whose images are light strokes on a dark background.
DARK_BACKGROUND_DATASETS = frozenset({"mnist", "fashion-mnist"})


@dataclass(frozen=True)
class InputSpec:
    """What a model's encoder takes: ``channels`` x ``height`` x ``width`` uint8 pictures.

    ``dark_background`` says the training images are light-on-dark (MNIST), so a
    dark-on-light upload or sketch is inverted; ``digit_box`` is the fraction of the frame the
    ink of a sketch is scaled into (20/28 for MNIST, whose digits sit in a 20x20 box).
    """

    channels: int
    height: int
    width: int
    dark_background: bool = False
    digit_box: float = 1.0

    def __post_init__(self) -> None:
        if self.channels not in (1, 3):
            raise ValueError(f"the demo handles 1- or 3-channel models, got {self.channels} channels")
        if self.height < 1 or self.width < 1:
            raise ValueError(f"image size must be positive, got {self.height}x{self.width}")
        if not 0 < self.digit_box <= 1:
            raise ValueError(f"digit_box must be in (0, 1], got {self.digit_box}")

    @classmethod
    def for_model(cls, *, image_shape: tuple[int, int, int], dataset: str | None) -> InputSpec:
        """The spec for a model with ``image_shape`` (C, H, W) trained on ``dataset``."""
        c, h, w = (int(v) for v in image_shape)
        dataset = (dataset or "").lower()
        return cls(
            channels=c,
            height=h,
            width=w,
            dark_background=dataset in DARK_BACKGROUND_DATASETS,
            digit_box=20 / 28 if dataset == "mnist" else 1.0,
        )


def open_image(path: str | os.PathLike, *, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Open an uploaded file as an upright PIL image, or raise a readable ``ValueError``.

    Only the header is read before the size check, so a huge image is refused without
    being decoded.
    """
    if path is None or str(path) == "":
        raise ValueError("no image was given: upload a picture or pick a built-in example")
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"the uploaded file {os.path.basename(path)!r} is gone: upload it again")
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
            f"{os.path.basename(path)!r} is not an image this demo can read ({type(e).__name__}): "
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
    try:
        image.load()
        image = ImageOps.exif_transpose(image)
    except OSError as e:  # truncated or corrupt data past the header
        raise ValueError(
            f"{os.path.basename(path)!r} is damaged and cannot be decoded ({e}): upload it again "
            "or try another picture"
        ) from e
    return image


def array_to_image(array: np.ndarray) -> Image.Image:
    """A uint8 ``[H, W]``, ``[H, W, 3]`` or ``[H, W, 4]`` array (as Gradio passes it) as PIL."""
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise ValueError(
            f"expected an image array [H, W], [H, W, 3] or [H, W, 4], got shape {array.shape}"
        )
    if array.size == 0:
        raise ValueError("the image is empty (0 pixels): upload or draw a picture")
    if array.dtype != np.uint8:
        if not np.all(np.isfinite(array)):
            raise ValueError("the image holds NaN or infinite values")
        if array.max(initial=0) <= 1.0:
            array = array * 255.0
        array = np.clip(np.rint(array), 0, 255).astype(np.uint8)
    return Image.fromarray(array)


def _flatten_alpha(image: Image.Image, background: int = 255) -> Image.Image:
    """Composite transparency onto a plain background (white by default), return RGB."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (background,) * 3 + (255,))
        return Image.alpha_composite(canvas, rgba).convert("RGB")
    return image.convert("RGB")


def centre_crop(image: Image.Image, *, aspect: float) -> Image.Image:
    """The largest centred region of ``image`` with width/height == ``aspect``."""
    w, h = image.size
    if w / h > aspect:
        new_w = max(1, round(h * aspect))
        left = (w - new_w) // 2
        return image.crop((left, 0, left + new_w, h))
    new_h = max(1, round(w / aspect))
    top = (h - new_h) // 2
    return image.crop((0, top, w, top + new_h))


def _border_mean(gray: np.ndarray) -> float:
    """Mean of the outermost rows and columns of a 2-D array."""
    edge = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    return float(edge.mean())


def photo_to_input(
    image: Image.Image | np.ndarray,
    spec: InputSpec,
    *,
    invert: bool | Literal["auto"] = "auto",
) -> np.ndarray:
    """Frame any picture for the model: uint8 ``[C, H, W]`` as in ``spec``.

    Transparency goes onto white, the picture is centre-cropped to the model's aspect ratio
    and resized (LANCZOS; BOX when shrinking by a lot, which averages like a camera sensor).
    For a dark-background model, ``invert="auto"`` inverts a picture whose border is light
    (a dark digit on paper becomes a light digit on black, as in MNIST).
    """
    if isinstance(image, np.ndarray):
        image = array_to_image(image)
    image = _flatten_alpha(image)
    image = centre_crop(image, aspect=spec.width / spec.height)
    image = image.convert("L") if spec.channels == 1 else image
    resample = (
        Image.Resampling.BOX if image.width >= 4 * spec.width else Image.Resampling.LANCZOS
    )
    image = image.resize((spec.width, spec.height), resample)
    out = np.asarray(image, dtype=np.uint8)
    if spec.channels == 1:
        out = out[None]
    else:
        out = out.transpose(2, 0, 1)
    do_invert = invert
    if invert == "auto":
        do_invert = spec.dark_background and _border_mean(out.mean(axis=0)) > 127
    if do_invert:
        out = 255 - out
    return np.ascontiguousarray(out)


def sketch_to_input(sketch: np.ndarray, spec: InputSpec, *, min_ink: int = 8) -> np.ndarray:
    """A sketchpad drawing ``[H, W(, 3|4)]`` uint8 as a model input ``[C, H, W]`` uint8.

    Strokes may be dark on light (a black pen on a white or transparent canvas) or light on
    dark: the canvas colour is read from the border. Ink is cropped to its bounding box,
    scaled (aspect kept) into ``spec.digit_box`` of the frame and placed so its centre of
    mass sits at the centre, as MNIST digits were prepared. Raises ``ValueError`` when
    fewer than ``min_ink`` pixels were drawn.
    """
    image = array_to_image(sketch)
    gray = np.asarray(_flatten_alpha(image).convert("L"), dtype=np.float32)
    if _border_mean(gray) > 127:
        gray = 255.0 - gray  # ink becomes light on black
    ink = gray > 40
    if int(ink.sum()) < min_ink:
        raise ValueError("the sketch is empty: draw a digit on the canvas first")
    ys, xs = np.nonzero(ink)
    crop = gray[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    box_h, box_w = spec.height * spec.digit_box, spec.width * spec.digit_box
    scale = min(box_h / crop.shape[0], box_w / crop.shape[1])
    new_h = max(1, round(crop.shape[0] * scale))
    new_w = max(1, round(crop.shape[1] * scale))
    small = Image.fromarray(crop.astype(np.uint8)).resize((new_w, new_h), Image.Resampling.LANCZOS)
    small_arr = np.asarray(small, dtype=np.float32)
    total = small_arr.sum()
    if total > 0:
        yy, xx = np.indices(small_arr.shape)
        cy, cx = (yy * small_arr).sum() / total, (xx * small_arr).sum() / total
    else:
        cy, cx = (new_h - 1) / 2, (new_w - 1) / 2
    top = int(np.rint((spec.height - 1) / 2 - cy))
    left = int(np.rint((spec.width - 1) / 2 - cx))
    top = min(max(top, 0), spec.height - new_h)
    left = min(max(left, 0), spec.width - new_w)
    frame = np.zeros((spec.height, spec.width), dtype=np.uint8)
    frame[top : top + new_h, left : left + new_w] = np.clip(small_arr, 0, 255).astype(np.uint8)
    if not spec.dark_background:
        frame = 255 - frame  # models trained on dark-on-light pictures get dark ink back
    return np.repeat(frame[None], spec.channels, axis=0)


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
