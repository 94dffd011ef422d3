"""An export folder -> a Triton Inference Server model repository (no torch, no tritonclient).

    python -m vaekit.export CHECKPOINT --triton REPO [--triton-max-batch 64] [--triton-gpu]

writes, for a checkpoint named NAME::

    REPO/NAME_encoder/config.pbtxt    REPO/NAME_encoder/1/model.onnx
    REPO/NAME_decoder/config.pbtxt    REPO/NAME_decoder/1/model.onnx
    REPO/NAME_prior/config.pbtxt      REPO/NAME_prior/1/model.onnx      (an export with prior.onnx)

``NAME_prior`` maps noise to latents (eps float32 [N, D] times the temperature, u float32
[N] uniform in [0, 1) -> z), so a client samples with two calls: prior, then decoder.
    REPO/NAME_decoder_fast/...        where the export ships a distilled decoder.fast.onnx

Each ``config.pbtxt`` says ``platform: "onnxruntime_onnx"``, a ``max_batch_size``, dynamic
batching, and the inputs and outputs with their dims (without the batch axis ``N``, which
Triton adds) and dtypes, all taken from ``vaekit.json`` and checked against the graph itself.
``gpu=True`` asks for one instance per GPU (``KIND_GPU``), else one CPU instance.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import onnx
from vaekit.format import (
    CONTRACT_FILE,
    GRAPHS,
    PRECISIONS,
    PRIOR_FILE,
    PRIOR_INPUTS,
    PRIOR_OUTPUTS,
    Contract,
    GraphRecord,
    atomic_write_bytes,
    atomic_write_text,
    fast_decoder_file,
    graph_file,
)
from vaekit.runtime.contract import load_contract

from .errors import ExportError
from .stale import clean_stale, staging_prefix, swap_into_place

#: ONNX element type -> Triton DataType name (the ones a vaekit graph can carry)
TRITON_DTYPES = {
    onnx.TensorProto.FLOAT: "TYPE_FP32",
    onnx.TensorProto.FLOAT16: "TYPE_FP16",
    onnx.TensorProto.INT64: "TYPE_INT64",
    onnx.TensorProto.INT32: "TYPE_INT32",
}
MAX_BATCH_RANGE = (1, 1 << 16)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class TritonConfig:
    """How the repository serves the graphs."""

    max_batch_size: int = 64
    #: one instance per GPU (KIND_GPU) instead of one CPU instance
    gpu: bool = False
    precision: str = "fp32"
    #: how long dynamic batching may hold a request to fill a batch
    max_queue_delay_us: int = 100

    def __post_init__(self) -> None:
        lo, hi = MAX_BATCH_RANGE
        if not lo <= self.max_batch_size <= hi:
            raise ValueError(f"--triton-max-batch must be in {lo}..{hi}, got {self.max_batch_size}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"unknown precision {self.precision!r}; choose one of {PRECISIONS}")
        if not 0 <= self.max_queue_delay_us <= 10_000_000:
            raise ValueError(f"max_queue_delay_us must be in 0..10000000, got {self.max_queue_delay_us}")


def model_name(name: str, graph: str) -> str:
    return f"{name}_{graph}"


def write_triton_repo(export_dir: str | os.PathLike, repo: str | os.PathLike, *, name: str,
                      config: TritonConfig = TritonConfig()) -> list[Path]:
    """Write ``repo/NAME_encoder``, ``repo/NAME_decoder`` (and ``repo/NAME_prior`` when the
    export ships a prior graph) from ``export_dir``; returns the model folders.

    Other models already in ``repo`` are left alone; these two are written in full into
    staging folders beside them first, then each swapped in by a rename.
    """
    export_dir, repo = Path(export_dir), Path(repo)
    if not _NAME.match(name):
        raise ValueError(f"model name {name!r}: use letters, digits, '_', '-' or '.' (Triton reads "
                         f"it as a folder name)")
    if repo.exists() and not repo.is_dir():
        raise ValueError(f"--triton {repo} is a file: pass a folder (the model repository)")
    contract = load_contract(export_dir)  # refuses a missing, unreadable or foreign vaekit.json
    texts = {}
    for graph in GRAPHS:  # every graph read and checked before anything is written
        source = export_dir / graph_file(graph, config.precision)
        if not source.is_file():
            raise FileNotFoundError(
                f"{source} is missing: export it first (`python -m vaekit.export CHECKPOINT"
                f"{'' if config.precision == 'fp32' else ' --' + config.precision}`)")
        model = onnx.load(str(source), load_external_data=False)
        texts[graph] = (source, config_pbtxt(model_name(name, graph), model, _declared(contract.graph(graph, config.precision) or contract.graph(graph), graph),
                                             config, heading=_heading(contract, graph, config.precision)))
    prior = contract.default_prior
    if not prior.is_normal:  # one fp32 graph serves every precision: it is a few products
        source = export_dir / PRIOR_FILE
        if not source.is_file():
            raise FileNotFoundError(f"{source} is missing: re-export with `python -m vaekit.export CHECKPOINT`")
        model = onnx.load(str(source))
        shapes = prior.graph_shapes()
        declared = ({n: shapes[n] for n in PRIOR_INPUTS}, {n: shapes[n] for n in PRIOR_OUTPUTS})
        texts["prior"] = (source, config_pbtxt(model_name(name, "prior"), model, declared,
                                               replace(config, precision="fp32"),
                                               heading=_heading(contract, "prior", "fp32")))
    fast = contract.fast_decoder
    skipped = (fast.not_written or {}).get(config.precision) if fast is not None else None
    if skipped:  # by design (e.g. int8): the other models are served, the fast one is not
        print(f"note: {model_name(name, 'decoder_fast')} not written: the export has no "
              f"{config.precision} fast decoder ({skipped})")
    elif fast is not None:
        texts["decoder_fast"] = _fast_text(export_dir, name, contract, config)
    for graph in texts:  # replace only what a previous write made
        target = repo / model_name(name, graph)
        if target.exists() and not (target / "config.pbtxt").is_file():
            what = "a file" if not target.is_dir() else "a folder without config.pbtxt"
            raise ValueError(f"{target} is {what}, not a Triton model of a previous export: "
                             f"move it away or choose another --triton (nothing was written)")
    repo.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[Path, Path]] = []
    try:  # every model folder is written in full before any replaces its old one
        for graph, (source, text) in texts.items():
            folder = repo / model_name(name, graph)
            clean_stale(folder)
            stage = Path(tempfile.mkdtemp(dir=repo, prefix=staging_prefix(folder, "tmp")))
            stage.chmod(0o755)
            staged.append((stage, folder))
            atomic_write_bytes(stage / "1" / "model.onnx", source.read_bytes())
            atomic_write_text(stage / "config.pbtxt", text)
        for stage, folder in staged:
            swap_into_place(stage, folder)
    finally:
        for stage, _ in staged:
            shutil.rmtree(stage, ignore_errors=True)
    return [folder for _, folder in staged]


def _fast_text(export_dir: Path, name: str, contract: Contract,
               config: TritonConfig) -> tuple[Path, str]:
    """``NAME_decoder_fast``'s graph and config: the distilled decoder, served like the decoder."""
    source = export_dir / fast_decoder_file(config.precision)
    if not source.is_file():
        raise FileNotFoundError(f"{source} is missing: re-export with the student in CHECKPOINT/student "
                                f"(`python -m vaekit.export CHECKPOINT"
                                f"{'' if config.precision == 'fp32' else ' --' + config.precision}`)")
    model = onnx.load(str(source), load_external_data=False)
    record = contract.fast_decoder.at(config.precision) or contract.fast_decoder.graph
    return source, config_pbtxt(model_name(name, "decoder_fast"), model, _declared(record, "fast decoder"), config,
                                heading=_heading(contract, "fast decoder", config.precision))


