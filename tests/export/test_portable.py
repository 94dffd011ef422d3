"""Graphs every ONNX client loads: each defect other clients refuse is planted and refused.

The defects come from the issue's client matrix: IR 10 (ONNX Runtime < 1.17 refuses it),
unused opset imports, a batch axis declared as ``floor(1.0*N)``, a Q/DQ scale and zero point
of different rank (onnxruntime-web/WebGPU refuses it), and float16 normalisation that
overflows when a GPU computes it in float16.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper
from torch import nn
from vaekit.export import ExportError, ParityError, export_checkpoint, graphs, parity, precisions
from vaekit.export.onnx_checks import (
    MIN_ONNXRUNTIME,
    check_portable,
    fp16_computed_outputs,
    make_portable,
    portability_problems,
)

GRAPH_FILES = [f"{g}{p}.onnx" for g in ("encoder", "decoder") for p in ("", ".fp16", ".int8")]


def load(ckpt: Path, file: str) -> onnx.ModelProto:
    return onnx.load(str(ckpt / "onnx" / file))


@pytest.mark.parametrize("file", GRAPH_FILES)
def test_every_exported_graph_is_portable(tiny_ckpt, file):
    model = load(tiny_ckpt, file)
    precision = next((p for p in ("fp16", "int8") if p in file), "fp32")
    assert portability_problems(model, precision=precision) == []
    assert model.ir_version == 8, "opset 18 needs IR 8; ONNX Runtime 1.16 reads up to IR 9"
    assert {o.domain for o in model.opset_import} == {""}, "only the default domain is used"
    for value in (*model.graph.input, *model.graph.output):
        assert value.type.tensor_type.shape.dim[0].dim_param == "N"


def test_the_contract_records_what_a_client_needs(tiny_ckpt):
    c = json.loads((tiny_ckpt / "onnx" / "vaekit.json").read_text())
    requires = {k: v for k, v in c["requires"].items() if k != "client_limits"}
    assert requires == {"ir_version": 8, "opsets": {"ai.onnx": 18}, "onnxruntime": f">={MIN_ONNXRUNTIME}",
                        "batch_sizes": "any N >= 1"}
    assert {(x["client"], x["precision"]) for x in c["requires"]["client_limits"]} == {
        ("OpenCV DNN 4.x (4.10-4.14)", "int8"), ("OpenCV DNN 5.0", "int8")}
    assert c["encoder"]["ir_version"] == c["variants"]["int8"]["decoder"]["ir_version"] == 8


def first_qdq_with_constant_zero_point(model: onnx.ModelProto) -> onnx.TensorProto:
    inits = {t.name: t for t in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "DequantizeLinear" and len(node.input) == 3 and node.input[2] in inits:
            return inits[node.input[2]]
    raise AssertionError("no DequantizeLinear with a constant zero point")


def plant_ir_10(m):
    m.ir_version = 10


def plant_unused_opset(m):
    m.opset_import.append(onnx.helper.make_opsetid("ai.onnx.ml", 5))


def plant_batch_expression(m):
    m.graph.output[0].type.tensor_type.shape.dim[0].dim_param = "floor(1.0*floor(1.0*N))"


def plant_rank_mismatch(m):
    zero = first_qdq_with_constant_zero_point(m)
    values = numpy_helper.to_array(zero)
    zero.CopyFrom(numpy_helper.from_array(values.reshape((1, *values.shape)), zero.name))


@pytest.mark.parametrize("plant, message", [
    (plant_ir_10, "IR version 10, but the opsets its nodes use need IR 8"),
    (plant_unused_opset, "opset imports no node uses: ai.onnx.ml v5"),
    (plant_batch_expression, "declares its batch axis as 'floor(1.0*floor(1.0*N))'"),
    (plant_rank_mismatch, "differ in rank"),
])
def test_each_planted_defect_is_refused_and_then_fixed(tiny_ckpt, plant, message):
    model = load(tiny_ckpt, "decoder.int8.onnx")
    plant(model)
    with pytest.raises(ExportError, match=r"decoder\.int8\.onnx would not load") as err:
        check_portable(model, "decoder.int8.onnx")
    assert message in str(err.value) and "nothing was written" in str(err.value)
    assert portability_problems(make_portable(model)) == []
    onnx.checker.check_model(model, full_check=True)


def group_norm_like_graph() -> onnx.ModelProto:
    """x [N, 4, 2, 2] -> reshape to [N, 2, 8] -> Relu -> reshape back to Shape(x), as the exporter writes GroupNorm."""
    h = onnx.helper
    x = h.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["N", 4, 2, 2])
    y = h.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["N", 4, 2, 2])
    nodes = [h.make_node("Reshape", ["x", "groups"], ["g"]), h.make_node("Relu", ["g"], ["r"]),
             h.make_node("Shape", ["x"], ["s"], start=0), h.make_node("Reshape", ["r", "s"], ["y"], allowzero=1)]
    graph = h.make_graph(nodes, "g", [x], [y], [numpy_helper.from_array(np.array([0, 2, -1], dtype=np.int64), "groups")])
    return h.make_model(graph, opset_imports=[h.make_opsetid("", 18)], ir_version=8)


def test_a_reshape_target_computed_at_run_time_is_refused_and_made_constant():
    """OpenCV DNN 4 dies (SIGFPE) at batch > 1 on Shape -> Reshape; [0, C, H, W] says the same."""
    import onnxruntime as ort

    model = group_norm_like_graph()
    with pytest.raises(ExportError, match=r"1 Reshape target\(s\) computed at run time by Shape.*OpenCV DNN 4"):
        check_portable(model, "g.onnx")
    x = np.random.default_rng(0).standard_normal((3, 4, 2, 2), dtype=np.float32)
    before = ort.InferenceSession(model.SerializeToString()).run(None, {"x": x})[0]
    make_portable(model)
    assert portability_problems(model) == [] and [n.op_type for n in model.graph.node] == ["Reshape", "Relu", "Reshape"]
    np.testing.assert_array_equal(ort.InferenceSession(model.SerializeToString()).run(None, {"x": x})[0], before)


def test_the_quantiser_output_is_refused_without_the_fixes(tiny_ckpt, tmp_path, monkeypatch):
    """ONNX Runtime's quantiser writes two of the defects; the export's check names them.

    (A Q/DQ scale and zero point of different rank, which it wrote for the output layer, is
    planted by ``plant_rank_mismatch`` above since that layer stays float.)"""
    monkeypatch.setattr(graphs, "make_portable", lambda model: model)
    calibration = [np.random.default_rng(0).standard_normal((8, 2), dtype=np.float32)]
    with pytest.raises(ExportError) as err:
        graphs.quantize_int8(tiny_ckpt / "onnx" / "decoder.onnx", tmp_path / "decoder.int8.onnx",
                             input_name="z", calibration=calibration, props={"precision": "int8"}, doc="")
    text = str(err.value)
    assert "ai.onnx.ml v5" in text and "floor(1.0*" in text
    assert not (tmp_path / "decoder.int8.onnx").exists()


class Loud(nn.Module):
    """conv with planted large weights -> GroupNorm -> conv: activations ~ 3000 (their squares overflow fp16)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.inp = nn.Conv2d(1, 8, 3, padding=1)
        self.norm = nn.GroupNorm(4, 8)
        self.out = nn.Conv2d(8, 1, 3, padding=1)
        with torch.no_grad():
            self.inp.weight.mul_(3000.0)

    def forward(self, x):
        return torch.sigmoid(self.out(nn.functional.silu(self.norm(self.inp(x)))))


