"""The graphs of each precision: fp32 (the reference), and the fp16 and int8 variants measured
against it.

:func:`write_graph` exports one PyTorch module as one graph file and returns its contract
entry. :func:`write_variant` writes both graphs of ``fp16`` (the modules in half precision)
or ``int8`` (static QDQ quantisation of the fp32 graphs) and measures them against the fp32
export and PyTorch: parity on the parity batch, the decoder's PSNR on the PSNR latents, the
fp16 graphs computed in real float16, and the int8 decoder on each integer kernel path.
Everything a variant is measured against is one :class:`Baseline`, built once per export.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from vaekit.format import (
    GRAPH_NAMES,
    GRAPHS,
    graph_file,
    graph_inputs,
    graph_shapes,
    image_shape,
    metadata_props,
    sha256_file,
)
from vaekit.runtime.cpu import int8_kernel, simd_summary
from vaekit.runtime.session import build_session
from vaekit.train.data import ImageSplit
from vaekit.train.model import VAE

from .fast_metrics import psnr
from .feeds import PSNR_LATENTS, calibration, psnr_latents
from .graphs import export_graph, graph_opset, quantize_int8
from .onnx_checks import INT16_MAX, int8_pair_sums
from .parity import GraphInputs, Reference, fp16_computed_parity, onnx_parity

#: how each variant is made, as recorded in ``vaekit.json["variants"][precision]["method"]``
METHODS = {
    "fp16": "torch module in float16 behind float32 inputs/outputs; normalisation layers in float32",
    "int8": ("static QDQ, per-channel 7-bit int8 weights (|q| <= 64), uint8 activations, "
             "percentile (99.999) calibration, output layer kept float"),
}


def graph_doc(contract: dict[str, Any], graph: str, precision: str) -> str:
    """The graph's ``doc_string``: what it takes and returns, in one line."""
    (c, h, w), d = image_shape(contract), contract["latent_dim"]
    label = f", label int64 [N] in [0, {contract['num_classes']})" if contract.get("num_classes") else ""
    io = (f"image float32 [N, {c}, {h}, {w}] in [0, 1]{label} -> mean, logvar float32 [N, {d}]"
          if graph == "encoder" else
          f"z float32 [N, {d}]{label} -> image float32 [N, {c}, {h}, {w}] in [0, 1] ({contract['likelihood']} mean)")
    return f"vaekit {graph} ({precision}) for {contract['dataset']}: {io}"


def file_entry(path: Path, contract: dict[str, Any], graph: str, model: onnx.ModelProto) -> dict[str, Any]:
    """The contract's record of one graph file: its inputs' and outputs' shapes, opset, IR
    version, size and sha256."""
    shapes = graph_shapes(contract, graph)
    return {
        "file": path.name,
        "inputs": {n: shapes[n] for n in graph_inputs(contract, graph)},
        "outputs": {n: shapes[n] for n in GRAPH_NAMES[graph][1]},
        "opset": graph_opset(model),
        "ir_version": int(model.ir_version),
        "bytes": path.stat().st_size,
        "sha256": sha256_file(path),
    }


def write_graph(folder: Path, contract: dict[str, Any], graph: str, module: torch.nn.Module,
                inputs: dict[str, torch.Tensor], precision: str = "fp32") -> dict[str, Any]:
    """Export ``module`` as ``folder/graph_file(graph, precision)`` (``fp32``, or ``fp16``:
    the module in half precision), traced on the first two rows of ``inputs``; returns its
    :func:`file_entry`."""
    ins = graph_inputs(contract, graph)
    path = folder / graph_file(graph, precision)
    model = export_graph(module, tuple(inputs[n][:2] for n in ins), path, input_names=ins,
                         output_names=GRAPH_NAMES[graph][1],
                         props=metadata_props(contract, graph=graph, precision=precision),
                         doc=graph_doc(contract, graph, precision), half=precision == "fp16")
    return file_entry(path, contract, graph, model)


def graph_inputs_of(contract: dict[str, Any]) -> GraphInputs:
    """Each graph's input names, in order: ``{"encoder": ("image",), "decoder": ("z",)}``
    (plus ``"label"`` for a conditional model)."""
    return {g: graph_inputs(contract, g) for g in GRAPHS}


@dataclass(frozen=True, kw_only=True)
class Baseline:
    """What every variant is written from and measured against, built once per export.

    ``folder`` holds the fp32 graphs (and receives the variants); ``modules`` are the PyTorch
    ``encoder`` and ``decoder`` they were exported from; ``inputs`` the parity batch (``image``
    [64, C, H, W], ``z`` [64, D], ``label`` [64]) and ``reference`` PyTorch's outputs on it;
    ``latents`` the PSNR feed (``z`` [256, D], ``label`` [256]) and ``images`` the fp32
    decoder's output on it [256, C, H, W]; ``test`` the test split (calibration images), or None.
    """

    folder: Path
    contract: dict[str, Any]
    modules: dict[str, torch.nn.Module]
    inputs: dict[str, torch.Tensor]
    reference: Reference
    latents: dict[str, np.ndarray]
    images: np.ndarray
    test: ImageSplit | None

    @classmethod
    def measure(cls, folder: Path, contract: dict[str, Any], model: VAE, *,
                modules: dict[str, torch.nn.Module], inputs: dict[str, torch.Tensor],
                reference: Reference, test: ImageSplit | None) -> Baseline:
        """Draw the PSNR latents and decode them with the fp32 decoder in ``folder``."""
        latents = psnr_latents(folder, model, test, graph_inputs_of(contract))
        images = build_session(folder / graph_file("decoder")).run(None, latents)[0]
        return cls(folder=folder, contract=contract, modules=modules, inputs=inputs,
                   reference=reference, latents=latents, images=images, test=test)


