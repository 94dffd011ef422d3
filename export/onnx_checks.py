"""Graphs every mainstream ONNX client accepts: fix what the exporter and quantiser leave, then check.

What other clients refuse (tried in onnxruntime-web/WebGPU, ONNX Runtime 1.15-1.17, OpenCV
DNN), and what this module fixes (:func:`make_portable`) and then refuses to ship
(:func:`check_portable`):

* an IR version above the lowest one the graph's opsets need (ONNX Runtime < 1.17 refuses
  IR 10: "Unsupported model IR version");
* opset imports no node uses (the quantiser adds ``ai.onnx.ml`` v5 and seven more; they raise
  the IR version a loader asks for);
* a batch axis declared as an expression (``floor(1.0*N)``) instead of the plain ``N``;
* a ``QuantizeLinear`` / ``DequantizeLinear`` whose scale and zero point differ in rank (the
  spec forbids it and WebGPU refuses it; ``onnx.checker`` misses it);
* a ``Reshape`` whose target shape is computed at run time by ``Shape`` although only the
  batch axis varies (GroupNorm's reshape back): OpenCV DNN 4 dies (SIGFPE) on such graphs at
  batch > 1; the constant ``[0, C, H, W]`` (0 copies the batch axis) says the same;
* in float16 graphs, a normalisation or reduction op computed in float16 (its squares and
  sums overflow: the graph is then only right on providers that quietly compute in float32);
* in int8 graphs, weights large enough that x86 CPUs without VNNI compute them wrong
  (:func:`int16_pair_overflow`).

:func:`fp16_computed_outputs` runs a graph with ONNX's reference evaluator, which computes
every op in the dtype the graph declares: real float16, as a GPU would.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

# ONNX Runtime's u8s8 kernels on x86 without VNNI add two uint8 x int8 products into one int16
from vaekit.runtime.cpu import INT16_MAX, UINT8_MAX

from .errors import ExportError

BATCH_AXIS = "N"
DEFAULT_DOMAINS = ("", "ai.onnx")
#: ops whose float16 arithmetic overflows on activations a VAE reaches (sums of squares)
FP32_OPS = frozenset({
    "InstanceNormalization", "GroupNormalization", "LayerNormalization", "BatchNormalization",
    "ReduceMean", "ReduceSum", "ReduceSumSquare", "ReduceL2", "ReduceLogSumExp",
    "Softplus", "Exp", "Softmax", "LogSoftmax",
})
_QDQ = ("QuantizeLinear", "DequantizeLinear")
#: ops whose weight input ONNX Runtime runs through its u8s8 integer GEMM once QDQ is fused
INT8_GEMM_OPS = frozenset({"Conv", "ConvTranspose", "Gemm", "MatMul"})
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def min_ir_version(model: onnx.ModelProto) -> int:
    """The lowest IR version that the opsets the model's nodes use need."""
    used = used_domains(model) | {""}
    opsets = [o for o in model.opset_import if ("" if o.domain == "ai.onnx" else o.domain) in used]
    return onnx.helper.find_min_ir_version_for(opsets, ignore_unknown=True)


def used_domains(model: onnx.ModelProto) -> set[str]:
    domains = {n.domain or "" for n in model.graph.node}
    for f in model.functions:
        domains.add(f.domain)
        domains.update(n.domain or "" for n in f.node)
    return {"" if d == "ai.onnx" else d for d in domains}


def _constants(model: onnx.ModelProto) -> dict[str, TensorProto]:
    consts = {t.name: t for t in model.graph.initializer}
    for n in model.graph.node:
        if n.op_type == "Constant" and n.output:
            for a in n.attribute:
                if a.name == "value":
                    consts[n.output[0]] = a.t
    return consts


# ----------------------------------------------------------------------------- fixes


def make_portable(model: onnx.ModelProto) -> onnx.ModelProto:
    """Fix, in place, every defect :func:`check_portable` refuses that can be fixed losslessly."""
    _plain_batch_axis(model)  # first: shape inference then reads N, not floor(1.0*N)
    _static_reshapes(model)
    _match_qdq_ranks(model)
    used = used_domains(model)
    keep = [o for o in model.opset_import if (o.domain or "") in DEFAULT_DOMAINS or o.domain in used]
    del model.opset_import[:]
    model.opset_import.extend(keep)
    model.ir_version = min_ir_version(model)
    return model


