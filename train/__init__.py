"""vaekit.train: the U-Net-inspired VAE, its ELBO, data, training loop and checkpoints.

Importing the package is cheap: each public name below is imported from its module the
first time it is used (PEP 562), so ``vaekit.train.plots`` (figures from numpy arrays)
loads without torch. ``from vaekit.train import build_model`` works as before; ``MODELS``
(:mod:`vaekit.train.registry`) lists every variant (IWAE, CVAE, VampPrior, MoGPrior, HVAE).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: public name -> the module of this package that defines it
_EXPORTS = {
    "load_model": "checkpoint",
    "save_checkpoint": "checkpoint",
    "MODEL_CONFIGS": "config",
    "BetaVAEConfig": "config",
    "CVAEConfig": "config",
    "DataConfig": "config",
    "HVAEConfig": "config",
    "IWAEConfig": "config",
    "TrainConfig": "config",
    "VAEConfig": "config",
    "VampConfig": "config",
    "MoGConfig": "config",
    "model_config": "config",
    "MODELS": "registry",
    "VAE": "model",
    "BetaVAE": "model",
    "Decoder": "model",
    "DecoderMean": "model",
    "Encoder": "model",
    "build_model": "registry",
    "register": "registry",
    "CVAE": "variants",
    "IWAE": "variants",
    "VampPrior": "variants",
    "MoGPrior": "variants",
    "HVAE": "hvae",
}

__all__ = [
    "CVAE", "HVAE", "IWAE", "MODELS", "MODEL_CONFIGS", "VAE", "BetaVAE", "BetaVAEConfig",
    "CVAEConfig", "DataConfig", "Decoder", "DecoderMean", "Encoder", "HVAEConfig", "IWAEConfig",
    "MoGConfig", "MoGPrior", "TrainConfig", "VAEConfig", "VampConfig", "VampPrior", "build_model", "load_model",
    "model_config", "register", "save_checkpoint",
]

if TYPE_CHECKING:  # the names as type checkers and IDEs see them
    from .checkpoint import load_model, save_checkpoint
    from .config import (
        MODEL_CONFIGS,
        BetaVAEConfig,
        CVAEConfig,
        DataConfig,
        HVAEConfig,
        IWAEConfig,
        MoGConfig,
        TrainConfig,
        VAEConfig,
        VampConfig,
        model_config,
    )
    from .hvae import HVAE
    from .model import VAE, BetaVAE, Decoder, DecoderMean, Encoder
    from .registry import MODELS, build_model, register
    from .variants import CVAE, IWAE, MoGPrior, VampPrior


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
