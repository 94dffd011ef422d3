"""A small, norm-free decoder distilled from a trained VAE's decoder (the "fast decoder").

``z [N, D] (, label [N]) -> image [N, C, H, W] in [0, 1]``, the same contract as the
teacher's ``decoder.onnx``, built only from Linear, 3x3 Conv, an activation and x2
upsampling (nearest, or a conv followed by pixel shuffle): no normalisation layer, so ONNX
Runtime runs it as one chain of fused convolutions.

Layout for ``widths = (w0, ..., w{S-1})`` (S upsamplings, start side ``H / 2**S``)::

    Linear(D -> w0 * s * s) -> act                                  [N, w0, s, s]
    stage i: blocks x (Conv3x3 -> act), then x2 up to w{i+1}        [N, w{i+1}, 2s, 2s]
    last stage: blocks x (Conv3x3 -> act), then x2 up to C -> clip [N, C, H, W]

With ``upsample="pixel_shuffle"`` the last upsampling is a Conv3x3 to ``4 C`` channels
and a PixelShuffle, so no convolution runs at the full image size (the cheapest choice);
with ``"nearest"`` it is a nearest-neighbour resize and a Conv3x3 at full size.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from torch import Tensor, nn

UPSAMPLES = ("pixel_shuffle", "nearest")
ACTIVATIONS = {"relu": nn.ReLU, "silu": nn.SiLU, "leaky_relu": lambda: nn.LeakyReLU(0.1)}
MAX_WIDTH = 1024
MAX_BLOCKS = 8


@dataclass(frozen=True, kw_only=True)
class StudentConfig:
    """Everything that rebuilds a :class:`StudentDecoder` (``student/config.json["model"]``).

    ``channels``, ``height``, ``width``, ``latent_dim`` and ``num_classes`` are the teacher's
    contract; ``widths``, ``blocks``, ``upsample`` and ``activation`` are the student's own.
    """

    channels: int
    height: int
    width: int
    latent_dim: int
    num_classes: int = 0
    widths: tuple[int, ...] = (64, 64, 48, 32)
    blocks: int = 1
    upsample: str = "pixel_shuffle"
    activation: str = "relu"

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        for name in ("channels", "height", "width", "latent_dim"):
            if not getattr(self, name) >= 1:
                raise ValueError(f"student {name} must be >= 1, got {getattr(self, name)}")
        if not self.num_classes >= 0:
            raise ValueError(f"student num_classes must be >= 0, got {self.num_classes}")
        if not self.widths or not all(1 <= w <= MAX_WIDTH for w in self.widths):
            raise ValueError(f"--widths must be one or more whole numbers in 1..{MAX_WIDTH}, got "
                             f"{list(self.widths)} (e.g. --widths 64 64 48 32)")
        if not 0 <= self.blocks <= MAX_BLOCKS:
            raise ValueError(f"--blocks must be in 0..{MAX_BLOCKS}, got {self.blocks}")
        if self.upsample not in UPSAMPLES:
            raise ValueError(f"unknown --upsample {self.upsample!r}; choose one of {UPSAMPLES}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"unknown --activation {self.activation!r}; choose one of {sorted(ACTIVATIONS)}")
        factor = 2 ** len(self.widths)
        if self.height % factor or self.width % factor:
            raise ValueError(
                f"{len(self.widths)} widths mean {len(self.widths)} x2 upsamplings, which do not "
                f"reach {self.height}x{self.width} from a whole side: pass fewer --widths "
                f"(28x28 takes 2, 64x64 up to 6)")

    @property
    def start(self) -> tuple[int, int]:
        """``(h, w)`` of the first feature map."""
        factor = 2 ** len(self.widths)
        return self.height // factor, self.width // factor

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["widths"] = list(self.widths)
        return d

    @classmethod
    def from_dict(cls, d: Any) -> StudentConfig:
        """The config of ``student/config.json["model"]``; unknown or missing keys are errors."""
        if not isinstance(d, dict):
            raise ValueError(f"a student model config must be a JSON object, got {type(d).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown student config keys {unknown}; known keys: {sorted(known)}")
        bad = [k for k, v in d.items() if k != "widths" and k not in ("upsample", "activation")
               and not (isinstance(v, int) and not isinstance(v, bool))]
        bad += [k for k in ("upsample", "activation") if k in d and not isinstance(d[k], str)]
        if "widths" in d and not (isinstance(d["widths"], list) and all(
                isinstance(w, int) and not isinstance(w, bool) for w in d["widths"])):
            bad.append("widths")
        if bad:
            raise ValueError(f"student config keys {sorted(bad)} have the wrong type (whole numbers, "
                             f"a list of whole numbers for widths, strings for upsample/activation)")
        try:
            return cls(**d)
        except TypeError as e:
            raise ValueError(f"student config incomplete: {e}") from e


def _up(c_in: int, c_out: int, kind: str) -> list[nn.Module]:
    """x2 upsampling from ``c_in`` to ``c_out`` channels: ``[N, c_in, h, w] -> [N, c_out, 2h, 2w]``."""
    if kind == "pixel_shuffle":
        return [nn.Conv2d(c_in, 4 * c_out, 3, padding=1), nn.PixelShuffle(2)]
    return [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c_in, c_out, 3, padding=1)]


class StudentDecoder(nn.Module):
    """``z [N, D] (, label [N]) -> image [N, C, H, W] in [0, 1]``; see the module docstring."""

    def __init__(self, config: StudentConfig):
        super().__init__()
        self.config = config
        act = ACTIVATIONS[config.activation]
        w0, (h, w) = config.widths[0], config.start
        self.start_shape = (w0, h, w)
        self.input_projection = nn.Linear(config.latent_dim, w0 * h * w)
        self.label_embedding = (nn.Embedding(config.num_classes, w0 * h * w)
                                if config.num_classes else None)
        layers: list[nn.Module] = [act()]
        outs = [*config.widths[1:], config.channels]
        for i, (c, c_next) in enumerate(zip(config.widths, outs)):
            for _ in range(config.blocks):
                layers += [nn.Conv2d(c, c, 3, padding=1), act()]
            layers += _up(c, c_next, config.upsample)
            if i < len(outs) - 1:
                layers.append(act())
        self.body = nn.Sequential(*layers)

    def raw(self, z: Tensor, label: Tensor | None = None) -> Tensor:
        """The image before clipping to [0, 1] (what the loss sees: its gradient never vanishes)."""
        h = self.input_projection(z)
        if self.label_embedding is not None:
            h = h + self.label_embedding(label)
        return self.body(h.unflatten(1, self.start_shape))

    def forward(self, z: Tensor, label: Tensor | None = None) -> Tensor:
        return self.raw(z, label).clamp(0.0, 1.0)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
