"""The distilled fast decoder in the demo: a second runtime VAE that decodes with decoder.fast.onnx.

Interactive paths (the 2-D explorer's sliders and plot clicks) decode with it when the
export ships one and the visitor leaves the "Fast decoder" switch on; every other path
(reconstructions, samples, interpolations) keeps the model's own decoder.
"""

from __future__ import annotations

import logging
from typing import Any

from vaekit.runtime import VAE

log = logging.getLogger("vaekit.demo")


def fast_twin(vae: Any) -> tuple[Any | None, str | None]:
    """``(VAE with decoder="fast", None)`` when ``vae``'s export ships a fast decoder,
    ``(None, None)`` when it has none, ``(None, why)`` when its fast graph cannot be used."""
    metadata = getattr(vae, "metadata", None) or {}
    folder = getattr(vae, "folder", None)
    if "fast_decoder" not in metadata or folder is None:
        return None, None
    try:
        providers = list(getattr(vae, "providers", None) or ["CPUExecutionProvider"])
        return VAE.load(folder, providers=providers, decoder="fast"), None
    except (FileNotFoundError, ValueError) as e:
        log.warning("vaekit.demo: %s: fast decoder skipped (%s)", folder, e)
        return None, str(e)
