"""The prior an export samples z from: one typed record in ``vaekit.json["prior"]``.

Every client draws noise and hands it to the same small ONNX graph (``prior.onnx``), so no
client re-implements a density::

    prior   eps float32 [N, D] ~ N(0, I) (times the temperature), u float32 [N] ~ U[0, 1)
            -> z float32 [N, D]

The graph picks component ``k`` where ``u`` falls in the cumulative mixture weights and
returns ``z = means[k] + scales[k] @ eps`` (a lower-triangular ``scales[k]`` for a full
covariance, a diagonal one for a VampPrior). ``N(0, I)`` needs no graph (``z = eps``) and is
always available under the name :data:`NORMAL`.

``{"name": "normal"}`` (or an older export's ``{"kind": "normal"}``, or no ``prior`` key)
means N(0, I); any other name comes with its file, sha256, size and what it was fitted on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from .names import PRIOR_FILE

#: the always-available prior: z = eps (no graph)
NORMAL = "normal"
PRIOR_INPUTS = ("eps", "u")
PRIOR_OUTPUTS = ("z",)
#: how a prior came to be: fitted ex post to the aggregate posterior, or learned in training
PRIOR_SOURCES = ("fitted", "learned")
COVARIANCES = ("full", "diag")
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
REEXPORT = "re-export with `python -m vaekit.export CHECKPOINT`"


@dataclass(frozen=True)
class PriorRecord:
    """``vaekit.json["prior"]``: which prior :meth:`VAE.sample` uses by default, and its graph.

    ``name``: :data:`NORMAL`, or the sampler's name (``gaussian``, ``gmm``, ``vamp``, ...).
    For any other name: ``file`` (:data:`PRIOR_FILE`), its ``sha256`` and ``bytes``,
    ``latent_dim``, ``components`` (K), ``covariance`` (``full`` or ``diag``), ``source``
    (``fitted`` or ``learned``) and ``fitted_on`` (split, count, seed, options, checkpoint
    sha256: empty for a learned prior).
    """

    name: str = NORMAL
    file: str | None = None
    sha256: str | None = None
    bytes: int | None = None
    latent_dim: int | None = None
    components: int | None = None
    covariance: str | None = None
    source: str | None = None
    fitted_on: dict[str, Any] = field(default_factory=dict)

    @property
    def is_normal(self) -> bool:
        return self.name == NORMAL

    def __post_init__(self) -> None:
        self.validate()

    def validate(self, latent_dim: int | None = None) -> None:
        """Raise ValueError naming the bad field and the fix (a re-export)."""
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise ValueError(f"prior name {self.name!r} must be lower-case letters, digits, '-' or '_'; {REEXPORT}")
        if self.is_normal:
            return
        if self.file != PRIOR_FILE:
            raise ValueError(f"prior {self.name!r} must name its graph {PRIOR_FILE!r}, got {self.file!r}; {REEXPORT}")
        if not (isinstance(self.sha256, str) and re.fullmatch(r"[0-9a-f]{64}", self.sha256)):
            raise ValueError(f"prior {self.name!r} lacks the sha256 of {PRIOR_FILE}; {REEXPORT}")
        for key in ("bytes", "latent_dim", "components"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"prior {self.name!r}: {key} must be a positive integer, got {value!r}; {REEXPORT}")
        if latent_dim is not None and self.latent_dim != latent_dim:
            raise ValueError(f"prior {self.name!r} draws latents of size {self.latent_dim}, the model's are "
                             f"{latent_dim}: it belongs to another model; {REEXPORT}")
        if self.covariance not in COVARIANCES:
            raise ValueError(f"prior {self.name!r}: covariance must be one of {COVARIANCES}, got {self.covariance!r}")
        if self.source not in PRIOR_SOURCES:
            raise ValueError(f"prior {self.name!r}: source must be one of {PRIOR_SOURCES}, got {self.source!r}")
        if not isinstance(self.fitted_on, dict):
            raise ValueError(f"prior {self.name!r}: fitted_on must be an object, got {self.fitted_on!r}")

    @classmethod
    def load(cls, entry: Mapping[str, Any] | None, *, latent_dim: int | None = None,
             where: str = "prior") -> PriorRecord:
        """The record from ``vaekit.json["prior"]`` (None or an older ``{"kind": "normal"}``: N(0, I)).

        Unknown keys are errors; ``latent_dim`` (the model's) is checked when given. (``where``:
        the key path, for the typed-record loader; the messages already say "prior".)
        """
        if entry is None or dict(entry) == {"kind": NORMAL}:
            return cls()
        if not isinstance(entry, Mapping):
            raise ValueError(f"prior must be an object, got {entry!r}; {REEXPORT}")
        if "kind" in entry and "name" not in entry:
            raise ValueError(f"prior {dict(entry)!r} is from an older vaekit (a prior.npz mixture); {REEXPORT}")
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(entry) - known)
        if unknown:
            raise ValueError(f"prior has unknown keys {unknown}; {REEXPORT}")
        record = cls(**dict(entry))
        record.validate(latent_dim)
        return record

    def to_dict(self) -> dict[str, Any]:
        """The JSON object written to ``vaekit.json["prior"]`` (N(0, I): ``{"name": "normal"}``)."""
        if self.is_normal:
            return {"name": NORMAL}
        return {k: v for k, v in asdict(self).items()}

    def graph_shapes(self) -> dict[str, list[int | str]]:
        """Declared shapes of the prior graph's inputs and output (``"N"``: the batch axis)."""
        d = self.latent_dim
        return {"eps": ["N", d], "u": ["N"], "z": ["N", d]}
