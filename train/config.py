"""Typed configuration: one dataclass per concern.

* :class:`VAEConfig` rebuilds a model (architecture + likelihood); a variant's config
  subclasses it and registers with ``@model_config(name)`` (:class:`BetaVAEConfig`,
  :class:`IWAEConfig`, :class:`CVAEConfig`, :class:`VampConfig`,
  :class:`HVAEConfig`).
* :class:`DataConfig` says where images come from and how they are framed.
* :class:`TrainConfig` holds the optimisation schedule and the run folder.

Dataset presets (what a dataset needs by default: :data:`PRESETS`, read from each dataset's
record in :mod:`vaekit.train.datasets`) stay out of the model code: the model only sees
channels, size and likelihood.
"""

from __future__ import annotations

import dataclasses
import json
import math
import typing
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from .datasets import PRESETS as PRESETS  # re-exported: vaekit.train.config.PRESETS
from .datasets import dataset_record
from .device import check_device_name
from .objective import LIKELIHOODS
from .schedule import LR_SCHEDULES

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

    :func:`model_config_from_dict` reads it; :mod:`vaekit.train.registry` lists each config's
    model class, and the CLI's ``--model`` choices come from there.
    """

    def wrap(cls: type[C]) -> type[C]:
        if name in MODEL_CONFIGS:
            raise TypeError(f"model_type {name!r} is registered twice "
                            f"({MODEL_CONFIGS[name].__name__} and {cls.__name__})")
        cls.model_type = name
        MODEL_CONFIGS[name] = cls
        return cls

    return wrap


def _at_least(config: Any, name: str, low: float, *, note: str = "") -> None:
    """Refuse ``config.name < low`` (and NaN), naming the flag that sets it."""
    value = getattr(config, name)
    if not value >= low:
        flag = "--" + name.replace("_", "-")
        extra = f"; {note}" if note else ""
        raise ValueError(f"{name} must be >= {low}, got {value} (set {flag} {low} or more{extra})")


@model_config("vae")
@dataclass
class VAEConfig:
    """Everything needed to rebuild a :class:`~vaekit.train.model.VAE`.

    The U-Net is described by ``dim`` and ``dim_mults``: stage ``i`` has
    ``dim * dim_mults[i]`` channels and ends with a Downsample, so the bottleneck is
    ``image_size / 2**len(dim_mults)`` pixels wide. 28x28 inputs use two stages (28 -> 14 -> 7);
    64x64 inputs use four (64 -> 4).

    A variant's config subclasses this one and registers with ``@model_config(name)``; its
    own fields carry their ``--help`` text and lower bound in ``field(metadata={"help": ...,
    "min": ...})``.
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
            _at_least(self, name, 1)
        _at_least(self, "bottleneck_blocks", 0)
        _at_least(self, "groups", 1)
        if not self.dim_mults or min(self.dim_mults) < 1:
            raise ValueError(f"dim_mults must be one or more whole numbers >= 1, got "
                             f"{self.dim_mults} (e.g. --dim-mults 1 2)")
        for f in fields(self):  # a variant's own fields declare their lower bound
            if "min" in f.metadata:
                _at_least(self, f.name, f.metadata["min"])
        if self.likelihood not in LIKELIHOODS:
            raise ValueError(f"unknown likelihood {self.likelihood!r}: choose one of "
                             f"{sorted(LIKELIHOODS)} (--likelihood)")
        LIKELIHOODS[self.likelihood].check_channels(self.in_channels)

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
        "help": "importance samples per image in the training bound (1: the VAE's ELBO)", "min": 1})


@model_config("cvae")
@dataclass
class CVAEConfig(VAEConfig):
    """Conditional VAE: encoder and decoder both see the class label (``num_classes`` classes)."""

    num_classes: int = field(default=10, metadata={
        "help": "class labels the model is conditioned on (must match the dataset's classes)",
        "min": 2})


