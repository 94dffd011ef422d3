"""vaekit.train: the U-Net-inspired VAE, its ELBO, data, training loop and checkpoints."""

from .checkpoint import load_model, save_checkpoint
from .config import BetaVAEConfig, DataConfig, TrainConfig, VAEConfig
from .model import MODELS, VAE, BetaVAE, Decoder, DecoderMean, Encoder, build_model, register

__all__ = [
    "MODELS", "VAE", "BetaVAE", "BetaVAEConfig", "DataConfig", "Decoder", "DecoderMean",
    "Encoder", "TrainConfig", "VAEConfig", "build_model", "load_model", "register",
    "save_checkpoint",
]