def export_half(tmp_path: Path, name: str) -> tuple[onnx.ModelProto, np.ndarray]:
    module, x = Loud().eval(), torch.rand((4, 1, 8, 8), generator=torch.Generator().manual_seed(1))
    model = graphs.export_graph(module, x[:2], tmp_path / name, input_names=["image"],
                                output_names=["image_out"], props={"precision": "fp16"}, doc="", half=True)
    with torch.no_grad():
        expected = module(x).numpy()
    got = fp16_computed_outputs(model, {"image": x.numpy()})[0]
    return model, np.abs(got - expected).max()


def test_fp16_normalisation_stays_float32_and_holds_in_real_fp16(tmp_path, monkeypatch):
    model, diff = export_half(tmp_path, "new.onnx")
    assert diff <= parity.FP16_TOLERANCE, f"computed in float16 the graph is off by {diff}"
    norm_inputs = [n.input[0] for n in model.graph.node if n.op_type == "InstanceNormalization"]
    assert norm_inputs, "GroupNorm exports as InstanceNormalization"

    # the old conversion (everything half) is refused by the export's check ...
    monkeypatch.setattr(graphs, "FP32_LAYERS", ())
    with pytest.raises(ExportError, match="normalisation/reduction op.*compute in float16"):
        export_half(tmp_path, "old.onnx")
    # ... and rightly: computed in float16 it is far off
    monkeypatch.setattr(graphs, "check_portable", lambda *a, **k: None)
    _, old_diff = export_half(tmp_path, "old.onnx")
    assert not old_diff <= 0.1, f"planted overflow did not overflow (diff {old_diff})"


