"""Is an export folder current? Answered without importing torch (``--if-missing`` is fast)."""

from __future__ import annotations

import os
from pathlib import Path

from vaekit.format import (
    CONTRACT_FILE,
    ONNX_SUBFOLDER,
    PRIORS_SUBFOLDER,
    STUDENT_SUBFOLDER,
    WEIGHTS,
    Contract,
    graph_files,
    sha256_file,
)


def default_out(checkpoint: str | os.PathLike) -> Path:
    return Path(checkpoint) / ONNX_SUBFOLDER


def is_up_to_date(checkpoint: str | os.PathLike, out: str | os.PathLike | None = None, *,
                  fp16: bool = False, int8: bool = False) -> bool:
    """Whether ``out`` holds an export of exactly this checkpoint's weights (and the variants
    asked), ships a fitted prior only if the checkpoint still has it (a newly fitted prior
    makes it out of date), and the fast decoder of exactly its distilled student, or none when
    it has none."""
    checkpoint = Path(checkpoint)
    out = Path(out) if out is not None else default_out(checkpoint)
    try:
        contract = Contract.load(out / CONTRACT_FILE)  # unreadable or foreign: export again
    except (OSError, ValueError):
        return False
    if not (checkpoint / WEIGHTS).is_file():
        return False
    if contract.checkpoint_sha256 != sha256_file(checkpoint / WEIGHTS):
        return False
    if fitted_prior_files(checkpoint) != (contract.fitted_priors or {}):
        return False
    wanted = [p for p, on in (("fp16", fp16), ("int8", int8)) if on]
    files = [f for p in ("fp32", *wanted) for f in graph_files(p)]
    return all((out / f).is_file() for f in files) and student_is_current(checkpoint, contract)


def fitted_prior_files(checkpoint: str | os.PathLike) -> dict[str, str]:
    """``{name: sha256}`` of the fitted priors in ``CHECKPOINT/priors`` (the export records it
    as ``fitted_priors``, so a prior fitted later makes the export out of date)."""
    folder = Path(checkpoint) / PRIORS_SUBFOLDER
    return {p.stem: sha256_file(p) for p in sorted(folder.glob("*.safetensors"))}


def student_is_current(checkpoint: Path, contract: Contract) -> bool:
    """Whether the export's fast decoder (or its absence) matches ``CHECKPOINT/student``."""
    student = checkpoint / STUDENT_SUBFOLDER / WEIGHTS
    fast = contract.fast_decoder
    if not student.is_file():
        return fast is None
    return fast is not None and fast.student_sha256 == sha256_file(student)
