"""vaekit.runtime: run an exported VAE with numpy + onnxruntime only (no torch).

    from vaekit.runtime import VAE
    vae = VAE.load("checkpoints/mnist-z2")      # a checkpoint with onnx/, or the export folder
    images = vae.sample(16, seed=0)             # float32 [16, C, H, W] in [0, 1]
"""

from .contract import CONTRACT_KEYS, find_export_dir, read_contract
from .vae import VAE, Examples, interpolate_latents

__all__ = ["CONTRACT_KEYS", "VAE", "Examples", "find_export_dir", "interpolate_latents", "read_contract"]
