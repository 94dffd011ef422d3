"""Training batches gathered on the training device from a resident uint8 copy of the data.

MNIST's 55,000 training images are 43 MB as uint8, CelebA's 14,283 faces at 64x64 are 176 MB:
both fit on any GPU, so the loop never copies a batch host-to-device. Each epoch's order is a
seeded permutation (drawn on the CPU, so every device and every rank sees the same one);
dynamic binarisation draws on the device from a generator seeded the same way.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor

from .data import ImageSplit, binarize


class DeviceFeed:
    """``epoch()`` yields ``(x float [B, C, H, W] in [0, 1] or {0, 1}, y int64 [B])``.

    ``binary``: draw each pixel from Bernoulli(intensity) (dynamic binarisation).
    ``channels_last``: hand the model NHWC-strided batches (faster convolutions on CUDA).
    """

    def __init__(self, data: ImageSplit, device: torch.device, *, binary: bool,
                 channels_last: bool = False):
        self.device = device
        self.images = data.images.to(device)
        self.labels = data.labels.to(device)
        self.binary = binary
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format

    def __len__(self) -> int:
        return len(self.images)

    def steps_per_epoch(self, batch_size: int, world: int = 1) -> int:
        """Global batches per epoch; a last batch too small to give every rank an image is dropped."""
        full, rest = divmod(len(self), batch_size)
        return full + (1 if rest >= world else 0)

    def epoch(self, batch_size: int, *, seed: int, rank: int = 0, world: int = 1
              ) -> Iterator[tuple[Tensor, Tensor]]:
        """This rank's share of each global batch of ``batch_size`` images, in a seeded order."""
        order = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))
        order = order.to(self.device)
        noise = None
        if self.binary:
            noise = torch.Generator(device=self.device).manual_seed(seed)
        for start in range(0, self.steps_per_epoch(batch_size, world) * batch_size, batch_size):
            idx = order[start : start + batch_size].tensor_split(world)[rank]
            x = self.images[idx].to(dtype=torch.float32, memory_format=self.memory_format)
            x = x.div_(255)
            if noise is not None:
                x = binarize(x, noise)
            yield x, self.labels[idx]

