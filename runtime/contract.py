"""Find an export folder and read its contract (``vaekit.json``), checked.

The names and the contract itself (file names, keys, graph inputs and outputs) are defined
once in :mod:`vaekit.format` and re-exported here. This module is numpy/onnxruntime-free and
torch-free.
"""

from __future__ import annotations

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
    Contract,
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


def load_contract(folder: str | os.PathLike) -> Contract:
    """The typed contract (``vaekit.json``) of an export folder, checked: its format and
    version, its keys (an unknown one is an error naming it), the classes, the prior and every
    graph's declared shapes. Raises FileNotFoundError/ValueError naming the file and the fix."""
    path = Path(folder) / CONTRACT_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no {CONTRACT_FILE} in {folder}: re-export with `python -m vaekit.export CHECKPOINT`")
    return Contract.load(path)


def read_contract(folder: str | os.PathLike) -> dict[str, Any]:
    """``vaekit.json`` of an export folder as a plain dict, checked as :func:`load_contract`
    checks it (the JSON of :meth:`Contract.to_dict`)."""
    return load_contract(folder).to_dict()


def stale_export_problem(folder: str | os.PathLike, contract: Contract) -> str | None:
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
    recorded = contract.checkpoint_sha256
    if recorded == sha256_file(weights):
        return None
    return (f"{folder} was exported from other weights than {weights} (checkpoint sha256 "
            f"{str(recorded)[:12]}... in {CONTRACT_FILE}): the graphs are stale; re-export with "
            f"`python -m vaekit.export {folder.parent}`")
