"""A fitted prior on disk: ``CHECKPOINT/priors/NAME.safetensors`` (no pickle, no torch).

The file holds the :class:`~vaekit.train.samplers.MixtureState` tensors and, in its
safetensors metadata under one key, the JSON record of the fit: the sampler and its options,
the seed, and what it was fitted on (split, image count, the checkpoint's weights sha256).
Nothing in it depends on the time or the machine's paths, and the header is written with
sorted keys, so the same fit gives the same bytes. It is written atomically.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from vaekit.format import PRIORS_SUBFOLDER, WEIGHTS, atomic_write_bytes, sha256_file

from .samplers import MixtureState, sampler_names

FORMAT = "vaekit-fitted-prior"
FORMAT_VERSION = 1
METADATA_KEY = "vaekit_prior"
SUFFIX = ".safetensors"


def refit_hint(checkpoint: str | os.PathLike, name: str) -> str:
    return f"fit it again with `python -m vaekit.train.fit_prior {checkpoint} --sampler {name}`"


@dataclass(frozen=True)
class FittedPrior:
    """A fitted :class:`MixtureState` and its ``record`` (a JSON object: see the module doc)."""

    state: MixtureState
    record: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.record["sampler"])

    def to_bytes(self) -> bytes:
        """safetensors bytes with a canonical header: the same fit gives the same bytes."""
        from safetensors.numpy import save

        meta = {METADATA_KEY: json.dumps(self.record, sort_keys=True, separators=(",", ":"))}
        raw = save({k: np.ascontiguousarray(v) for k, v in self.state.tensors().items()}, metadata=meta)
        n = int.from_bytes(raw[:8], "little")
        header = json.dumps(json.loads(raw[8 : 8 + n]), sort_keys=True, separators=(",", ":")).encode()
        header += b" " * (-len(header) % 8)
        return len(header).to_bytes(8, "little") + header + raw[8 + n :]

    def save(self, checkpoint: str | os.PathLike) -> Path:
        """Write ``CHECKPOINT/priors/NAME.safetensors`` atomically; returns its path."""
        return atomic_write_bytes(prior_path(checkpoint, self.name), self.to_bytes())


def prior_path(checkpoint: str | os.PathLike, name: str) -> Path:
    return Path(checkpoint) / PRIORS_SUBFOLDER / f"{name}{SUFFIX}"


def fitted_prior_names(checkpoint: str | os.PathLike) -> tuple[str, ...]:
    """The registered samplers with a fitted file in ``checkpoint``, in registry order."""
    return tuple(n for n in sampler_names() if prior_path(checkpoint, n).is_file())


def load_fitted_prior(checkpoint: str | os.PathLike, name: str, *, check_weights: bool = True,
                      latent_dim: int | None = None) -> FittedPrior:
    """Read and check ``CHECKPOINT/priors/NAME.safetensors``.

    Refused with the command that fixes it: a missing or unreadable file, a record of another
    format, a state with NaN/inf or of another latent size, and (``check_weights``) a fit made
    on other weights than the checkpoint's current ``model.safetensors``.
    """
    from safetensors import SafetensorError
    from safetensors.numpy import load

    path = prior_path(checkpoint, name)
    fix = refit_hint(checkpoint, name)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: no {name!r} prior was fitted to this checkpoint; "
                                f"{fix.replace('fit it again', 'fit one')}")
    data = path.read_bytes()
    try:
        tensors = load(data)
        n = int.from_bytes(data[:8], "little")
        meta = json.loads(data[8 : 8 + n]).get("__metadata__") or {}
        record = json.loads(meta[METADATA_KEY])
    except (SafetensorError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path} is not a readable fitted prior ({type(e).__name__}: {e}); {fix}") from e
    if not isinstance(record, dict) or record.get("format") != FORMAT or record.get("sampler") != name:
        raise ValueError(f"{path} does not hold a {FORMAT} record for {name!r}; {fix}")
    if record.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path} has format_version {record.get('format_version')!r}, this vaekit reads "
                         f"{FORMAT_VERSION}; {fix}")
    state = MixtureState.from_tensors(tensors, fix=f"{path}: {fix}").check(latent_dim, fix=f"{path}: {fix}")
    if check_weights:
        current = sha256_file(Path(checkpoint) / WEIGHTS)
        if record.get("fitted_on", {}).get("checkpoint_sha256") != current:
            raise ValueError(f"{path} was fitted to other weights than {Path(checkpoint) / WEIGHTS} "
                             f"(the model was retrained since); {fix}")
    return FittedPrior(state, record)