@model_config("vamp")
@dataclass
class VampConfig(VAEConfig):
    """VampPrior (Tomczak & Welling 2018): the prior is the posterior mixture of learned pseudo-inputs."""

    components: int = field(default=500, metadata={
        "help": "learned pseudo-inputs (mixture components) of the prior", "min": 1})


@model_config("mog")
@dataclass
class MoGConfig(VAEConfig):
    """A learned mixture-of-Gaussians prior (the MoG baseline of Tomczak & Welling 2018)."""

    gaussians: int = field(default=50, metadata={
        "help": "components of the learned prior (equal weights, each a diagonal Gaussian)", "min": 1})


@model_config("hvae")
@dataclass
class HVAEConfig(VAEConfig):
    """Hierarchical VAE with top-down inference (NVAE / VDVAE style) on the same U-Net.

    Latent group ``i`` is ``latent_channels[i]`` feature maps at scale ``latent_scales[i]``
    (``image_size / 2**scale`` pixels wide: scale 0 is the full image, ``len(dim_mults)`` the
    bottleneck), listed top-down (scales never increase). ``latent_dim`` is derived: the size
    of all groups together, which is what the exported graphs take.
    """

    #: keys the CLI must not take from a dataset preset (they are derived here)
    derived: ClassVar[tuple[str, ...]] = ("latent_dim",)

    latent_dim: int = field(default=0, metadata={
        "help": "derived from --latent-scales and --latent-channels (leave it unset)"})
    latent_scales: tuple[int, ...] = field(default=(2, 1), metadata={
        "help": "scale of each latent group, top-down (image_size / 2**scale pixels wide; "
                "0: full image, len(dim_mults): bottleneck)"})
    latent_channels: tuple[int, ...] = field(default=(8, 4), metadata={
        "help": "feature maps of each latent group (one entry per --latent-scales entry)"})
    kl_balance: bool = field(default=False, metadata={
        "help": "NVAE's KL balancing during the KL warm-up: a group's KL weight grows with its "
                "KL per latent unit, so no group collapses early"})

    def __post_init__(self) -> None:
        self.latent_scales = tuple(int(s) for s in self.latent_scales)
        self.latent_channels = tuple(int(c) for c in self.latent_channels)
        stages = len(tuple(self.dim_mults))
        if not self.latent_scales or len(self.latent_scales) != len(self.latent_channels):
            raise ValueError(
                f"latent_scales {list(self.latent_scales)} and latent_channels "
                f"{list(self.latent_channels)} must list one entry per latent group, at least "
                f"one (e.g. --latent-scales 2 1 --latent-channels 8 4)")
        if min(self.latent_channels) < 1:
            raise ValueError(f"latent_channels must be >= 1, got {list(self.latent_channels)} "
                             f"(e.g. --latent-channels 8 4)")
        bad = [s for s in self.latent_scales if not 0 <= s <= stages]
        if bad:
            raise ValueError(
                f"latent scale(s) {bad} do not fit the U-Net: it halves the "
                f"{self.image_size}x{self.image_size} image {stages} times (--dim-mults "
                f"{' '.join(map(str, self.dim_mults))}), so each --latent-scales entry must be "
                f"in 0..{stages}")
        if list(self.latent_scales) != sorted(self.latent_scales, reverse=True):
            raise ValueError(f"latent_scales must run top-down (coarse to fine, never "
                             f"increasing), got {list(self.latent_scales)} (e.g. 2 2 1)")
        total = sum(c * (self.image_size // 2**s) ** 2
                    for s, c in zip(self.latent_scales, self.latent_channels))
        if self.latent_dim not in (0, total):
            raise ValueError(
                f"latent_dim {self.latent_dim} does not match the latent groups, which hold "
                f"{total} units: drop --latent-dim (it is derived from --latent-scales and "
                f"--latent-channels)")
        self.latent_dim = total
        super().__post_init__()

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d["latent_scales"], d["latent_channels"] = list(self.latent_scales), list(self.latent_channels)
        return d


@dataclass
class DataConfig:
    """Where the images come from and how they are framed (checked on construction)."""

    dataset: str = "mnist"
    # "" (the default): default_data_root(), looked up when the images are read, so that
    # config.json records nothing machine-specific; a root given explicitly is recorded as given
    data_root: str = ""
    download: bool = False
    val_size: int = 5000  # held out (seeded) from the training images where no split exists
    crop_fraction: float = 140 / 178  # CelebA: centre crop as a fraction of the width
    limit: int = 0  # use only the first N training images (0: all), for smoke runs

    def __post_init__(self) -> None:
        dataset_record(self.dataset)  # ValueError naming the known datasets
        _at_least(self, "val_size", 1)
        _at_least(self, "limit", 0, note="0: all images")
        if not 0 < self.crop_fraction <= 1:
            raise ValueError(f"crop_fraction must be in (0, 1], got {self.crop_fraction} "
                             f"(set --crop-fraction to a fraction of the width, e.g. 0.79)")

    def root(self) -> Path:
        """The folder the images are read from: ``data_root``, or the default when it is ""."""
        return Path(self.data_root or default_data_root())


@dataclass
class TrainConfig:
    """The optimisation schedule and the run folder (checked on construction)."""

    out: str = "runs/run"
    epochs: int = 20
    batch_size: int = 128
    lr: float = 1e-3
    lr_schedule: str = "constant"
    lr_warmup_steps: int = 0
    final_lr_fraction: float = 0.0
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
    overwrite: bool = False  # replace the checkpoint already in `out` (else it is refused)
    init_from: str = ""  # start from this checkpoint folder's weights (a fresh optimiser)
    skip_threshold: float = field(default=0.0, metadata={
        "help": "skip (and count) an update whose gradient norm is above this or not finite, "
                "as VDVAE does (0: off; a non-finite loss then stops the run)"})
    ema: float = field(default=0.0, metadata={
        "help": "keep an exponential moving average of the weights with this decay (e.g. 0.999; "
                "lower over the first steps) and validate, save and export it (0: off)"})

    def __post_init__(self) -> None:
        if not self.out.strip():
            raise ValueError("out is empty: set --out to the run folder (e.g. runs/NAME)")
        for name in ("epochs", "batch_size", "eval_batch_size", "log_every"):
            _at_least(self, name, 1)
        _at_least(self, "max_steps", 0, note="0: no limit")
        _at_least(self, "kl_warmup_steps", 0, note="0: no warm-up")
        _at_least(self, "lr_warmup_steps", 0, note="0: no warm-up")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {sorted(LR_SCHEDULES)}, got "
                             f"{self.lr_schedule!r} (e.g. --lr-schedule cosine)")
        if not 0.0 <= self.final_lr_fraction <= 1.0:
            raise ValueError(f"final_lr_fraction must be in [0, 1], got {self.final_lr_fraction} "
                             f"(the last step's lr as a fraction of --lr, e.g. "
                             f"--final-lr-fraction 0.01)")
        _at_least(self, "grad_clip", 0, note="0: no clipping")
        _at_least(self, "skip_threshold", 0, note="0: no skipping")
        if not 0.0 <= self.ema < 1.0:
            raise ValueError(f"ema must be in [0, 1), got {self.ema} (the decay per step, e.g. "
                             f"--ema 0.999; 0: off)")
        _at_least(self, "weight_decay", 0)
        _at_least(self, "seed", 0)
        if self.seed > SEED_MAX:
            raise ValueError(f"seed must be <= {SEED_MAX}, got {self.seed} (set --seed lower)")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be a finite number > 0, got {self.lr} (e.g. --lr 1e-3)")
        check_device_name(self.device)  # whether this machine has it: resolve_device
        if self.resume and self.overwrite:
            raise ValueError("resume and overwrite exclude each other: --resume continues the "
                             "run in --out, --overwrite replaces it; pass one of them")


