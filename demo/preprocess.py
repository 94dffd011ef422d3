"""Turning what a visitor gives the demo into what a model takes, and back: numpy + PIL only.

Nothing here knows about Gradio or ONNX Runtime, so every step is tested directly.

* :func:`open_image` reads an uploaded file and rejects what is not an image, an empty or
  a huge one with a :class:`ValueError` that says what to do instead.
* :func:`photo_to_input` frames an upload the way the training data was framed (the
  contract's ``framing``: a centre crop, or strokes scaled into a box), greyscale or RGB,
  and for dark-background models inverts dark-on-light pictures.
* :func:`sketch_to_input` frames a sketchpad drawing the same way (MNIST: ink scaled into
  a 20x20 box and centred by centre of mass in 28x28).
* :func:`tile` / :func:`to_display` lay out decoded images ``[N, C, H, W]`` as one uint8
  picture, upscaled by a whole factor so 28x28 digits are visible in a browser.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .facts import INK_LEVEL, Framing, ModelFacts

MAX_PIXELS = 40_000_000  # a 40-megapixel photo decodes to ~120 MB of RGB; beyond that, refuse
MAX_FILE_BYTES = 25 * 1024 * 1024
DISPLAY_TILE = 112  # decoded tiles are upscaled (nearest neighbour) to at least this many pixels
PAD = 2  # pixels between tiles of a grid or strip, before upscaling

@dataclass(frozen=True)
class InputSpec:
    """What a model's encoder takes: ``channels`` x ``height`` x ``width`` uint8 pictures,
    framed as its training pictures were.

    ``dark_background`` says the training images are light-on-dark (MNIST), so a
    dark-on-light upload or sketch is inverted; ``framing`` says how training framed them
    (:class:`~vaekit.demo.facts.Framing`: a centre crop, or strokes scaled into a box).
    """

    channels: int
    height: int
    width: int
    dark_background: bool = False
    framing: Framing = field(default_factory=Framing)

    def __post_init__(self) -> None:
        if self.channels not in (1, 3):
            raise ValueError(f"the demo handles 1- or 3-channel models, got {self.channels} channels")
        if self.height < 1 or self.width < 1:
            raise ValueError(f"image size must be positive, got {self.height}x{self.width}")

    @classmethod
    def from_facts(cls, facts: ModelFacts) -> InputSpec:
        """The spec of a model with these facts (read from its contract)."""
        return cls(channels=facts.channels, height=facts.height, width=facts.width,
                   dark_background=facts.dark_background, framing=facts.framing)

    @property
    def ink_box(self) -> float:
        """Fraction of the frame drawn strokes are scaled into (1.0 unless ink-box framing)."""
        return self.framing.box if self.framing.method == "ink-box" else 1.0


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


def _flatten_alpha(image: Image.Image, background: int = 255) -> Image.Image:
    """Composite transparency onto a plain background (white by default), return RGB."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (background,) * 3 + (255,))
        return Image.alpha_composite(canvas, rgba).convert("RGB")
    return image.convert("RGB")


def centre_crop(image: Image.Image, *, aspect: float, fraction: float = 1.0) -> Image.Image:
    """The centred ``fraction`` (of each side) of the largest centred region of ``image``
    with width/height == ``aspect``."""
    w, h = image.size
    if w / h > aspect:
        new_w, new_h = h * aspect, h
    else:
        new_w, new_h = w, w / aspect
    new_w, new_h = max(1, round(new_w * fraction)), max(1, round(new_h * fraction))
    left, top = (w - new_w) // 2, (h - new_h) // 2
    return image.crop((left, top, left + new_w, top + new_h))


def _border_mean(gray: np.ndarray) -> float:
    """Mean of the outermost rows and columns of a 2-D array."""
    edge = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    return float(edge.mean())


def _resample(src: int, dst: int) -> Image.Resampling:
    """LANCZOS, or BOX when shrinking by a lot (it averages like a camera sensor)."""
    return Image.Resampling.BOX if src >= 4 * dst else Image.Resampling.LANCZOS


