"""Framing a picture the way the model's training pictures were framed: numpy + PIL only.

* :func:`photo_to_input` frames an upload as the contract's ``framing`` says (a centre
  crop, or strokes scaled into a box), greyscale or RGB, and for dark-background models
  inverts dark-on-light pictures.
* :func:`sketch_to_input` frames a sketchpad drawing the same way (MNIST: ink scaled into
  a 20x20 box and centred by centre of mass in 28x28).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from PIL import Image
from vaekit.format import Framing

from .facts import INK_LEVEL, ModelFacts
from .reading import array_to_image, to_8bit


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
