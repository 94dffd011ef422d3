"""Count the multiply-add work of an ONNX graph from its shapes.

Only the ops that dominate a conv net are counted (Conv, ConvInteger, QLinearConv, Gemm,
MatMul, MatMulInteger, QLinearMatMul, ConvTranspose); each multiply-add is two FLOPs,
biases and element-wise ops are ignored. The graph's dynamic batch axis is pinned to a
concrete size and ONNX shape inference fills in every intermediate shape, so the count
is exact for the math the graph does, whatever runtime executes it.

Why not a maintained profiler: onnx-tool (1.0.1, tried on the shipped graphs) agrees on Conv
and Gemm up to the bias adds, but also counts element-wise ops by its own cost model and the
Quantize/DequantizeLinear nodes of int8 graphs, so one model's int8 decoder counts 5% more
than its fp32 one; here every precision of a model counts the same multiply-adds, which is
what GFLOP/s against the sgemm peak needs (``test_report.py`` checks both against hand counts).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import onnx
from onnx import shape_inference

CONV_OPS = ("Conv", "ConvInteger", "QLinearConv")
MATMUL_OPS = ("MatMul", "MatMulInteger", "QLinearMatMul")


@dataclass(frozen=True)
class FlopCount:
    """FLOPs of one graph call at ``batch`` images: ``total`` and a split ``by_op``."""

    batch: int
    total: int
    by_op: dict[str, int] = field(default_factory=dict)
    uncounted: tuple[str, ...] = ()  # nodes of counted types whose shapes were unknown

    @property
    def per_image(self) -> float:
        return self.total / self.batch


def _pin_batch(model: onnx.ModelProto, batch: int) -> None:
    """Replace every symbolic leading dim of the graph inputs by ``batch`` (in place)."""
    for inp in model.graph.input:
        dims = inp.type.tensor_type.shape.dim
        if dims and not dims[0].HasField("dim_value"):
            dims[0].Clear()
            dims[0].dim_value = batch


def _shapes(model: onnx.ModelProto) -> dict[str, tuple[int, ...] | None]:
    shapes: dict[str, tuple[int, ...] | None] = {}
    graph = model.graph
    for vi in [*graph.input, *graph.value_info, *graph.output]:
        dims = vi.type.tensor_type.shape.dim
        known = all(d.HasField("dim_value") for d in dims)
        shapes[vi.name] = tuple(d.dim_value for d in dims) if known and dims else None
    for init in graph.initializer:
        shapes[init.name] = tuple(init.dims)
    return shapes


def _attr(node: onnx.NodeProto, name: str, default: object) -> object:
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def _node_flops(node: onnx.NodeProto, shapes: dict[str, tuple[int, ...] | None]) -> int | None:
    op = node.op_type
    if op in CONV_OPS:
        # QLinearConv: x, x_scale, x_zp, w, ... ; Conv/ConvInteger: x, w, ...
        w_name = node.input[3] if op == "QLinearConv" else node.input[1]
        w, y = shapes.get(w_name), shapes.get(node.output[0])
        if w is None or y is None:
            return None
        # y: [N, Cout, *spatial]; w: [Cout, Cin/groups, *kernel]
        return 2 * math.prod(y) * math.prod(w[1:])
    if op == "ConvTranspose":
        x, w = shapes.get(node.input[0]), shapes.get(node.input[1])
        if x is None or w is None:
            return None
        # every input pixel scatters Cout/groups * kernel products: x [N, Cin, *s], w [Cin, Cout/g, *k]
        return 2 * math.prod(x) * math.prod(w[1:])
    if op == "Gemm":
        a, y = shapes.get(node.input[0]), shapes.get(node.output[0])
        if a is None or y is None:
            return None
        k = a[0] if _attr(node, "transA", 0) else a[1]
        return 2 * math.prod(y) * k
    if op in MATMUL_OPS:
        a_name = node.input[0]
        a, y = shapes.get(a_name), shapes.get(node.output[0])
        if a is None or y is None:
            return None
        return 2 * math.prod(y) * a[-1]
    return 0


def count_flops(model: onnx.ModelProto | str | os.PathLike, *, batch: int = 1) -> FlopCount:
    """FLOPs of one call of ``model`` (a path or a ``ModelProto``) on ``batch`` images.

    External weight files are not needed: only shapes are read. Local functions are
    inlined first so that ops inside them are counted too.
    """
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    if isinstance(model, (str, os.PathLike)):
        if not os.path.isfile(model):
            raise FileNotFoundError(f"no ONNX graph at {model}: export one with `python -m vaekit.export`")
        model = onnx.load(os.fspath(model), load_external_data=False)
    else:
        copy = onnx.ModelProto()
        copy.CopyFrom(model)
        model = copy
    if model.functions:
        from onnx import inliner

        model = inliner.inline_local_functions(model)
    _pin_batch(model, batch)
    model = shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)
    shapes = _shapes(model)
    by_op: dict[str, int] = {}
    uncounted = []
    for node in model.graph.node:
        flops = _node_flops(node, shapes)
        if flops is None:
            uncounted.append(f"{node.op_type}:{node.name or node.output[0]}")
            continue
        if flops:
            by_op[node.op_type] = by_op.get(node.op_type, 0) + flops
    return FlopCount(batch=batch, total=sum(by_op.values()), by_op=by_op, uncounted=tuple(uncounted))
