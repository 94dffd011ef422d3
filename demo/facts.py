"""What the demo needs to know about a model, read from its typed contract (``vaekit.json``).

The exporter writes these facts; the demo never re-derives them from a dataset name. Their
vocabulary and checks live in :mod:`vaekit.format` (:class:`~vaekit.format.Contract`;
``background`` and ``framing``: :mod:`vaekit.format.framing`):

``background``   ``"dark"`` or ``"light"``
``framing``      how training framed the pictures (:class:`~vaekit.format.Framing`)
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
from vaekit.format import (  # noqa: F401  (the framing vocabulary, re-exported for the demo's modules)
    BACKGROUNDS,
    CENTRES,
    CONTRACT_FILE,
    FRAMING_KEYS,
    FRAMING_METHODS,
    Contract,
    Framing,
    check_background,
    image_shape,
    latent_is_plottable,
)

INK_LEVEL = 40  # a pixel brighter than this (on a dark background) is ink
#: the contract keys this module reads (beyond the image shape and latent size)
CONSUMED_KEYS = ("background", "framing", "class_names", "plottable", "num_classes")


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
    def from_contract(cls, contract: Contract | Mapping[str, Any], *, example_images: np.ndarray | None = None,
                      example_classes: tuple[str, ...] = ()) -> ModelFacts:
        """The facts of a typed :class:`~vaekit.format.Contract` (or of a partial contract dict,
        each key checked by the same records); missing ones derived from the examples (uint8
        [N, C, H, W])."""
        where = f"{CONTRACT_FILE} of {_get(contract, 'checkpoint') or 'this model'}"
        try:
            return cls._read(contract, example_images, tuple(example_classes))
        except ValueError as e:
            raise ValueError(f"{where}: {e}; re-export the model") from None

    @classmethod
    def _read(cls, contract: Contract | Mapping[str, Any], example_images: np.ndarray | None,
              example_classes: tuple[str, ...]) -> ModelFacts:
        (c, h, w), d = image_shape(contract), int(_get(contract, "latent_dim"))
        derived: list[str] = []
        have = example_images is not None and len(example_images) > 0

        background = _get(contract, "background")
        if background is None:
            derived.append("background")
            background = derive_background(example_images) if have else "light"
        check_background(background)

        framing = _get(contract, "framing")
        if framing is None:
            derived.append("framing")
            framing = derive_framing(example_images) if have and background == "dark" else Framing()
        elif not isinstance(framing, Framing):
            framing = Framing.load(framing)

        names = _get(contract, "class_names")
        if names is not None and (not isinstance(names, (list, tuple))
                                  or not all(isinstance(n, str) for n in names)):
            raise ValueError(f"class_names must be a list of strings, got {names!r}")
        if not names:  # absent, or [] (an unconditional model): the examples' labels, if any
            derived.append("class_names")
            names = example_classes

        plottable = _get(contract, "plottable")
        if plottable is None:
            derived.append("plottable")
            plottable = latent_is_plottable(d)
        plottable = bool(plottable) and latent_is_plottable(d)  # the explorer draws exactly two axes

        num_classes = _get(contract, "num_classes") or 0
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 0:
            raise ValueError(f"num_classes must be a whole number >= 0, got {num_classes!r}")
        if num_classes and len(names) not in (0, num_classes):
            raise ValueError(f"{len(names)} class_names for num_classes={num_classes}")
        return cls(channels=c, height=h, width=w, latent_dim=d,
                   dataset=str(_get(contract, "dataset") or "unknown"), background=background,
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


def _get(contract: Contract | Mapping[str, Any], key: str) -> Any:
    """A fact of the typed contract (its attribute), or of a partial contract dict."""
    return contract.get(key) if isinstance(contract, Mapping) else getattr(contract, key, None)


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
