"""Parity: the exported graphs against PyTorch, before anything lands.

ONNX Runtime CPU runs the encoder and decoder at batch 1, 7 and 64 (each batch on its own)
and every output must lie within :data:`TOLERANCE` (max abs diff) of PyTorch float32. The
fp16 graphs are also computed in real float16 (ONNX's reference evaluator, and ONNX
Runtime's CUDA provider where it works) and must lie within :data:`FP16_TOLERANCE`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from vaekit.format import GRAPH_NAMES, GRAPHS, LABEL_INPUT, graph_file
from vaekit.runtime.session import build_session

from .onnx_checks import cuda_outputs, fp16_computed_outputs

PARITY_BATCHES = (1, 7, 64)
TOLERANCE = 1e-4
#: fp16 graphs computed in real float16 must match PyTorch float32 within this (max abs diff)
FP16_TOLERANCE = 1e-2
FP16_COMPUTED_BATCH = 4  # the reference evaluator is numpy: a small batch keeps it quick

#: ``{"encoder": ("image",) or ("image", "label"), "decoder": ("z",) or ("z", "label")}``
GraphInputs = dict[str, tuple[str, ...]]
#: PyTorch's outputs per parity batch size: ``{1: {"mean": [1, D], "logvar": [1, D], "image": [1, C, H, W]}, 7: ...}``
Reference = dict[int, dict[str, np.ndarray]]


class ParityError(ValueError):
    """ONNX Runtime and PyTorch disagree by more than the tolerance."""


@torch.inference_mode()
def torch_outputs(encoder: torch.nn.Module, decoder: torch.nn.Module,
                  inputs: dict[str, torch.Tensor]) -> Reference:
    """PyTorch outputs per parity batch size (each batch run on its own).

    ``inputs``: ``image`` [64, C, H, W], ``z`` [64, D] (and ``label`` [64] when conditional).
    """
    ref = {}
    for b in PARITY_BATCHES:
        label = (inputs[LABEL_INPUT][:b],) if LABEL_INPUT in inputs else ()
        mean, logvar = encoder(inputs["image"][:b], *label)
        image = decoder(inputs["z"][:b], *label)
        ref[b] = {"mean": mean.numpy(), "logvar": logvar.numpy(), "image": image.numpy()}
    return ref


def onnx_parity(folder: Path, precision: str, inputs: dict[str, torch.Tensor],
                reference: Reference, graph_ins: GraphInputs,
                ) -> dict[str, dict[str, dict[str, float]]]:
    """The ``precision`` graphs in ``folder`` on ONNX Runtime CPU against ``reference``:
    ``{"encoder": {"1": {"mean": d, "logvar": d}, ...}, "decoder": {"1": {"image": d}, ...}}``."""
    result: dict[str, dict[str, dict[str, float]]] = {"encoder": {}, "decoder": {}}
    sessions = {g: build_session(folder / graph_file(g, precision)) for g in GRAPHS}
    for b in PARITY_BATCHES:
        mean, logvar = sessions["encoder"].run(None, {n: inputs[n][:b].numpy() for n in graph_ins["encoder"]})
        (image,) = sessions["decoder"].run(None, {n: inputs[n][:b].numpy() for n in graph_ins["decoder"]})
        got = {"mean": mean, "logvar": logvar, "image": image}
        for graph in GRAPHS:
            result[graph][str(b)] = {n: max_abs_diff(got[n], reference[b][n]) for n in GRAPH_NAMES[graph][1]}
    return result


def max_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| in float64 (inf when ``a`` is not finite); a shape mismatch is a ParityError."""
    if a.shape != b.shape:
        raise ParityError(f"ONNX output shape {a.shape} differs from PyTorch's {b.shape}")
    if not np.isfinite(a).all():
        return math.inf
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max())


def enforce_tolerance(parity: dict[str, Any], checkpoint: Path) -> None:
    """Raise ParityError naming every output of :func:`onnx_parity` beyond :data:`TOLERANCE`."""
    worst = [(g, b, n, d) for g in GRAPHS for b, outs in parity[g].items()
             for n, d in outs.items() if not d <= TOLERANCE]
    if worst:
        listed = "; ".join(f"{g} {n} at batch {b}: {d:.3g}" for g, b, n, d in worst)
        raise ParityError(
            f"ONNX Runtime and PyTorch disagree beyond {TOLERANCE:g} for {checkpoint} ({listed}); "
            f"nothing was written. An op exports differently from how PyTorch computes it: report "
            f"it with this message, or export with another torch/onnxruntime version"
        )


def fp16_computed_parity(folder: Path, graph_ins: GraphInputs, inputs: dict[str, torch.Tensor],
                         reference: Reference) -> dict[str, Any]:
    """The fp16 graphs computed in real float16 (ONNX's reference evaluator) vs PyTorch fp32.

    ONNX Runtime's CPU provider quietly computes float16 graphs in float32, so only this
    check shows what a GPU computes; where ONNX Runtime's CUDA provider works, the graphs run
    there too (``result["cuda"]``). Raises ParityError beyond :data:`FP16_TOLERANCE`.
    """
    b = FP16_COMPUTED_BATCH
    ref = {k: v[:b] for k, v in reference[min(x for x in PARITY_BATCHES if x >= b)].items()}
    result: dict[str, Any] = {"batch": b, "evaluator": "onnx.reference.ReferenceEvaluator",
                              "tolerance": FP16_TOLERANCE}
    for graph in GRAPHS:
        outs = GRAPH_NAMES[graph][1]
        feeds = {n: inputs[n][:b].numpy() for n in graph_ins[graph]}
        got = fp16_computed_outputs(str(folder / graph_file(graph, "fp16")), feeds)
        result[graph] = {n: max_abs_diff(g, ref[n]) for n, g in zip(outs, got)}
        on_cuda = cuda_outputs(str(folder / graph_file(graph, "fp16")), feeds)
        if on_cuda is not None:
            result.setdefault("cuda", {})[graph] = {n: max_abs_diff(g, ref[n]) for n, g in zip(outs, on_cuda)}
    bad = [f"{g} {n}: {d:.3g}" for g in GRAPHS for n, d in result[g].items()
           if not d <= FP16_TOLERANCE]
    bad += [f"{g} {n} on CUDA: {d:.3g}" for g, outs in result.get("cuda", {}).items()
            for n, d in outs.items() if not d <= FP16_TOLERANCE]
    if bad:
        raise ParityError(
            f"the float16 graphs computed in float16 differ from PyTorch float32 beyond "
            f"{FP16_TOLERANCE:g} ({'; '.join(bad)}); nothing was written. An op overflows or loses "
            f"precision in float16: keep it in float32 (vaekit.export.graphs.FP32_LAYERS), or "
            f"export without --fp16")
    return result
