"""Find an export folder and read its contract (``vaekit.json``), checked.

The names and the contract itself (file names, keys, graph inputs and outputs) are defined
once in :mod:`vaekit.format` and re-exported here. This module is numpy/onnxruntime-free and
torch-free.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

# the vocabulary lives in vaekit.format (torch-free, numpy-free); re-exported here so that
# `from vaekit.runtime.contract import ...` keeps working
from vaekit.format import (  # noqa: F401
    CONFIG,
    CONTRACT_FILE,
    CONTRACT_KEYS,
    DECODER_INPUTS,
    DECODER_OUTPUTS,
    ENCODER_INPUTS,
    ENCODER_OUTPUTS,
    EXAMPLES_FILE,
    FORMAT,
    FORMAT_VERSION,
    GRAPH_NAMES,
    LABEL_INPUT,
    NORMAL,
    ONNX_SUBFOLDER,
    PRECISIONS,
    PRIOR_FILE,
    PRIOR_INPUTS,
    PRIOR_OUTPUTS,
    WEIGHTS,
    PriorRecord,
    graph_file,
    graph_files,
    graph_inputs,
    graph_shapes,
    metadata_props,
    num_classes,
    sha256_file,
)


def find_export_dir(path: str | os.PathLike) -> Path:
    """The export folder for ``path``: the folder itself, or a checkpoint's ``onnx/`` subfolder.

    Raises FileNotFoundError naming what is missing and the command that makes it.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"{path} does not exist: pass an export folder (holding {CONTRACT_FILE}, "
            f"{', '.join(graph_files())}) or a checkpoint folder exported with "
            f"`python -m vaekit.export CHECKPOINT`"
        )
    if path.is_file():
        raise FileNotFoundError(
            f"{path} is a file: pass the folder that holds it and {CONTRACT_FILE} "
            f"(VAE.load takes the export folder, not a single .onnx file)"
        )
    if (path / CONTRACT_FILE).is_file():
        return path
    if (path / ONNX_SUBFOLDER / CONTRACT_FILE).is_file():
        return path / ONNX_SUBFOLDER
    if (path / CONFIG).is_file():
        raise FileNotFoundError(
            f"{path} is a checkpoint folder without exported graphs: run "
            f"`python -m vaekit.export {path}` (writes {path / ONNX_SUBFOLDER}) and load again"
        )
    raise FileNotFoundError(
        f"no {CONTRACT_FILE} in {path} (nor in {path / ONNX_SUBFOLDER}): it is not an export "
        f"folder; create one with `python -m vaekit.export CHECKPOINT --out {path}`"
    )


def read_contract(folder: str | os.PathLike) -> dict[str, Any]:
    """Parse and sanity-check ``vaekit.json`` in an export folder."""
    path = Path(folder) / CONTRACT_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no {CONTRACT_FILE} in {folder}: re-export with `python -m vaekit.export`")
    try:
        contract = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path} is not valid JSON ({e}): re-export with `python -m vaekit.export`") from e
    if not isinstance(contract, dict) or contract.get("format") != FORMAT:
        raise ValueError(f"{path} is not a vaekit export contract (no \"format\": \"{FORMAT}\")")
    if contract.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{path} has format_version {contract.get('format_version')!r}, this vaekit reads "
            f"{FORMAT_VERSION}: re-export with this version (`python -m vaekit.export`)"
        )
    missing = [k for k in CONTRACT_KEYS if k not in contract]
    if missing:
        raise ValueError(f"{path} lacks {missing}: re-export with `python -m vaekit.export`")
    for k in ("channels", "height", "width", "latent_dim"):
        if not isinstance(contract[k], int) or contract[k] < 1:
            raise ValueError(f"{path}: {k} must be a positive integer, got {contract[k]!r}")
    _check_variant_facts(path, contract)
    return contract


def _check_variant_facts(path: Path, contract: dict[str, Any]) -> None:
    """``num_classes``/``class_names`` and ``prior`` (absent in older exports: unconditional, N(0, I))."""
    fix = "re-export with `python -m vaekit.export`"
    n = contract.get("num_classes", 0)
    if isinstance(n, bool) or not isinstance(n, int) or n < 0 or n == 1:
        raise ValueError(f"{path}: num_classes must be 0 (unconditional) or an integer >= 2, got {n!r}; {fix}")
    # the runtime takes a model as conditional when it has class names and feeds the graphs a
    # label when num_classes says so: both must agree, or a label goes to a graph without one
    names = contract.get("class_names", [])
    if not isinstance(names, list) or not all(isinstance(c, str) for c in names):
        raise ValueError(f"{path}: class_names must be a list of strings, got {names!r}; {fix}")
    if len(names) != n:
        want = f"{n} names (num_classes)" if n else "no names (num_classes 0: an unconditional model)"
        raise ValueError(f"{path}: class_names must list {want}, got {len(names)}: {names!r}; {fix}")
    try:
        PriorRecord.load(contract.get("prior"), latent_dim=contract["latent_dim"])
    except (TypeError, ValueError) as e:
        raise ValueError(f"{path}: {e}") from e


def stale_export_problem(folder: str | os.PathLike, contract: dict[str, Any]) -> str | None:
    """Why the export in ``folder`` is older than the checkpoint beside it, or None.

    An export folder ``CHECKPOINT/onnx`` is stale when ``CHECKPOINT/model.safetensors`` no
    longer has the sha256 recorded in ``vaekit.json`` (the checkpoint was trained further,
    e.g. with ``--resume``, after the export). A folder with no checkpoint beside it is not
    judged.
    """
    folder = Path(folder)
    weights = folder.parent / WEIGHTS
    if folder.name != ONNX_SUBFOLDER or not weights.is_file():
        return None
    recorded = contract.get("checkpoint_sha256")
    if recorded == sha256_file(weights):
        return None
    return (f"{folder} was exported from other weights than {weights} (checkpoint sha256 "
            f"{str(recorded)[:12]}... in {CONTRACT_FILE}): the graphs are stale; re-export with "
            f"`python -m vaekit.export {folder.parent}`")