def _declared(record: GraphRecord | None, graph: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(inputs, outputs)``: the shapes ``vaekit.json`` declares for a graph."""
    if record is None:
        raise ExportError(f"{CONTRACT_FILE} lists no inputs and outputs of the {graph}: re-export "
                          f"with `python -m vaekit.export CHECKPOINT`")
    return ({k: list(v) for k, v in record.inputs.items()}, {k: list(v) for k, v in record.outputs.items()})


def _heading(contract: Contract, graph: str, precision: str) -> str:
    return (f"# vaekit {graph} ({precision}) for {contract.dataset}, "
            f"checkpoint sha256 {contract.checkpoint_sha256[:12]}")


def _tensor_specs(values, declared: dict[str, list[int | str]], what: str) -> list[tuple[str, str, list[int]]]:
    """``(name, TYPE_*, dims without the batch axis)`` per graph value, checked against the contract."""
    specs = []
    for v in values:
        t = v.type.tensor_type
        dims = [d.dim_param or d.dim_value for d in t.shape.dim]
        if v.name not in declared:
            raise ExportError(f"the graph's {what} {v.name!r} is not in {CONTRACT_FILE}: re-export")
        if dims != declared[v.name]:
            raise ExportError(f"the graph's {what} {v.name!r} has shape {dims}, {CONTRACT_FILE} "
                              f"says {declared[v.name]}: re-export")
        if not dims or dims[0] != "N" or not all(isinstance(d, int) and d > 0 for d in dims[1:]):
            raise ExportError(f"{what} {v.name!r} shape {dims}: Triton needs a leading batch axis "
                              f"'N' and fixed other dims")
        if t.elem_type not in TRITON_DTYPES:
            raise ExportError(f"{what} {v.name!r} has ONNX element type {t.elem_type}, which vaekit "
                              f"does not map to Triton")
        specs.append((v.name, TRITON_DTYPES[t.elem_type], list(dims[1:])))
    return specs


def config_pbtxt(name: str, model: onnx.ModelProto, declared: tuple[dict[str, Any], dict[str, Any]],
                 config: TritonConfig, *, heading: str) -> str:
    """Triton's ``config.pbtxt`` (protobuf text of ``inference.ModelConfig``) for one graph whose
    ``declared`` ``(inputs, outputs)`` shapes (from the contract) it checks the graph against;
    ``heading``: its first line, a comment."""
    inputs = _tensor_specs(model.graph.input, declared[0], "input")
    outputs = _tensor_specs(model.graph.output, declared[1], "output")

    def block(key: str, specs: list[tuple[str, str, list[int]]]) -> str:
        # a per-item scalar (a class label, shape [N]) is dims [1] reshaped to [] for the graph
        items = ",\n".join(
            f'  {{\n    name: "{n}"\n    data_type: {t}\n    dims: [ {", ".join(map(str, d or [1]))} ]'
            + ("" if d else "\n    reshape: { shape: [ ] }") + "\n  }"
            for n, t, d in specs)
        return f"{key} [\n{items}\n]"

    kind = "KIND_GPU" if config.gpu else "KIND_CPU"
    return "\n".join([
        heading,
        f'name: "{name}"',
        'platform: "onnxruntime_onnx"',
        f"max_batch_size: {config.max_batch_size}",
        block("input", inputs),
        block("output", outputs),
        f"dynamic_batching {{\n  max_queue_delay_microseconds: {config.max_queue_delay_us}\n}}",
        f"instance_group [\n  {{\n    count: 1\n    kind: {kind}\n  }}\n]",
        "",
    ])