def _dynamic_reshapes(model: onnx.ModelProto) -> list[tuple[onnx.NodeProto, list[int]]]:
    """``Shape`` nodes that only feed ``Reshape`` targets, over a tensor whose dims other than
    the batch axis are known, with the constant ``[0, d1, d2, ...]`` each could be.

    ``0`` copies the reshaped tensor's own batch axis, so each Reshape's data must have the
    same symbolic batch axis (``N``) as the tensor the Shape reads.
    """
    inferred = onnx.shape_inference.infer_shapes(model)
    values = (*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output)
    dims = {v.name: [d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
                     for d in v.type.tensor_type.shape.dim] for v in values}
    users: dict[str, list[onnx.NodeProto]] = {}
    for n in model.graph.node:
        for i in n.input:
            users.setdefault(i, []).append(n)
    graph_outputs = {o.name for o in model.graph.output}
    found = []
    for n in model.graph.node:
        if n.op_type != "Shape" or any(a.name != "start" or a.i != 0 for a in n.attribute):
            continue
        shape, feeds = dims.get(n.input[0]), users.get(n.output[0], [])
        if not shape or len(shape) < 2 or not isinstance(shape[0], str) or not feeds or n.output[0] in graph_outputs:
            continue
        if not all(isinstance(d, int) and d > 0 for d in shape[1:]):
            continue
        if all(u.op_type == "Reshape" and list(u.input[1:2]) == [n.output[0]]
               and (dims.get(u.input[0]) or [None])[0] == shape[0] for u in feeds):
            found.append((n, [0, *shape[1:]]))
    return found


def _static_reshapes(model: onnx.ModelProto) -> None:
    """Replace each run-time ``Shape`` -> ``Reshape`` target by its constant ``[0, C, H, W]``.

    Repeated until none is left: a constant target makes the shapes after it known.
    """
    while found := _dynamic_reshapes(model):
        _replace_shapes(model, found)


def _replace_shapes(model: onnx.ModelProto, found: list[tuple[onnx.NodeProto, list[int]]]) -> None:
    drop = {id(n) for n, _ in found}
    targets = {n.output[0] for n, _ in found}
    for node, target in found:
        model.graph.initializer.append(numpy_helper.from_array(np.array(target, dtype=np.int64), node.output[0]))
    for node in model.graph.node:  # 0 must mean "copy the batch axis" (allowzero=0, the default)
        if node.op_type == "Reshape" and node.input[1] in targets:
            keep = [a for a in node.attribute if a.name != "allowzero"]
            del node.attribute[:]
            node.attribute.extend(keep)
    nodes = [n for n in model.graph.node if id(n) not in drop]
    del model.graph.node[:]
    model.graph.node.extend(nodes)


