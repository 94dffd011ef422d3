"""What the demo needs to know about a model, read from its contract (``vaekit.json``).

The exporter writes these keys; the demo never re-derives them from a dataset name:

``background``   ``"dark"`` (light strokes on black, as MNIST) or ``"light"``
``framing``      how training framed the pictures, applied to uploads the same way:
                 ``{"method": "centre-crop", "crop_fraction": f}``: the largest centred region
                 of the model's aspect ratio, then its centred ``f`` (CelebA: 140/178), or
                 ``{"method": "ink-box", "box": b, "centre": "mass" | "box"}``: the strokes'
                 bounding box scaled into ``b`` of the frame and centred by centre of mass or
                 by box (MNIST: 20/28, mass; Fashion-MNIST: 1.0, box)
``class_names``  the classes a conditional model takes (``[]`` for an unconditional one: the
                 demo then names classes after the built-in examples' labels)
``plottable``    whether the latent space can be drawn as a plane (``latent_dim == 2``)
``num_classes``  > 0 for a conditional model (its decoder takes a class label)

An export made before these keys existed still works: each missing fact is derived from
what the export holds (the latent size, the built-in examples' pixels and class names), and
:attr:`ModelFacts.derived` lists which ones were, so the log can say "re-export".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from vaekit.format import CONTRACT_FILE, image_shape

BACKGROUNDS = ("dark", "light")
FRAMING_METHODS = ("centre-crop", "ink-box")
CENTRES = ("mass", "box")
INK_LEVEL = 40  # a pixel brighter than this (on a dark background) is ink
FRAMING_KEYS = {"centre-crop": {"method", "crop_fraction"}, "ink-box": {"method", "box", "centre"}}
#: the contract keys this module reads (beyond the image shape and latent size)
CONSUMED_KEYS = ("background", "framing", "class_names", "plottable", "num_classes")


@dataclass(frozen=True)
class Framing:
    """How training framed its pictures (see the module docstring)."""

    method: str = "centre-crop"
    crop_fraction: float = 1.0
    box: float = 1.0
    centre: str = "mass"

    def __post_init__(self) -> None:
        if self.method not in FRAMING_METHODS:
            raise ValueError(f"framing method must be one of {FRAMING_METHODS}, got {self.method!r}")
        for name in ("crop_fraction", "box"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 < v <= 1:
                raise ValueError(f"framing {name} must be a number in (0, 1], got {v!r}")
        if self.centre not in CENTRES:
            raise ValueError(f"framing centre must be one of {CENTRES}, got {self.centre!r}")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Framing:
        if not isinstance(d, Mapping):
            raise ValueError(f"framing must be an object such as {{\"method\": \"centre-crop\"}}, got {d!r}")
        method = d.get("method", "centre-crop")
        if not isinstance(method, str) or method not in FRAMING_KEYS:  # a list is unhashable
            raise ValueError(f"framing method must be one of {FRAMING_METHODS}, got {method!r}")
        unknown = set(d) - FRAMING_KEYS[method]
        if unknown:
            raise ValueError(f"framing {method!r} takes {sorted(FRAMING_KEYS[method])}, "
                             f"not {sorted(unknown)}")
        return cls(**dict(d))

    def to_dict(self) -> dict[str, Any]:
        if self.method == "centre-crop":
            return {"method": self.method, "crop_fraction": self.crop_fraction}
        return {"method": self.method, "box": self.box, "centre": self.centre}


@dataclass(frozen=True)
class ModelFacts:
    """The facts of one model the demo acts on (see the module docstring)."""

    channels: int
    height: int
    width: int
    latent_dim: int
    dataset: str = "unknown"
    background: str = "light"
    framing: Framing = field(default_factory=Framing)
    class_names: tuple[str, ...] = ()
    plottable: bool = False
    num_classes: int = 0
    derived: tuple[str, ...] = ()  # the facts not in the contract, derived here

    @property
    def dark_background(self) -> bool:
        return self.background == "dark"

    @property
    def conditional(self) -> bool:
        return self.num_classes > 0

    @classmethod
    def from_contract(cls, contract: Mapping[str, Any], *, example_images: np.ndarray | None = None,
                      example_classes: tuple[str, ...] = ()) -> ModelFacts:
        """The facts in ``contract``; missing ones derived from the examples (uint8 [N, C, H, W])."""
        (c, h, w), d = image_shape(contract), int(contract["latent_dim"])
        where = f"{CONTRACT_FILE} of {contract.get('checkpoint', 'this model')}"
        derived: list[str] = []
        have = example_images is not None and len(example_images) > 0

        background = contract.get("background")
        if background is None:
            derived.append("background")
            background = derive_background(example_images) if have else "light"
        elif background not in BACKGROUNDS:
            raise ValueError(f"{where}: background must be one of {BACKGROUNDS}, got {background!r}; "
                             "re-export the model")

        framing = contract.get("framing")
        if framing is None:
            derived.append("framing")
            framing = derive_framing(example_images) if have and background == "dark" else Framing()
        else:
            try:
                framing = Framing.from_dict(framing)
            except ValueError as e:
                raise ValueError(f"{where}: {e}; re-export the model") from None

        names = contract.get("class_names")
        if names is not None and (not isinstance(names, (list, tuple))
                                  or not all(isinstance(n, str) for n in names)):
            raise ValueError(f"{where}: class_names must be a list of strings, got {names!r}")
        if not names:  # absent, or [] (an unconditional model): the examples' labels, if any
            derived.append("class_names")
            names = tuple(example_classes)

        plottable = contract.get("plottable")
        if plottable is None:
            derived.append("plottable")
            plottable = d == 2
        plottable = bool(plottable) and d == 2  # the explorer draws exactly two axes

        num_classes = contract.get("num_classes") or 0
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 0:
            raise ValueError(f"{where}: num_classes must be a whole number >= 0, got {num_classes!r}")
        if num_classes and len(names) not in (0, num_classes):
            raise ValueError(f"{where}: {len(names)} class_names for num_classes={num_classes}; "
                             "re-export the model")
        return cls(channels=c, height=h, width=w, latent_dim=d,
                   dataset=str(contract.get("dataset") or "unknown"), background=background,
                   framing=framing, class_names=tuple(names), plottable=plottable,
                   num_classes=num_classes, derived=tuple(derived))

    def class_name(self, k: int) -> str:
        return self.class_names[k] if 0 <= k < len(self.class_names) else str(k)

    def subject(self) -> str:
        """What the pictures show, for labels such as "Draw ...": from the class names."""
        if not self.class_names:
            return f"a picture like the {self.dataset} images this model learnt"
        shown = ", ".join(self.class_names[:10]) + (", ..." if len(self.class_names) > 10 else "")
        return f"one of: {shown}"


def _border(images: np.ndarray) -> np.ndarray:
    grey = images.astype(np.float32).mean(axis=1)  # [N, H, W]
    return np.concatenate([grey[:, 0], grey[:, -1], grey[:, :, 0], grey[:, :, -1]], axis=1)


def derive_background(images: np.ndarray) -> str:
    """``"dark"`` when the examples' borders are mostly black (strokes on black), else light."""
    return "dark" if float(np.median(_border(np.asarray(images)))) < 64 else "light"