SEED_MAX = 2**32 - 1


def model_config_from_dict(d: dict[str, Any]) -> VAEConfig:
    """Rebuild a model config from ``config.json``; unknown keys are errors."""
    d = dict(d)
    model_type = d.pop("model_type", "vae")
    if model_type not in MODEL_CONFIGS:
        raise ValueError(f"unknown model_type {model_type!r}; known: {sorted(MODEL_CONFIGS)}")
    cls = MODEL_CONFIGS[model_type]
    return cls(**_checked(cls, d))


def _checked(cls: type, d: Any) -> dict[str, Any]:
    """``d`` if it is a dict of known keys whose values have the field's type (else ValueError)."""
    if not isinstance(d, dict):
        raise ValueError(f"{cls.__name__} options must be a JSON object, got {type(d).__name__}")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} keys {unknown}; known keys: {sorted(known)}")
    hints = typing.get_type_hints(cls)
    for key, value in d.items():
        expected = _type_name(hints[key], value)
        if expected:
            raise ValueError(f"{cls.__name__}.{key} must be {expected}, got {value!r} "
                             f"({type(value).__name__})")
    return d


def _type_name(tp: Any, value: Any) -> str:
    """'' when ``value`` fits type ``tp``, else the name of what it should be."""
    args = typing.get_args(tp)
    if type(None) in args:
        if value is None:
            return ""
        tp = next(a for a in args if a is not type(None))
    if typing.get_origin(tp) is tuple:
        ok = isinstance(value, (list, tuple)) and all(
            isinstance(v, int) and not isinstance(v, bool) for v in value)
        return "" if ok else "a list of whole numbers"
    if tp is bool:
        return "" if isinstance(value, bool) else "true or false"
    if tp is int:
        return "" if isinstance(value, int) and not isinstance(value, bool) else "a whole number"
    if tp is float:
        return "" if isinstance(value, (int, float)) and not isinstance(value, bool) else "a number"
    if tp is str:
        return "" if isinstance(value, str) else "a string"
    return ""


