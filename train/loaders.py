"""What a dataset loader returns and how it is called, and the torchvision IDX loader.

A loader reads one split of one dataset as uint8 tensors (:class:`ImageSplit`). It is called
as ``loader(config, split, image_size=..., limit=...)`` (:class:`Loader`): ``image_size`` is the
side of the square images the dataset's record promises, ``limit`` the number of images to
keep (0: all), which :func:`vaekit.train.data.load_split` sets for the training split only.
The CelebA loader is in :mod:`vaekit.train.celeba`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import torch
from torch import Tensor

if TYPE_CHECKING:
    from .config import DataConfig

SPLITS = ("train", "valid", "test")


class DatasetNotFoundError(FileNotFoundError):
    """A dataset is not where it was looked for; the message says how to get it."""


@dataclass
class ImageSplit:
    """One split: ``images`` uint8 ``[N, C, H, W]``, ``labels`` int64 ``[N]`` (-1 if none)."""

    images: Tensor
    labels: Tensor
    classes: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.images)

    def float_batch(self, index: Tensor | slice) -> Tensor:
        return self.images[index].float().div_(255)


class Loader(Protocol):
    """``(config, split, *, image_size, limit) -> ImageSplit``: uint8 ``[N, C, image_size,
    image_size]`` images of ``split``, at most ``limit`` of them (0: all)."""

    def __call__(self, config: DataConfig, split: str, *, image_size: int, limit: int) -> ImageSplit:
        ...


def not_found(name: str, root: Path, files: list[str], fetch_hint: str) -> DatasetNotFoundError:
    """The error for a dataset missing under ``root``: the files looked for and both ways to get them."""
    listed = "\n".join(f"  {root / f}" for f in files)
    return DatasetNotFoundError(
        f"{name} not found under data root {root}. Expected:\n{listed}\n"
        f"Get it either way: (1) pass --download to fetch it with torchvision (needs internet), "
        f"or (2) {fetch_hint} and pass --data-root to the folder that contains it."
    )


def torchvision_idx(cls_name: str, folder: str) -> Loader:
    """A loader for a torchvision IDX dataset (``torchvision.datasets.<cls_name>``, files in
    ``<root>/<folder>/raw/``): its test set, and a seeded validation hold-out of its training set."""

    def load(config: DataConfig, split: str, *, image_size: int, limit: int) -> ImageSplit:
        import torchvision.datasets as tvd

        root = config.root()
        cls = getattr(tvd, cls_name)
        try:
            ds = cls(root=str(root), train=split != "test", download=config.download)
        except RuntimeError as e:  # torchvision: "Dataset not found. You can use download=True"
            files = [f"{folder}/raw/{n}" for n in (
                "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")]
            raise not_found(
                cls_name, root, files,
                "copy the four uncompressed IDX files into that raw/ folder",
            ) from e
        images, labels = ds.data.unsqueeze(1).contiguous(), ds.targets.long()
        if images.shape[-2:] != (image_size, image_size):
            raise ValueError(f"the {cls_name} files under {root / folder} hold "
                             f"{tuple(images.shape[-2:])} images, not {image_size}x{image_size}: "
                             f"use the official IDX files")
        if split != "test":
            images, labels = _holdout(images, labels, split, config.val_size)
        if limit:
            images, labels = images[:limit], labels[:limit]
        return ImageSplit(images, labels)

    return load


def _holdout(images: Tensor, labels: Tensor, split: str, val_size: int) -> tuple[Tensor, Tensor]:
    """Seeded validation hold-out from a training set that has no official one."""
    n = len(images)
    val = min(val_size, n // 5)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(1234))
    idx = perm[:val] if split == "valid" else perm[val:].sort().values
    return images[idx], labels[idx]
