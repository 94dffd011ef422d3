"""The four building blocks of the U-Net-style VAE.

Every block keeps the batch dimension ``N`` and works on ``[N, C, H, W]`` tensors. The
constructors are keyword-only so a call site reads as a spec (``ConvBlock(in_channels=32,
out_channels=64)``) and a typo is an error rather than a silently ignored flag.
"""

from __future__ import annotations

from torch import Tensor, nn

NORMS = ("group", "batch", "none")


def make_norm(kind: str, channels: int, *, groups: int = 8) -> nn.Module:
    """A normalisation layer by name: ``group`` (GroupNorm), ``batch`` or ``none``."""
    if kind == "group":
        g = min(groups, channels)
        while channels % g:  # largest divisor of `channels` not above `groups`
            g -= 1
        return nn.GroupNorm(g, channels)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}; choose one of {NORMS}")


class ConvBlock(nn.Module):
    """norm -> SiLU -> 3x3 conv, twice, with a residual path.

    ``[N, in_channels, H, W] -> [N, out_channels, H, W]``. The residual path is the identity
    when the channel count is unchanged and a 1x1 conv only when it changes.
    """

    def __init__(self, *, in_channels: int, out_channels: int, norm: str = "group", groups: int = 8):
        super().__init__()
        self.body = nn.Sequential(
            make_norm(norm, in_channels, groups=groups),
            nn.SiLU(),
            nn.Conv2d(in_channels, out_channels, 3, padding=1),
            make_norm(norm, out_channels, groups=groups),
            nn.SiLU(),
            nn.Conv2d(out_channels, out_channels, 3, padding=1),
        )
        self.skip = (
            nn.Identity() if in_channels == out_channels else nn.Conv2d(in_channels, out_channels, 1)
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.skip(x) + self.body(x)


class ResidualBlock(ConvBlock):
    """A channel-preserving :class:`ConvBlock` for the bottleneck: ``[N, C, H, W] -> same``."""

    def __init__(self, *, channels: int, norm: str = "group", groups: int = 8):
        super().__init__(in_channels=channels, out_channels=channels, norm=norm, groups=groups)


class Downsample(nn.Module):
    """Strided 3x3 conv that halves the spatial size: ``[N, C, H, W] -> [N, C, H/2, W/2]``.

    ``H`` and ``W`` must be even; the model asserts that once, for the whole stack.
    """

    def __init__(self, *, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x)


class Upsample(nn.Module):
    """Nearest-neighbour x2 then 3x3 conv: ``[N, C, H, W] -> [N, C, 2H, 2W]``.

    Nearest + conv rather than a transposed conv: no checkerboard artefacts, and both ops
    export to every ONNX runtime.
    """

    def __init__(self, *, channels: int):
        super().__init__()
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(self.up(x))
