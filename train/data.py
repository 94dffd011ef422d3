"""Datasets as in-memory uint8 tensors, and seeded batching.

:func:`load_split` loads a split through the dataset's record (:mod:`vaekit.train.datasets`):
its loader at its image size, the training limit applied once, its class names attached, and
the images checked against the record's shape. :func:`presentation` is what the exporter
writes into ``vaekit.json`` about the dataset's pictures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import torch
from torch import Tensor

from .celeba import cache_folder, celeba_frame, framed_cache
from .config import DataConfig
from .datasets import Dataset, Derived, dataset_record
from .loaders import SPLITS, DatasetNotFoundError, ImageSplit

__all__ = [
    "PRESENTATION", "SPLITS", "DatasetNotFoundError", "ImageSplit", "batches", "binarize",
    "cache_folder", "celeba_frame", "framed_cache", "load_split", "presentation",
]

#: ``{dataset: config -> {"background": ..., "framing": ...}}``, read from the registry
PRESENTATION: Derived[Callable[[DataConfig], dict[str, Any]]] = Derived(lambda d: d.presentation)


def presentation(config: DataConfig) -> dict[str, Any]:
    """``{"background": ..., "framing": ...}`` of ``config.dataset``: how its pictures look and
    how its loader framed them, so that a consumer (the demo) frames a visitor's picture the
    same way without knowing dataset names."""
    return dataset_record(config.dataset).presentation(config)


def load_split(config: DataConfig, split: str) -> ImageSplit:
    """Load ``split`` (train/valid/test) of ``config.dataset`` as uint8 tensors.

    ``config.limit`` keeps the first images of the training split only."""
    record = dataset_record(config.dataset)
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {SPLITS}")
    limit = config.limit if split == "train" else 0
    data = record.loader(config, split, image_size=record.image_size, limit=limit)
    problem = _broken_promise(record, data, limit)
    if problem:
        raise ValueError(f"the {record.name} loader returned {problem}: fix the loader or the "
                         f"record in vaekit/train/datasets.py")
    return replace(data, classes=record.classes)


def _broken_promise(record: Dataset, data: ImageSplit, limit: int) -> str:
    """What of its record's promise ``data`` breaks (shape, dtype, limit, labels), or ''."""
    shape = (record.channels, record.image_size, record.image_size)
    if tuple(data.images.shape[1:]) != shape or data.images.dtype != torch.uint8:
        return f"{data.images.dtype} images of {tuple(data.images.shape[1:])}, not uint8 {shape}"
    if limit and len(data) > limit:
        return f"{len(data)} images, more than the limit of {limit}"
    if len(data.labels) != len(data):
        return f"{len(data.labels)} labels for {len(data)} images"
    low, high = (0, len(record.classes) - 1) if record.classes else (-1, -1)
    if len(data) and not (low <= int(data.labels.min()) and int(data.labels.max()) <= high):
        return (f"labels in [{int(data.labels.min())}, {int(data.labels.max())}], not in "
                f"[{low}, {high}] ({len(record.classes)} classes)")
    return ""


def batches(
    data: ImageSplit, batch_size: int, *, shuffle: bool, generator: torch.Generator | None = None
) -> Iterator[tuple[Tensor, Tensor]]:
    """Yield ``(images float [B, C, H, W] in [0, 1], labels [B])``."""
    n = len(data)
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    for start in range(0, n, batch_size):
        idx = order[start : start + batch_size]
        yield data.float_batch(idx), data.labels[idx]


def binarize(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Dynamic binarisation: each pixel is 1 with probability equal to its intensity."""
    return torch.bernoulli(x, generator=generator)
