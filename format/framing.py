"""How a model's pictures look: ``vaekit.json["background"]`` and ``vaekit.json["framing"]``.

Training writes these facts (one entry per dataset) and every consumer reads them from here,
so a spelling lives once:

``background``   ``"dark"`` (light strokes on black, as MNIST) or ``"light"``
``framing``      how training framed the pictures, applied to uploads the same way:
                 ``{"method": "centre-crop", "crop_fraction": f}``: the largest centred region
                 of the model's aspect ratio, then its centred ``f`` (CelebA: 140/178), or
                 ``{"method": "ink-box", "box": b, "centre": "mass" | "box"}``: the strokes'
                 bounding box scaled into ``b`` of the frame and centred by centre of mass or
                 by box (MNIST: 20/28, mass; Fashion-MNIST: 1.0, box)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

BACKGROUNDS = ("dark", "light")
FRAMING_METHODS = ("centre-crop", "ink-box")
CENTRES = ("mass", "box")
#: the keys each framing method takes
FRAMING_KEYS = {"centre-crop": {"method", "crop_fraction"}, "ink-box": {"method", "box", "centre"}}


def check_background(value: Any) -> str:
    """``value`` when it is one of :data:`BACKGROUNDS`, else ValueError naming the choices."""
    if not isinstance(value, str) or value not in BACKGROUNDS:
        raise ValueError(f"background must be one of {BACKGROUNDS}, got {value!r}")
    return value


@dataclass(frozen=True)
class Framing:
    """How training framed its pictures (see the module docstring)."""

    method: str = "centre-crop"
    crop_fraction: float = 1.0
    box: float = 1.0
    centre: str = "mass"

    def __post_init__(self) -> None:
        if not isinstance(self.method, str) or self.method not in FRAMING_METHODS:
            raise ValueError(f"framing method must be one of {FRAMING_METHODS}, got {self.method!r}")
        for name in ("crop_fraction", "box"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 < v <= 1:
                raise ValueError(f"framing {name} must be a number in (0, 1], got {v!r}")
        if self.centre not in CENTRES:
            raise ValueError(f"framing centre must be one of {CENTRES}, got {self.centre!r}")

    @classmethod
    def load(cls, d: Mapping[str, Any], *, where: str = "framing") -> Framing:
        """The record of ``vaekit.json["framing"]``; a key the method does not take is an error."""
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
