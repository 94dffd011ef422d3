"""Typed configuration: one dataclass per concern.

* :class:`VAEConfig` rebuilds a model (architecture + likelihood); a variant's config
  subclasses it and registers with ``@model_config(name)`` (:class:`BetaVAEConfig`,
  :class:`IWAEConfig`, :class:`CVAEConfig`, :class:`VampConfig`).
* :class:`DataConfig` says where images come from and how they are framed.
* :class:`TrainConfig` holds the optimisation schedule and the run folder.

Dataset presets (what a dataset needs by default) live here, not in the model code: the
model only sees channels, size and likelihood.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, TypeVar

C = TypeVar("C")

SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def default_data_root() -> str:
    """``../shared/data`` next to the checkout when it exists, else ``./data``."""
    for candidate in (Path.cwd().parent / "shared" / "data", SHARED_DATA):
        if candidate.is_dir():
            return str(candidate)
    return "data"


MODEL_CONFIGS: dict[str, type[VAEConfig]] = {}


def model_config(name: str) -> Callable[[type[C]], type[C]]:
    """Register a model config class under ``name`` (its ``model_type``): the one list of variants.

    The CLI's ``--model`` choices and :func:`model_config_from_dict` read it; the model class
    registers against its config (``@register`` in :mod:`vaekit.train.model`).
    """

    def wrap(cls: type[C]) -> type[C]:
        if name in MODEL_CONFIGS:
            raise TypeError(f"model_type {name!r} is registered twice "
                            f"({MODEL_CONFIGS[name].__name__} and {cls.__name__})")
        cls.model_type = name
        MODEL_CONFIGS[name] = cls
        return cls

    return wrap


def _at_least(config: Any, name: str, low: float) -> None:
    value = getattr(config, name)
    if value < low:
        flag = "--" + name.replace("_", "-")
        raise ValueError(f"{name} must be >= {low}, got {value} (set {flag} {low} or more)")


@model_config("vae")
@dataclass
class VAEConfig:
    """Everything needed to rebuild a :class:`~vaekit.train.model.VAE`.

    The U-Net is described by ``dim`` and ``dim_mults``: stage ``i`` has
    ``dim * dim_mults[i]`` channels and ends with a Downsample, so the bottleneck is
    ``image_size / 2**len(dim_mults)`` pixels wide. 28x28 inputs use two stages (28 -> 14 -> 7);
    64x64 inputs use four (64 -> 4).

    A variant's config subclasses this one and registers with ``@model_config(name)``; its
    own fields carry their ``--help`` text in ``field(metadata={"help": ...})``.
    """

    model_type: ClassVar[str] = "vae"

    in_channels: int = 1
    image_size: int = 28
    dim: int = 32
    dim_mults: tuple[int, ...] = (1, 2)
    blocks_per_stage: int = 1
    bottleneck_blocks: int = 1
    norm: str = "group"
    groups: int = 8
    latent_dim: int = 2
    likelihood: str = "bernoulli"

    def __post_init__(self) -> None:
        self.dim_mults = tuple(int(m) for m in self.dim_mults)
        factor = 2 ** len(self.dim_mults)
        if self.image_size % factor:
            raise ValueError(
                f"image_size={self.image_size} does not halve {len(self.dim_mults)} times "
                f"(dim_mults={self.dim_mults}): use fewer stages (28x28 takes 2, 64x64 up to 4) "
                f"or an image_size divisible by {factor}"
            )
        for name in ("in_channels", "image_size", "dim", "blocks_per_stage", "latent_dim"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.bottleneck_blocks < 0:
            raise ValueError(f"bottleneck_blocks must be >= 0, got {self.bottleneck_blocks}")

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["dim_mults"] = list(self.dim_mults)
        return {"model_type": self.model_type, **d}


@model_config("beta_vae")
@dataclass
class BetaVAEConfig(VAEConfig):
    """beta-VAE (Higgins et al. 2017): the KL term weighted by ``beta``."""

    beta: float = field(default=4.0, metadata={"help": "weight of the KL term (1: the plain VAE)"})

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.beta > 0:
            raise ValueError(f"beta must be > 0, got {self.beta} (beta=1 is the plain VAE)")


@model_config("iwae")
@dataclass
class IWAEConfig(VAEConfig):
    """IWAE (Burda et al. 2016): trained on the ``k``-sample importance-weighted bound."""

    k: int = field(default=5, metadata={
        "help": "importance samples per image in the training bound (1: the VAE's ELBO)"})

    def __post_init__(self) -> None:
        super().__post_init__()
        _at_least(self, "k", 1)


@model_config("cvae")
@dataclass
class CVAEConfig(VAEConfig):
    """Conditional VAE: encoder and decoder both see the class label (``num_classes`` classes)."""

    num_classes: int = field(default=10, metadata={
        "help": "class labels the model is conditioned on (must match the dataset's classes)"})

    def __post_init__(self) -> None:
        super().__post_init__()
        _at_least(self, "num_classes", 2)


@model_config("vamp")
@dataclass
class VampConfig(VAEConfig):
    """VampPrior (Tomczak & Welling 2018): the prior is the posterior mixture of learned pseudo-inputs."""

    components: int = field(default=500, metadata={
        "help": "learned pseudo-inputs (mixture components) of the prior"})

    def __post_init__(self) -> None:
        super().__post_init__()
        _at_least(self, "components", 1)


@dataclass
class DataConfig:
    dataset: str = "mnist"
    data_root: str = field(default_factory=default_data_root)
    download: bool = False
    val_size: int = 5000  # held out (seeded) from the training images where no split exists
    crop_fraction: float = 140 / 178  # CelebA: centre crop as a fraction of the width
    limit: int = 0  # use only the first N training images (0: all), for smoke runs


@dataclass
class TrainConfig:
    out: str = "runs/run"
    epochs: int = 20
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.0
    grad_clip: float = 100.0
    kl_warmup_steps: int = 0
    seed: int = 0
    device: str = "auto"
    resume: bool = False
    max_steps: int = 0  # stop after this many optimiser steps in total (0: no limit)
    eval_batch_size: int = 512
    compile: bool = False  # torch.compile the encoder and decoder (in place)
    log_every: int = 50  # read the logged terms back (and check them) every N steps


# Dataset presets: defaults a dataset needs, overridable from the command line.
PRESETS: dict[str, dict[str, Any]] = {
    "mnist": dict(in_channels=1, image_size=28, dim=16, dim_mults=(1, 2), likelihood="bernoulli"),
    "fashion-mnist": dict(
        in_channels=1, image_size=28, dim=16, dim_mults=(1, 2), likelihood="logistic", latent_dim=16
    ),
    "celeba": dict(
        in_channels=3, image_size=64, dim=16, dim_mults=(1, 2, 4, 8), likelihood="logistic",
        latent_dim=64,
    ),
}

def model_config_from_dict(d: dict[str, Any]) -> VAEConfig:
    """Rebuild a model config from ``config.json``; unknown keys are errors."""
    d = dict(d)
    model_type = d.pop("model_type", "vae")
    if model_type not in MODEL_CONFIGS:
        raise ValueError(f"unknown model_type {model_type!r}; known: {sorted(MODEL_CONFIGS)}")
    cls = MODEL_CONFIGS[model_type]
    return cls(**_checked(cls, d))


def _checked(cls: type, d: dict[str, Any]) -> dict[str, Any]:
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} keys {unknown}; known keys: {sorted(known)}")
    return d


def data_config_from_dict(d: dict[str, Any]) -> DataConfig:
    return DataConfig(**_checked(DataConfig, d))


def train_config_from_dict(d: dict[str, Any]) -> TrainConfig:
    return TrainConfig(**_checked(TrainConfig, d))


def dump_json(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=True) + "\n"
