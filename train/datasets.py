"""The datasets vaekit trains on: one :class:`Dataset` record each, in one registry.

Everything that depends on the dataset is read from its record: the CLI's ``--dataset``
choices and the model presets (:data:`PRESETS`), the loader and the class names
(:func:`vaekit.train.data.load_split`), and the presentation the exporter writes into
``vaekit.json`` (:func:`vaekit.train.data.presentation`). Adding a dataset is one
:func:`register_dataset` call below, plus its fake files in ``tests/train/test_datasets.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from vaekit.format import Framing, check_background

from . import celeba
from .loaders import Loader, torchvision_idx

if TYPE_CHECKING:
    from .config import DataConfig

T = TypeVar("T")

#: how a dataset's pictures look: ink on a dark ground (digits) or a lit photograph
#: model keys the record holds in its own fields (shape and likelihood)
SHAPE_KEYS = ("in_channels", "image_size", "likelihood")


@dataclass(frozen=True, kw_only=True)
class Dataset:
    """One dataset: its images, the model it needs by default, and how its pictures look.

    * ``channels`` x ``image_size`` x ``image_size``: the shape of every image the loader returns.
    * ``likelihood`` and ``model``: the defaults of a model of it (``model`` holds further
      :class:`~vaekit.train.config.VAEConfig` keys: ``dim``, ``dim_mults``, ``latent_dim``);
      command-line flags override them (:meth:`preset`).
    * ``loader``: ``(config, split, *, image_size, limit) -> ImageSplit`` (uint8
      ``[N, channels, image_size, image_size]``, labels ``[N]`` in ``range(len(classes))``, or
      -1 where the dataset has no classes).
    * ``classes``: the class names, in label order (empty: unlabelled).
    * ``background`` and ``framing``: what the exporter writes into the contract so that a
      consumer frames a visitor's picture as the loader framed these (``framing(config)`` ->
      ``{"method": ..., ...}``).
    """

    name: str
    channels: int
    image_size: int
    likelihood: str
    model: Mapping[str, Any] = field(default_factory=dict)
    loader: Loader
    classes: tuple[str, ...] = ()
    background: str
    framing: Callable[[DataConfig], Framing]

    def __post_init__(self) -> None:
        if not self.name or self.name != self.name.strip():
            raise ValueError(f"a dataset needs a name without surrounding spaces, got {self.name!r}")
        if self.channels < 1 or self.image_size < 1:
            raise ValueError(f"dataset {self.name!r}: channels and image_size must be >= 1, got "
                             f"{self.channels} and {self.image_size}")
        clash = sorted(set(self.model) & set(SHAPE_KEYS))
        if clash:
            raise ValueError(f"dataset {self.name!r}: {clash} belong in the record's own fields "
                             f"(channels, image_size, likelihood), not in model")
        object.__setattr__(self, "model", MappingProxyType(dict(self.model)))  # read-only
        try:
            check_background(self.background)
        except ValueError as e:
            raise ValueError(f"dataset {self.name!r}: {e}") from None

    def preset(self) -> dict[str, Any]:
        """The model defaults of this dataset, as :class:`VAEConfig` keyword arguments."""
        return {"in_channels": self.channels, "image_size": self.image_size,
                "likelihood": self.likelihood, **self.model}

    def presentation(self, config: DataConfig) -> dict[str, Any]:
        """``{"background": ..., "framing": {...}}`` as the export contract holds it."""
        return {"background": self.background, "framing": self.framing(config).to_dict()}


#: every dataset, by name, in the order --help lists them
DATASETS: dict[str, Dataset] = {}


def register_dataset(dataset: Dataset) -> Dataset:
    """Add ``dataset`` to :data:`DATASETS` (a name registered twice is an error)."""
    if dataset.name in DATASETS:
        raise ValueError(f"dataset {dataset.name!r} is registered twice")
    DATASETS[dataset.name] = dataset
    return dataset


def dataset_record(name: str) -> Dataset:
    """The record of dataset ``name`` (ValueError naming the known ones otherwise)."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}: choose one of {sorted(DATASETS)} (--dataset)")
    return DATASETS[name]


class Derived(Mapping[str, T], Generic[T]):
    """A read-only table ``{name: derive(record)}`` over :data:`DATASETS`, read on each access,
    so that a dataset registered later is in it too."""

    def __init__(self, derive: Callable[[Dataset], T]) -> None:
        self._derive = derive

    def __getitem__(self, name: str) -> T:
        return self._derive(DATASETS[name])

    def __iter__(self) -> Iterator[str]:
        return iter(DATASETS)

    def __len__(self) -> int:
        return len(DATASETS)


#: ``{dataset: VAEConfig keyword arguments}``: the model defaults a dataset needs
PRESETS: Derived[dict[str, Any]] = Derived(Dataset.preset)


register_dataset(Dataset(
    name="mnist", channels=1, image_size=28, likelihood="bernoulli",
    model={"dim": 16, "dim_mults": (1, 2)},
    loader=torchvision_idx("MNIST", "MNIST"),
    classes=tuple(str(i) for i in range(10)),
    # NIST digits were scaled into a 20x20 box and centred by centre of mass in 28x28
    background="dark", framing=lambda c: Framing(method="ink-box", box=20 / 28, centre="mass"),
))

register_dataset(Dataset(
    name="fashion-mnist", channels=1, image_size=28, likelihood="logistic",
    model={"dim": 16, "dim_mults": (1, 2), "latent_dim": 16},
    loader=torchvision_idx("FashionMNIST", "FashionMNIST"),
    classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
             "Bag", "Ankle boot"),
    # products trimmed to their box, scaled to 28 pixels on the longer side and centred
    background="dark", framing=lambda c: Framing(method="ink-box", box=1.0, centre="box"),
))

register_dataset(Dataset(
    name="celeba", channels=3, image_size=64, likelihood="logistic",
    model={"dim": 16, "dim_mults": (1, 2, 4, 8), "latent_dim": 64},
    loader=celeba.load,
    # a centre crop of crop_fraction of the width (140/178 by default), resized to 64x64
    background="light",
    framing=lambda c: Framing(method="centre-crop", crop_fraction=c.crop_fraction),
))