def derive_framing(images: np.ndarray, *, limit: int = 500) -> Framing:
    """The ink-box framing of light-on-dark examples: the median size of their strokes' box
    (on the pixel grid) and whether they sit centred by mass or by box."""
    images = np.asarray(images)[:limit]
    _, _, h, w = images.shape
    sizes, mass_err, box_err = [], [], []
    for img in images.astype(np.float32).mean(axis=1):
        ys, xs = np.nonzero(img > INK_LEVEL)
        if len(ys) < 4:
            continue
        bh, bw = ys.max() - ys.min() + 1, xs.max() - xs.min() + 1
        sizes.append(max(bh / h, bw / w))
        total = img.sum()
        yy, xx = np.indices(img.shape)
        cy, cx = (yy * img).sum() / total, (xx * img).sum() / total
        mid_y, mid_x = (h - 1) / 2, (w - 1) / 2
        mass_err.append(np.hypot(cy - mid_y, cx - mid_x))
        box_err.append(np.hypot((ys.min() + ys.max()) / 2 - mid_y, (xs.min() + xs.max()) / 2 - mid_x))
    if not sizes:
        return Framing()
    box = min(1.0, round(float(np.median(sizes)) * h) / h)
    centre = "mass" if np.mean(mass_err) <= np.mean(box_err) else "box"
    return Framing(method="ink-box", box=box, centre=centre)