def write_variant(precision: str, base: Baseline) -> dict[str, Any]:
    """Write the ``fp16`` or ``int8`` graphs into ``base.folder`` and measure them against
    fp32; returns ``vaekit.json["variants"][precision]``."""
    if precision not in METHODS:
        raise ValueError(f"unknown precision variant {precision!r}; choose one of {sorted(METHODS)}")
    folder, contract = base.folder, base.contract
    entry: dict[str, Any] = {}
    pair_sums: list[int] = []
    batches = calibration(image_shape(contract), base.test, base.latents) if precision == "int8" else None
    for name in GRAPHS:
        if precision == "fp16":
            entry[name] = write_graph(folder, contract, name, base.modules[name], base.inputs, precision)
            continue
        ins = graph_inputs(contract, name)
        path = folder / graph_file(name, precision)
        graph = quantize_int8(folder / graph_file(name), path, input_name=ins[0],
                              calibration=batches[ins[0]],
                              props=metadata_props(contract, graph=name, precision=precision),
                              doc=graph_doc(contract, name, precision))
        pair_sums.extend(int8_pair_sums(graph).values())
        entry[name] = file_entry(path, contract, name, graph)
    graph_ins = graph_inputs_of(contract)
    if precision == "fp16":
        entry["fp16_computed"] = fp16_computed_parity(folder, graph_ins, base.inputs, base.reference)
    try:
        decoded = build_session(folder / graph_file("decoder", precision)).run(None, base.latents)[0]
    except Exception as e:  # noqa: BLE001 - onnxruntime's pybind errors (NOT_IMPLEMENTED for an fp16 kernel)
        entry.update(runs_on_cpu=False, note=(
            f"onnxruntime CPU cannot run the {precision} graphs ({type(e).__name__}: {str(e)[:200]}); "
            f"they passed onnx.checker only and are meant for GPU providers"))
        return entry
    entry["runs_on_cpu"] = True
    entry["parity_vs_torch_fp32"] = onnx_parity(folder, precision, base.inputs, base.reference, graph_ins)
    entry["decoder_psnr_db_vs_fp32"] = psnr(decoded, base.images)
    entry["psnr_latents"] = f"{PSNR_LATENTS} " + ("test-image encoder means" if base.test is not None
                                                  else "N(0, I) draws")
    entry["method"] = METHODS[precision]
    if precision == "int8":
        entry["int16_pair_sum_max"] = max(pair_sums, default=0)
        entry["kernel_paths"] = int8_kernel_paths(folder, base.latents, base.images, decoded,
                                                  max(pair_sums, default=0))
        entry["decoder_psnr_db_vs_fp32"] = min(
            p["decoder_psnr_db_vs_fp32"] for p in entry["kernel_paths"].values()
            if p["decoder_psnr_db_vs_fp32"] is not None)
    return entry


def int8_kernel_paths(folder: Path, latents: dict[str, np.ndarray], ref_images: np.ndarray,
                      host_images: np.ndarray, pair_sum_max: int) -> dict[str, dict[str, Any]]:
    """The int8 decoder's PSNR against fp32 on each integer path ONNX Runtime's kernels take.

    ``int32``: what kernels that accumulate in int32 compute (AVX-512 VNNI, AVX-VNNI, ARM,
    WebAssembly), measured with graph optimisations off (DequantizeLinear + float Conv: no
    host kernel involved). ``int16-pairs``: x86 without VNNI adds two products in int16; the
    bound ``int16_pair_sum_max`` <= 32767 proves no pair saturates, so it computes the int32
    sums and its PSNR is the int32 path's. ``host``: this exporting CPU's optimised kernels.
    """
    literal = build_session(folder / graph_file("decoder", "int8"), optimization="disable").run(None, latents)[0]
    exact = psnr(literal, ref_images)
    safe = pair_sum_max <= INT16_MAX
    return {
        "int32": {"decoder_psnr_db_vs_fp32": exact, "cpus": "AVX-512 VNNI, AVX-VNNI, ARM, WebAssembly",
                  "measured": "ONNX Runtime, graph optimisations off (DequantizeLinear + float Conv)"},
        "int16-pairs": {"decoder_psnr_db_vs_fp32": exact if safe else None,
                        "cpus": "x86 without VNNI (SSE4.1, AVX2, AVX-512 without VNNI)",
                        "measured": (f"bound: every uint8 x int8 pair sums to at most {pair_sum_max} "
                                     f"<= {INT16_MAX}, so no int16 sum saturates and the int32 "
                                     f"path's figure holds") if safe else
                                    f"unsafe: pair sums reach {pair_sum_max} > {INT16_MAX}"},
        "host": {"decoder_psnr_db_vs_fp32": psnr(host_images, ref_images),
                 "cpus": f"{platform.machine()} {simd_summary()} (the exporting CPU, {int8_kernel()})",
                 "measured": "ONNX Runtime, graph optimisations on"},
    }
