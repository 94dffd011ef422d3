"""What ``VAE.sample`` draws z from: N(0, I), or the export's prior graph (numpy + onnxruntime).

Every prior maps the same noise to z: ``eps`` float32 [N, D] ~ N(0, I) times the temperature,
and ``u`` float32 [N] ~ U[0, 1) (the mixture component's choice). ``normal`` is ``z = eps``;
any other prior is the ``prior.onnx`` graph named, with its sha256, by ``vaekit.json["prior"]``
(:class:`vaekit.format.PriorRecord`): a fitted Gaussian or mixture, or a VampPrior's learned
mixture. The browser page, the Node example and Triton run the same graph.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from .contract import (
    CONTRACT_FILE,
    NORMAL,
    PRIOR_FILE,
    PRIOR_INPUTS,
    PRIOR_OUTPUTS,
    Contract,
    PriorRecord,
    sha256_file,
)
from .session import build_session

REEXPORT = "re-export with `python -m vaekit.export CHECKPOINT`"


class Priors:
    """N(0, I) under the name ``"normal"``, plus the export's prior graph when it ships one."""

    def __init__(self, latent_dim: int, record: PriorRecord | None = None,
                 session: ort.InferenceSession | None = None):
        self.latent_dim = latent_dim
        self.record = record or PriorRecord()
        self._session = session

    @property
    def names(self) -> tuple[str, ...]:
        """``("normal",)`` or ``("normal", NAME)``."""
        return (NORMAL,) if self.record.is_normal else (NORMAL, self.record.name)

    @property
    def default(self) -> str:
        return self.record.name

    @classmethod
    def load(cls, folder: Path, contract: Contract) -> Priors:
        """The prior of an export folder, its graph checked: present, the sha256 in
        ``vaekit.json``, the contract's inputs and latent size, finite at every component."""
        d, record = contract.latent_dim, contract.default_prior
        if record.is_normal:
            return cls(d)
        path = folder / PRIOR_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: this model samples from its {record.name!r} prior; "
                                    f"{REEXPORT} (or copy the whole export folder)")
        if sha256_file(path) != record.sha256:
            raise ValueError(f"{path} is corrupt or was replaced: its sha256 differs from the one in "
                             f"{CONTRACT_FILE}; {REEXPORT}")
        session = build_session(path, threads=1)
        shapes = {v.name: list(v.shape) for v in (*session.get_inputs(), *session.get_outputs())}
        want = {"eps": [None, d], "u": [None], "z": [None, d]}
        got = {k: [None if isinstance(s, str) or s is None else s for s in v] for k, v in shapes.items()}
        if got != want or [v.name for v in session.get_inputs()] != list(PRIOR_INPUTS):
            raise ValueError(f"{path} maps {shapes} but this model's latents have size {d} (eps [N, {d}], "
                             f"u [N] -> z [N, {d}]): the prior belongs to another model; {REEXPORT}")
        priors = cls(d, record, session)
        k = record.components
        centres = priors.latents(np.zeros((k, d), np.float32), (np.arange(k, dtype=np.float32) + 0.5) / k,
                                 record.name, checked=False)
        if not np.isfinite(centres).all():
            raise ValueError(f"{path} gives NaN or inf latents: its fitted state is broken; fit the prior "
                             f"again (`python -m vaekit.train.fit_prior CHECKPOINT`) and {REEXPORT}")
        return priors

    def check_name(self, name: str | None) -> str:
        name = self.default if name is None else name
        if name not in self.names:
            raise ValueError(f"unknown prior {name!r}: this model samples from {self.names} "
                             f"(None: its default, {self.default!r})")
        return name

    def latents(self, eps: np.ndarray, u: np.ndarray, name: str | None = None, *,
                checked: bool = True) -> np.ndarray:
        """``eps`` float32 [N, D] and ``u`` float32 [N] in [0, 1) -> z float32 [N, D] under prior ``name``."""
        name = self.check_name(name)
        eps = np.ascontiguousarray(eps, dtype=np.float32)
        u = np.ascontiguousarray(u, dtype=np.float32)
        if checked:
            if eps.ndim != 2 or eps.shape[1] != self.latent_dim or u.shape != (len(eps),):
                raise ValueError(f"eps must be [N, {self.latent_dim}] and u [N], got {eps.shape} and {u.shape}")
            if not (np.isfinite(eps).all() and ((u >= 0) & (u < 1)).all()):
                raise ValueError("eps must be finite and u in [0, 1): pass N(0, I) and uniform draws")
        if name == NORMAL:
            return eps
        return self._session.run(list(PRIOR_OUTPUTS), {"eps": eps, "u": u})[0]

    def draw(self, rng: np.random.Generator, n: int, temperature: float, name: str | None = None) -> np.ndarray:
        """``n`` latents float32 [n, D]: eps (times ``temperature``) then u from ``rng``, through ``name``."""
        eps = rng.standard_normal((n, self.latent_dim), dtype=np.float32) * np.float32(temperature)
        u = rng.random(n, dtype=np.float32)
        return self.latents(eps, u, name, checked=False)