def data_config_from_dict(d: dict[str, Any]) -> DataConfig:
    return DataConfig(**_checked(DataConfig, d))


def train_config_from_dict(d: dict[str, Any]) -> TrainConfig:
    return TrainConfig(**_checked(TrainConfig, d))


#: train keys that start or continue a run: they differ between commands of one run by design,
#: so they are neither compared nor recorded as changes
RUN_FLAGS = ("resume", "overwrite", "out")


def config_differences(saved: dict[str, Any], model: VAEConfig, data: DataConfig | None,
                       train: TrainConfig | None) -> list[tuple[str, str, Any, Any]]:
    """``(section, key, saved value, value now)`` for every option that differs.

    The one comparison of a saved ``config.json`` with a run's configs (the resume check and
    the changes a checkpoint records both use it). Saved sections are read back through the
    same checks as a config file (a key an older vaekit did not write takes its default); a
    section absent on either side is not compared. Raises ``ValueError``/``TypeError`` for a
    saved section that cannot be read back.
    """
    old_model = model_config_from_dict(saved["model"]).to_dict()
    diffs = [("model", k, old_model.get(k), v) for k, v in model.to_dict().items()
             if old_model.get(k) != v]
    for section, config, from_dict in (("data", data, data_config_from_dict),
                                       ("train", train, train_config_from_dict)):
        if config is None or section not in saved:
            continue
        old = vars(from_dict(saved[section]))
        for f in fields(config):
            if section == "train" and f.name in RUN_FLAGS:
                continue
            was, now = old[f.name], getattr(config, f.name)
            if jsonable(was) != jsonable(now):
                diffs.append((section, f.name, was, now))
    return diffs


def jsonable(value: Any) -> Any:
    """A config value as config.json holds it (a tuple such as ``dim_mults`` becomes a list)."""
    return list(value) if isinstance(value, tuple) else value


def dump_json(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=True) + "\n"
