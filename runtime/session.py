"""Building ONNX Runtime sessions: the one place that turns a graph file into a session.

:func:`build_session` is what the runtime, the exporter's parity checks and the benchmarks
use (numpy-free, torch-free). :func:`open_graph` adds what the runtime needs on top: the
file exists, its sha256 matches ``vaekit.json``, and its names, shapes and metadata are
the contract's.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import onnxruntime as ort

from .contract import (
    CONTRACT_FILE,
    GRAPH_NAMES,
    LABEL_INPUT,
    Contract,
    graph_file,
    sha256_file,
)
from .cpu import INT16_MAX, INT16_PAIRS, INT32, int8_kernel, simd_summary
from .providers import CPU, ProviderSpec, check_provider_specs, warn_once

#: onnxruntime graph optimisation levels by name
OPTIMIZATION = {
    "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}
REEXPORT = "re-export with `python -m vaekit.export CHECKPOINT`"
#: onnxruntime's session option that replaces the int16-pair int8 kernels of x86 CPUs without
#: VNNI by slower exact ones (a no-op elsewhere)
EXACT_INT8_OPTION = "session.x64quantprecision"


def build_session(
    path: str | os.PathLike,
    *,
    providers: Sequence[ProviderSpec] = (CPU,),
    threads: int | None = None,
    optimization: str = "all",
    log_level: int = 3,
    fix: str = REEXPORT,
    exact_int8: bool = False,
) -> ort.InferenceSession:
    """An onnxruntime session for the graph at ``path``.

    ``providers``: onnxruntime provider names or ``(name, options)`` pairs, in priority
    order (a malformed entry is refused up front). ``threads``: intra-op threads (inter-op
    then 1); None keeps onnxruntime's default. ``optimization``: a key of :data:`OPTIMIZATION`. ``log_level``: onnxruntime's
    severity (3: errors only; 4: fatal only, e.g. to silence a CUDA provider that cannot
    start). ``exact_int8``: run int8 graphs with kernels that accumulate in int32 on every
    CPU (:data:`EXACT_INT8_OPTION`; slower on x86 without VNNI, a no-op elsewhere). A file
    onnxruntime cannot load raises ``ValueError`` naming it and ``fix``.
    """
    if optimization not in OPTIMIZATION:
        raise ValueError(f"unknown optimization {optimization!r}; choose one of {tuple(OPTIMIZATION)}")
    check_provider_specs(providers)  # else onnxruntime's refusal reads as a broken graph file
    options = ort.SessionOptions()
    options.log_severity_level = log_level
    options.graph_optimization_level = OPTIMIZATION[optimization]
    if threads is not None:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    if exact_int8:
        options.add_session_config_entry(EXACT_INT8_OPTION, "1")
    try:
        return ort.InferenceSession(str(path), options, providers=list(providers))
    except Exception as e:  # noqa: BLE001 - onnxruntime raises its own pybind types (InvalidProtobuf, Fail)
        raise ValueError(
            f"{path} is not a loadable ONNX graph ({type(e).__name__}: {str(e)[:300]}): the file "
            f"is corrupt, was written by an incompatible exporter, or the provider cannot run it; {fix}"
        ) from e


def open_graph(
    folder: Path, contract: Contract, graph: str, precision: str, *,
    providers: Sequence[ProviderSpec], threads: int | None,
) -> ort.InferenceSession:
    """The session of ``graph`` (``encoder``/``decoder``) in an export folder, checked."""
    file = folder / graph_file(graph, precision)
    fix = f"re-export with `python -m vaekit.export CHECKPOINT --out {folder}`"
    if not file.is_file():
        hint = "" if precision == "fp32" else f" --{precision}"
        raise FileNotFoundError(f"{file} is missing: {fix[:-1]}{hint}`")
    recorded = recorded_sha256(contract, graph, precision)
    if recorded is not None and sha256_file(file) != recorded:
        raise ValueError(f"{file} is corrupt or was replaced: its sha256 differs from the one in "
                         f"{CONTRACT_FILE}; {fix}")
    exact = precision == "int8" and needs_exact_int8(contract, file)
    session = build_session(file, providers=providers, threads=threads, fix=fix, exact_int8=exact)
    check_graph(session, file, contract, graph, precision)
    return session


def needs_exact_int8(contract: Contract, file: Path) -> bool:
    """Whether an int8 graph must run on exact kernels here (an older export, on a CPU whose
    int8 kernels could saturate it): True warns once, naming the re-export that makes it fast.

    vaekit records the largest uint8 x int8 pair sum of its int8 graphs
    (``variants.int8.int16_pair_sum_max``); graphs exported before that record may exceed
    the 32767 that x86 CPUs without VNNI hold.
    """
    record = contract.variant("int8")
    bound = record.int16_pair_sum_max if record is not None else None
    if bound is not None and bound <= INT16_MAX:
        return False
    kernel = int8_kernel()
    if kernel == INT32:
        return False
    if kernel == INT16_PAIRS:
        warn_once(
            f"vaekit.runtime: {file.parent} holds int8 graphs exported before vaekit made them "
            f"exact on every CPU; this CPU ({simd_summary()}) has no VNNI, where their int8 "
            f"kernels saturate, so they run on ONNX Runtime's slower exact kernels "
            f"({EXACT_INT8_OPTION}). Re-export for full speed: `python -m vaekit.export "
            f"CHECKPOINT --int8` (--out {file.parent})")
    return True


def check_graph(
    session: ort.InferenceSession, path: Path, contract: Contract, graph: str, precision: str
) -> None:
    """The graph's names, shapes and metadata must match vaekit.json."""
    fix = "re-export the whole folder with `python -m vaekit.export CHECKPOINT`"
    inputs, outputs = contract.graph_inputs(graph), GRAPH_NAMES[graph][1]
    got_in = tuple(i.name for i in session.get_inputs())
    got_out = tuple(o.name for o in session.get_outputs())
    if got_in != inputs or got_out != outputs:
        raise ValueError(
            f"{path.name} has inputs {got_in} and outputs {got_out}, but a vaekit {graph} has "
            f"{inputs} -> {outputs}: it is not a vaekit {graph} graph; {fix}"
        )
    want = contract.graph_shapes(graph)
    for arg in (*session.get_inputs(), *session.get_outputs()):
        dims = [d if isinstance(d, int) else "N" for d in arg.shape]
        onnx_type, dtype = (("tensor(int64)", "int64") if arg.name == LABEL_INPUT
                            else ("tensor(float)", "float32"))
        if arg.type != onnx_type or dims != want[arg.name]:
            raise ValueError(
                f"{path.name}: {arg.name!r} is {arg.type} {arg.shape}, but {CONTRACT_FILE} says "
                f"{dtype} {want[arg.name]}; the graph and {CONTRACT_FILE} come from different exports; {fix}"
            )
    meta = session.get_modelmeta().custom_metadata_map
    expected = contract.metadata_props(graph=graph, precision=precision)
    bad = {k: (meta.get(k), v) for k, v in expected.items() if meta.get(k) != v and k != "format"}
    if bad:
        listed = ", ".join(f"{k}: graph {g!r} vs {CONTRACT_FILE} {j!r}" for k, (g, j) in bad.items())
        raise ValueError(
            f"the metadata of {path.name} does not match {CONTRACT_FILE} ({listed}): the files come "
            f"from different exports or were edited; {fix}"
        )


def recorded_sha256(contract: Contract, graph: str, precision: str) -> str | None:
    """The sha256 vaekit.json records for a graph file (None when an older export did not)."""
    record = contract.graph(graph, precision)
    return record.sha256 if record is not None else None


__all__ = ["EXACT_INT8_OPTION", "OPTIMIZATION", "build_session", "check_graph", "needs_exact_int8",
           "open_graph", "recorded_sha256"]
