"""What ``VAE.sample`` draws z from: N(0, I), or the learned mixture an export ships (numpy only).

A VampPrior export writes ``prior.npz`` (``means``, ``logvars`` float32 [K, D]: the
posteriors of its learned pseudo-inputs, equally weighted) and names it, with its sha256,
in ``vaekit.json["prior"]``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .contract import CONTRACT_FILE, PRIOR_FILE, sha256_file

REEXPORT = "re-export with `python -m vaekit.export CHECKPOINT`"


class Prior:
    """N(0, I) (``means is None``) or an equally weighted mixture of diagonal Gaussians."""

    def __init__(self, latent_dim: int, means: np.ndarray | None = None,
                 logvars: np.ndarray | None = None):
        self.latent_dim = latent_dim
        self.means = means
        self.stds = None if logvars is None else np.exp(0.5 * logvars).astype(np.float32)

    @property
    def kind(self) -> str:
        return "normal" if self.means is None else "mixture"

    @classmethod
    def load(cls, folder: Path, contract: dict[str, Any]) -> Prior:
        d = int(contract["latent_dim"])
        entry = contract.get("prior", {"kind": "normal"})
        if entry["kind"] == "normal":
            return cls(d)
        path = folder / PRIOR_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: this model samples from a learned prior; {REEXPORT}")
        if entry.get("sha256") and sha256_file(path) != entry["sha256"]:
            raise ValueError(f"{path} is corrupt or was replaced: its sha256 differs from the one in "
                             f"{CONTRACT_FILE}; {REEXPORT}")
        with np.load(path, allow_pickle=False) as f:
            means, logvars = f["means"].astype(np.float32), f["logvars"].astype(np.float32)
        if means.ndim != 2 or means.shape[1] != d or logvars.shape != means.shape or not len(means):
            raise ValueError(f"{path} holds means {means.shape} and logvars {logvars.shape}, "
                             f"expected [K, {d}] each; {REEXPORT}")
        if not (np.isfinite(means).all() and np.isfinite(logvars).all()):
            raise ValueError(f"{path} holds non-finite values; {REEXPORT}")
        return cls(d, means, logvars)

    def draw(self, rng: np.random.Generator, n: int, temperature: float) -> np.ndarray:
        """``n`` latents float32 [n, D]; ``temperature`` scales the (per-component) spread."""
        eps = rng.standard_normal((n, self.latent_dim), dtype=np.float32) * np.float32(temperature)
        if self.means is None:
            return eps
        k = rng.integers(0, len(self.means), n)
        return self.means[k] + self.stds[k] * eps