def test_export_refuses_fp16_graphs_beyond_tolerance(tiny_ckpt, tmp_path, monkeypatch):
    ckpt = tmp_path / "ckpt"
    shutil.copytree(tiny_ckpt, ckpt)
    before = sorted(p.name for p in (ckpt / "onnx").iterdir())
    real = tiny_ckpt / "onnx"

    def copy_graph(module, example, path, **kw):  # fast: the shared graphs, same weights
        shutil.copyfile(real / path.name, path)
        return onnx.load(str(path))

    monkeypatch.setattr(precisions, "export_graph", copy_graph)
    monkeypatch.setattr(parity, "FP16_TOLERANCE", 1e-9)
    with pytest.raises(ParityError, match="computed in float16 differ from PyTorch float32 beyond 1e-09"):
        export_checkpoint(ckpt, fp16=True, progress=False)
    assert sorted(p.name for p in (ckpt / "onnx").iterdir()) == before


SHIPPED = sorted(Path(__file__).resolve().parents[2].glob("checkpoints/*/onnx/*.onnx"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_the_shipped_graphs_are_portable(path):
    """The committed graphs were exported with these checks (re-export them if this fails)."""
    model = onnx.load(str(path))
    precision = {p.key: p.value for p in model.metadata_props}.get("precision", "fp32")  # prior.onnx: fp32
    assert portability_problems(model, precision=precision) == [], (
        f"re-export: python -m vaekit.export {path.parent.parent} --fp16 --int8")


def test_fp16_graphs_computed_on_cuda_hold_too(tiny_ckpt):
    """Where ONNX Runtime's CUDA provider works, the export also runs the fp16 graphs there."""
    import ctypes

    import onnxruntime as ort

    try:
        ctypes.CDLL("libcuda.so.1")
    except OSError:
        pytest.skip("no NVIDIA driver (libcuda.so.1): the fp16 graphs were checked with ONNX's reference evaluator only")
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        pytest.skip("onnxruntime-gpu is not installed: no CUDA provider")
    computed = json.loads((tiny_ckpt / "onnx" / "vaekit.json").read_text())["variants"]["fp16"]["fp16_computed"]
    assert set(computed["cuda"]) == {"encoder", "decoder"}, "the CUDA provider ran both fp16 graphs"
    assert max(d for outs in computed["cuda"].values() for d in outs.values()) <= computed["tolerance"]
