"""Contract assembly: the model's facts an export starts from, and the typed
:class:`~vaekit.format.Contract` it ends with (checked, then written atomically).

The pipeline fills the graph records, parity, variants and prior in between; whatever it
adds goes through :meth:`Contract.load` before ``vaekit.json`` is written, so an exporter
bug (a key no consumer knows, a class list that disagrees with ``num_classes``, a graph
declared with the wrong shape) fails the export instead of reaching a client.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import onnx
import onnxruntime as ort
import torch
from vaekit.format import (
    CONTRACT_FILE,
    FORMAT,
    FORMAT_VERSION,
    GRAPHS,
    WEIGHTS,
    Contract,
    graph_inputs,
    image_shape,
    latent_is_plottable,
    sha256_file,
)
from vaekit.train.checkpoint import vaekit_version
from vaekit.train.config import DataConfig
from vaekit.train.data import PRESENTATION, ImageSplit, presentation
from vaekit.train.model import VAE

from .graphs import OPSET


def model_facts(model: VAE, data_cfg: DataConfig | None, checkpoint: Path,
                test: ImageSplit | None) -> dict[str, Any]:
    """The contract's facts known before any graph is written: format, shape, likelihood,
    provenance, the classes (:func:`conditioning`) and the presentation (:func:`presentation_facts`)."""
    return {**identity(model, data_cfg, checkpoint), **conditioning(model, test),
            **presentation_facts(model, data_cfg)}


def identity(model: VAE, data_cfg: DataConfig | None, checkpoint: Path) -> dict[str, Any]:
    """Format, image shape, latent size, likelihood, dataset and where the export came from."""
    cfg = model.config
    channels, height, width = image_shape(cfg)
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "channels": channels,
        "height": height,
        "width": width,
        "latent_dim": cfg.latent_dim,
        "likelihood": cfg.likelihood,
        "dataset": data_cfg.dataset if data_cfg is not None else "unknown",
        "checkpoint_sha256": sha256_file(checkpoint / WEIGHTS),
        "vaekit_version": vaekit_version(),
        "opset": OPSET,
        "checkpoint": str(checkpoint),
        "model_config": cfg.to_dict(),
        "image_range": [0.0, 1.0],
        "batch_axis": "N",
        "exported_with": {"torch": torch.__version__, "onnx": onnx.__version__,
                          "onnxruntime": ort.__version__},
    }


def presentation_facts(model: VAE, data_cfg: DataConfig | None) -> dict[str, Any]:
    """What a consumer (the demo) shows the model with: ``plottable`` (its latent is drawn as
    a plane) and, when the dataset is known, the pictures' ``background`` and ``framing``."""
    facts: dict[str, Any] = {"plottable": latent_is_plottable(model.config.latent_dim)}
    if data_cfg is not None and data_cfg.dataset in PRESENTATION:
        facts.update(presentation(data_cfg))
    return facts


def conditioning(model: VAE, test: ImageSplit | None) -> dict[str, Any]:
    """``num_classes``, ``class_names`` (0 and [] for an unconditional model) and each graph's
    input names in order (``"decoder_inputs": ["z", "label"]`` for a conditional model)."""
    n = model.config.num_classes if model.conditional else 0
    names = [str(i) for i in range(n)]
    if n and test is not None and len(test.classes) == n:
        names = list(test.classes)
    facts: dict[str, Any] = {"num_classes": n, "class_names": names}
    for g in GRAPHS:
        facts[f"{g}_inputs"] = list(graph_inputs(facts, g))
    return facts


def save_contract(folder: Path, contract: dict[str, Any]) -> Contract:
    """Type ``contract`` (every field checked, see :class:`~vaekit.format.Contract`) and write
    ``folder/vaekit.json`` atomically; a contract the record refuses is an exporter bug."""
    try:
        typed = Contract.load(contract, where=f"the {CONTRACT_FILE} being exported")
    except ValueError as e:
        raise ValueError(f"the export assembled a contract vaekit cannot read back ({e}); nothing "
                         f"was written: report it with this message") from e
    typed.save(folder / CONTRACT_FILE)
    return typed