def _match_qdq_ranks(model: onnx.ModelProto) -> None:
    """Give each Q/DQ zero point the shape of its scale (same values: [] and [1] hold one)."""
    inits = {t.name: t for t in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type not in _QDQ or len(node.input) < 3 or not node.input[2]:
            continue
        scale, zero = inits.get(node.input[1]), inits.get(node.input[2])
        if scale is None or zero is None or list(scale.dims) == list(zero.dims):
            continue
        values = numpy_helper.to_array(zero)
        if values.size != int(np.prod(scale.dims, dtype=np.int64)):
            continue  # a real mismatch, not a rank one: check_portable names it
        zero.CopyFrom(numpy_helper.from_array(values.reshape(tuple(scale.dims)), zero.name))


def _plain_batch_axis(model: onnx.ModelProto) -> None:
    """Inputs and outputs: batch axis ``N``; intermediate shapes with an expression are dropped."""
    for value in (*model.graph.input, *model.graph.output):
        dims = value.type.tensor_type.shape.dim
        if dims:
            dims[0].Clear()
            dims[0].dim_param = BATCH_AXIS
    keep = [v for v in model.graph.value_info
            if all(not d.dim_param or _IDENTIFIER.match(d.dim_param) for d in v.type.tensor_type.shape.dim)]
    del model.graph.value_info[:]
    model.graph.value_info.extend(keep)


# ----------------------------------------------------------------------------- checks


def portability_problems(model: onnx.ModelProto, *, precision: str = "fp32") -> list[str]:
    """Every reason a mainstream client would refuse (or silently mis-compute) ``model``."""
    problems = []
    need = min_ir_version(model)
    if model.ir_version != need:
        problems.append(
            f"IR version {model.ir_version}, but the opsets its nodes use need IR {need} (ONNX "
            f"Runtime 1.16 reads at most IR 9; write the lowest version the opsets need)")
    unused = sorted(f"{o.domain} v{o.version}" for o in model.opset_import
                    if (o.domain or "") not in DEFAULT_DOMAINS and o.domain not in used_domains(model))
    if unused:
        problems.append(f"opset imports no node uses: {', '.join(unused)} (drop them)")
    for value in (*model.graph.input, *model.graph.output):
        dims = value.type.tensor_type.shape.dim
        if not dims or dims[0].dim_param != BATCH_AXIS:
            got = (dims[0].dim_param or dims[0].dim_value) if dims else "no shape"
            problems.append(f"{value.name!r} declares its batch axis as {got!r}, not the plain "
                            f"{BATCH_AXIS!r} every client reads")
    consts = _constants(model)
    for node in model.graph.node:
        if node.op_type in _QDQ and len(node.input) >= 3 and node.input[2]:
            scale, zero = consts.get(node.input[1]), consts.get(node.input[2])
            if scale is not None and zero is not None and len(scale.dims) != len(zero.dims):
                problems.append(
                    f"{node.op_type} {node.name!r}: scale shape {list(scale.dims)} and zero-point "
                    f"shape {list(zero.dims)} differ in rank (the spec forbids it; onnxruntime-web "
                    f"refuses it: give both the same shape)")
    dynamic = _dynamic_reshapes(model)
    if dynamic:
        problems.append(
            f"{len(dynamic)} Reshape target(s) computed at run time by Shape ({dynamic[0][0].name!r}, ...) "
            f"although only the batch axis varies: OpenCV DNN 4 crashes on them at batch > 1 (use "
            f"the constant [0, C, H, W])")
    if precision == "fp16":
        problems.extend(_fp16_reductions(model))
    if precision == "int8":
        problems.extend(int16_pair_overflow(model))
    return problems


def int8_pair_sums(model: onnx.ModelProto) -> dict[str, int]:
    """Per int8 weight feeding a Conv/Gemm/MatMul: the largest sum of two uint8 x int8 products.

    ``255 * (|q|_1 + |q|_2)``, the two largest weight magnitudes of an output channel (the
    ``axis`` of a per-channel DequantizeLinear, else the whole tensor): an upper bound on what
    any pairing of the reduction axis can reach, whatever order a kernel packs the weights in.
    """
    consts = _constants(model)
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in model.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    sums = {}
    for node in model.graph.node:
        weight = consts.get(node.input[0]) if node.op_type == "DequantizeLinear" and node.input else None
        if weight is None or weight.data_type != TensorProto.INT8:
            continue
        if not any(c.op_type in INT8_GEMM_OPS for c in consumers.get(node.output[0], [])):
            continue
        q = np.abs(numpy_helper.to_array(weight).astype(np.int64))
        axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
        rows = np.moveaxis(q, axis, 0).reshape(q.shape[axis], -1) if q.ndim > 1 else q.reshape(1, -1)
        top = np.sort(rows, axis=1)[:, -2:].sum(axis=1) if rows.shape[1] > 1 else rows[:, 0]
        sums[weight.name] = int(top.max()) * UINT8_MAX
    return sums


def int16_pair_overflow(model: onnx.ModelProto) -> list[str]:
    """Int8 weights whose products can saturate the int16 pair sums of x86 CPUs without VNNI.

    There ONNX Runtime's fused QLinearConv/QGemm silently clip such sums: a decoder loses 10 dB
    and single pixels go off by up to 0.8 (on AVX-512 VNNI, ARM and in WebAssembly the same
    graph is right). The check is static, so it gives the same answer on every host.
    """
    bad = {name: s for name, s in int8_pair_sums(model).items() if s > INT16_MAX}
    if not bad:
        return []
    worst = max(bad, key=bad.get)
    return [f"{len(bad)} int8 weight(s) ({worst!r}, ...) let two uint8 x int8 products reach "
            f"{bad[worst]} > {INT16_MAX}: ONNX Runtime's int8 kernels on x86 CPUs without VNNI "
            f"(AVX2, AVX-512 without VNNI) saturate there; quantise weights to 7 bits (|q| <= 64: "
            f"onnxruntime.quantization's reduce_range=True, as vaekit.export does)"]


def _fp16_reductions(model: onnx.ModelProto) -> list[str]:
    inferred = onnx.shape_inference.infer_shapes(model)
    types = {v.name: v.type.tensor_type.elem_type
             for v in (*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output)}
    types.update({t.name: t.data_type for t in inferred.graph.initializer})
    bad = [n for n in inferred.graph.node
           if n.op_type in FP32_OPS and n.input and types.get(n.input[0]) == TensorProto.FLOAT16]
    if not bad:
        return []
    names = ", ".join(f"{n.op_type} {n.name!r}" for n in bad[:4]) + (" ..." if len(bad) > 4 else "")
    return [f"{len(bad)} normalisation/reduction op(s) compute in float16 ({names}): their sums of "
            f"squares overflow float16 (max 65504); keep them in float32"]


def check_portable(model: onnx.ModelProto, name: str, *, precision: str = "fp32") -> None:
    """Raise ExportError listing every portability defect of ``model`` (``name`` for the message)."""
    problems = portability_problems(model, precision=precision)
    if problems:
        listed = "\n  - ".join(problems)
        raise ExportError(
            f"{name} would not load (or not compute right) in every ONNX client:\n  - {listed}\n"
            f"vaekit.export.onnx_checks.make_portable fixes all but float16 normalisation; nothing "
            f"was written")


# ----------------------------------------------------------------------------- float16


def fp16_computed_outputs(model: onnx.ModelProto | str, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """Run ``model`` with ONNX's reference evaluator: each op in its declared dtype (real fp16).

    Overflow warnings are silenced: an overflow shows up as inf/NaN or a wrong value in the
    outputs, which the parity check reports.
    """
    from onnx.reference import ReferenceEvaluator

    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        return ReferenceEvaluator(model).run(None, dict(feeds))


def cuda_outputs(path: str, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray] | None:
    """Run ``path`` on ONNX Runtime's CUDA provider (float16 computed as float16), or None
    where that provider cannot run here (no onnxruntime-gpu, no driver, no GPU)."""
    import ctypes

    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return None
    try:
        ctypes.CDLL("libcuda.so.1")
    except OSError:
        return None
    ort.set_default_logger_severity(3)  # a failed CUDA provider logs a warning and falls back
    try:
        session = ort.InferenceSession(path, providers=["CUDAExecutionProvider"])
        if session.get_providers()[0] != "CUDAExecutionProvider":
            return None
        return session.run(None, dict(feeds))
    finally:
        ort.set_default_logger_severity(2)


def required_versions(model: onnx.ModelProto) -> dict[str, object]:
    """What a client needs to load ``model``: IR version, opsets, and the lowest ONNX Runtime."""
    opsets = {(o.domain or "ai.onnx"): o.version for o in model.opset_import}
    return {"ir_version": int(model.ir_version), "opsets": opsets, "onnxruntime": MIN_ONNXRUNTIME}


#: the oldest ONNX Runtime the graphs are written for (reads IR <= 9 and opset 18)
MIN_ONNXRUNTIME = "1.16"

#: what some clients cannot do with these graphs (tests/embed/test_matrix.py measures them);
#: written into vaekit.json["requires"]["client_limits"]. Every other client: any batch N >= 1.
CLIENT_LIMITS = (
    {"client": "OpenCV DNN 4.x (4.10-4.14)", "precision": "int8", "safe_batch_sizes": [1],
     "why": "at batch > 1 it computes wrong values (no error); fp32 and fp16 run at any batch"},
    {"client": "OpenCV DNN 5.0", "precision": "int8", "safe_batch_sizes": [],
     "why": "refuses QDQ int8 graphs; fp32 and fp16 run at any batch"},
    {"client": "OpenCV DNN 4.x (4.10-4.14)", "input": "label", "safe_batch_sizes": [],
     "why": "mishandles a conditional model's int64 label input (wrong output size or an error)"},
)