def frame_ink(ink: np.ndarray, spec: InputSpec, *, min_ink: int = 8) -> np.ndarray | None:
    """Light strokes on black ``[C, H, W]`` (any size, float or uint8) framed as the training
    pictures were: the strokes' bounding box scaled (aspect kept) into ``spec.ink_box`` of the
    frame and centred by centre of mass or by box (``spec.framing.centre``).

    Returns uint8 ``[C, spec.height, spec.width]`` on black, or None when fewer than
    ``min_ink`` pixels are ink.
    """
    ink = np.asarray(ink, dtype=np.float32)
    grey = ink.mean(axis=0)
    mask = grey > INK_LEVEL
    if int(mask.sum()) < min_ink:
        return None
    ys, xs = np.nonzero(mask)
    crop = ink[:, ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    box_h, box_w = spec.height * spec.ink_box, spec.width * spec.ink_box
    scale = min(box_h / crop.shape[1], box_w / crop.shape[2])
    new_h = min(spec.height, max(1, round(crop.shape[1] * scale)))
    new_w = min(spec.width, max(1, round(crop.shape[2] * scale)))
    resample = _resample(crop.shape[2], new_w)
    small = np.stack([
        np.asarray(Image.fromarray(np.clip(p, 0, 255).astype(np.uint8)).resize((new_w, new_h), resample),
                   dtype=np.float32)
        for p in crop
    ])
    weight = small.mean(axis=0)
    total = weight.sum()
    if spec.framing.centre == "mass" and total > 0:
        yy, xx = np.indices(weight.shape)
        cy, cx = (yy * weight).sum() / total, (xx * weight).sum() / total
    else:
        cy, cx = (new_h - 1) / 2, (new_w - 1) / 2
    top = int(np.rint((spec.height - 1) / 2 - cy))
    left = int(np.rint((spec.width - 1) / 2 - cx))
    top = min(max(top, 0), spec.height - new_h)
    left = min(max(left, 0), spec.width - new_w)
    frame = np.zeros((ink.shape[0], spec.height, spec.width), dtype=np.uint8)
    frame[:, top : top + new_h, left : left + new_w] = np.clip(np.rint(small), 0, 255).astype(np.uint8)
    return frame


def _channels(image: Image.Image, spec: InputSpec) -> np.ndarray:
    """PIL RGB -> uint8 ``[C, H, W]`` with the model's channel count."""
    if spec.channels == 1:
        return np.asarray(image.convert("L"), dtype=np.uint8)[None]
    return np.asarray(image, dtype=np.uint8).transpose(2, 0, 1)


def photo_to_input(
    image: Image.Image | np.ndarray,
    spec: InputSpec,
    *,
    invert: bool | Literal["auto"] = "auto",
) -> np.ndarray:
    """Frame any picture for the model the way its training pictures were framed: uint8
    ``[C, H, W]`` as in ``spec``.

    Transparency goes onto white. ``centre-crop`` framing crops the centred region of the
    model's aspect ratio (and its ``crop_fraction``) and resizes; ``ink-box`` framing finds
    the strokes and scales their box into the frame, as :func:`frame_ink`. For a
    dark-background model, ``invert="auto"`` inverts a picture whose border is light (a dark
    digit on paper becomes a light digit on black, as in MNIST).
    """
    if isinstance(image, np.ndarray):
        image = array_to_image(image)
    image = _flatten_alpha(to_8bit(image))
    if spec.framing.method == "ink-box":
        framed = _photo_ink_box(image, spec, invert)
        if framed is not None:
            return framed
    image = centre_crop(image, aspect=spec.width / spec.height, fraction=spec.framing.crop_fraction)
    image = image.resize((spec.width, spec.height), _resample(image.width, spec.width))
    out = _channels(image, spec)
    do_invert = invert
    if invert == "auto":
        do_invert = spec.dark_background and _border_mean(out.mean(axis=0)) > 127
    if do_invert:
        out = 255 - out
    return np.ascontiguousarray(out)


def _photo_ink_box(image: Image.Image, spec: InputSpec, invert: bool | Literal["auto"]) -> np.ndarray | None:
    """Ink-box framing of a photo; None when it holds too little ink (then it is centre-cropped)."""
    longest = 8 * max(spec.height, spec.width)  # enough resolution for the box, bounded work
    if max(image.size) > longest:
        s = longest / max(image.size)
        image = image.resize((max(1, round(image.width * s)), max(1, round(image.height * s))),
                             Image.Resampling.BOX)
    x = _channels(image, spec).astype(np.float32)
    light_paper = _border_mean(x.mean(axis=0)) > 127
    dark_strokes = light_paper if invert == "auto" else (invert != spec.dark_background)
    ink = 255.0 - x if dark_strokes else x
    framed = frame_ink(ink, spec)
    if framed is None:
        return None
    return np.ascontiguousarray(framed if spec.dark_background else 255 - framed)


def sketch_to_input(sketch: np.ndarray, spec: InputSpec, *, min_ink: int = 8) -> np.ndarray:
    """A sketchpad drawing ``[H, W(, 3|4)]`` uint8 as a model input ``[C, H, W]`` uint8.

    Strokes may be dark on light (a black pen on a white or transparent canvas) or light on
    dark: the canvas colour is read from the border. Ink is cropped to its bounding box,
    scaled (aspect kept) into the model's ink box and centred, as :func:`frame_ink`. Raises
    ``ValueError`` when fewer than ``min_ink`` pixels were drawn.
    """
    image = array_to_image(sketch)
    gray = np.asarray(_flatten_alpha(image).convert("L"), dtype=np.float32)
    if _border_mean(gray) > 127:
        gray = 255.0 - gray  # ink becomes light on black
    frame = frame_ink(gray[None], spec, min_ink=min_ink)
    if frame is None:
        raise ValueError("the sketch is empty: draw on the canvas first")
    if not spec.dark_background:
        frame = 255 - frame  # models trained on dark-on-light pictures get dark ink back
    return np.repeat(frame, spec.channels, axis=0)


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
