"""The export contract: what an export folder holds and how its two graphs look.

An export folder (``python -m vaekit.export CHECKPOINT``, by default ``CHECKPOINT/onnx``)::

    encoder.onnx    image float32 [N, C, H, W] in [0, 1] -> mean, logvar float32 [N, D]
    decoder.onnx    z float32 [N, D] -> image float32 [N, C, H, W] in [0, 1] (likelihood mean)
    vaekit.json     the contract below, parity numbers, file sizes and sha256s
    examples.npz    optional: real test images (images uint8 [N, C, H, W], labels int64 [N],
                    classes str [K]) for demos and figures
    *.fp16.onnx, *.int8.onnx   optional half-precision / quantised copies (same contract)

``N`` is a dynamic axis. Every graph also carries the :data:`CONTRACT_KEYS` as ONNX
``metadata_props`` (all values as strings) plus ``graph`` and ``precision``, so a graph
alone describes itself. This module is numpy/onnxruntime-free and torch-free; the exporter
imports it so that both sides share one definition.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

FORMAT = "vaekit-onnx"
FORMAT_VERSION = 1
CONTRACT_FILE = "vaekit.json"
EXAMPLES_FILE = "examples.npz"
ONNX_SUBFOLDER = "onnx"  # where `python -m vaekit.export CHECKPOINT` puts graphs by default
PRECISIONS = ("fp32", "fp16", "int8")

#: facts stored both in vaekit.json (top level) and in each graph's metadata_props
CONTRACT_KEYS = (
    "channels", "height", "width", "latent_dim", "likelihood", "dataset",
    "checkpoint_sha256", "vaekit_version", "opset",
)

ENCODER_INPUTS = ("image",)
ENCODER_OUTPUTS = ("mean", "logvar")
DECODER_INPUTS = ("z",)
DECODER_OUTPUTS = ("image",)
GRAPH_NAMES = {"encoder": (ENCODER_INPUTS, ENCODER_OUTPUTS), "decoder": (DECODER_INPUTS, DECODER_OUTPUTS)}


def graph_file(graph: str, precision: str = "fp32") -> str:
    """``encoder.onnx``, ``decoder.fp16.onnx``, ``encoder.int8.onnx``, ..."""
    if graph not in GRAPH_NAMES:
        raise ValueError(f"unknown graph {graph!r}; choose one of {tuple(GRAPH_NAMES)}")
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of {PRECISIONS}")
    return f"{graph}.onnx" if precision == "fp32" else f"{graph}.{precision}.onnx"


def graph_shapes(contract: dict[str, Any], graph: str) -> dict[str, list[int | str]]:
    """Declared shapes of a graph's inputs and outputs (``"N"`` is the dynamic batch axis)."""
    c, h, w, d = (int(contract[k]) for k in ("channels", "height", "width", "latent_dim"))
    image, z = ["N", c, h, w], ["N", d]
    if graph == "encoder":
        return {"image": image, "mean": z, "logvar": z}
    return {"z": z, "image": image}


def metadata_props(contract: dict[str, Any], *, graph: str, precision: str) -> dict[str, str]:
    """The string key/values written into a graph's ``metadata_props``."""
    props = {k: str(contract[k]) for k in CONTRACT_KEYS}
    props.update(format=f"{FORMAT}/{FORMAT_VERSION}", graph=graph, precision=precision)
    return props


def find_export_dir(path: str | os.PathLike) -> Path:
    """The export folder for ``path``: the folder itself, or a checkpoint's ``onnx/`` subfolder.

    Raises FileNotFoundError naming what is missing and the command that makes it.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"{path} does not exist: pass an export folder (holding {CONTRACT_FILE}, "
            f"encoder.onnx, decoder.onnx) or a checkpoint folder exported with "
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
    if (path / "config.json").is_file():
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
    return contract


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks (graphs and checkpoints can be large)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
