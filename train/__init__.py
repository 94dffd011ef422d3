"""vaekit.train: the U-Net-inspired VAE, its ELBO, data, training loop and checkpoints."""

from .checkpoint import load_model, save_checkpoint
from .config import (
    MODEL_CONFIGS,
    BetaVAEConfig,
    CVAEConfig,
    DataConfig,
    IWAEConfig,
    TrainConfig,
    VAEConfig,
    VampConfig,
    model_config,
)
from .model import MODELS, VAE, BetaVAE, Decoder, DecoderMean, Encoder, build_model, register
from .variants import CVAE, IWAE, VampPrior  # registers the variants

__all__ = [
    "CVAE", "IWAE", "MODELS", "MODEL_CONFIGS", "VAE", "BetaVAE", "BetaVAEConfig", "CVAEConfig",
    "DataConfig", "Decoder", "DecoderMean", "Encoder", "IWAEConfig", "TrainConfig", "VAEConfig",
    "VampConfig", "VampPrior", "build_model", "load_model", "model_config", "register",
    "save_checkpoint",
]
