"""vaekit.runtime: run an exported VAE with numpy + onnxruntime only (no torch).

    from vaekit.runtime import VAE
    vae = VAE.load("checkpoints/mnist-z2")      # a checkpoint with onnx/, or the export folder
    images = vae.sample(16, seed=0)             # float32 [16, C, H, W] in [0, 1]

On a GPU: ``VAE.load(path, providers="cuda", cuda=CudaOptions(cuda_graph=True))``; results
can stay on the device with ``decode(z, output="ortvalue")``.
"""

from .contract import CONTRACT_KEYS, Contract, find_export_dir, load_contract, read_contract
from .latent import interpolate_latents
from .providers import PARITY_TOLERANCE, CudaOptions
from .session import build_session
from .vae import VAE, Examples

__all__ = [
    "CONTRACT_KEYS", "PARITY_TOLERANCE", "VAE", "Contract", "CudaOptions", "Examples", "build_session",
    "find_export_dir", "interpolate_latents", "load_contract", "read_contract",
]
