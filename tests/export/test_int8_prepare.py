"""Preparing a graph for int8 quantisation: onnxruntime's pre-processing, run where its
leftovers cannot reach the user, with ONNX shape inference alone where its symbolic
inference gives up, and a one-line refusal where nothing can prepare the graph."""

from __future__ import annotations

from pathlib import Path

import pytest
from vaekit.export.errors import ExportError
from vaekit.export.graphs import prepare_for_quantization


class PreProcess:
    """A stand-in for onnxruntime's quant_pre_process: fails as told, litters the working
    directory as the real one does when its symbolic inference gives up."""

    def __init__(self, *failures: Exception):
        self.failures, self.calls = list(failures), []

    def __call__(self, src: str, dst: str, **options) -> None:
        self.calls.append(options)
        if self.failures:
            Path("sym_shape_infer_temp.onnx").write_bytes(b"left behind")
            raise self.failures.pop(0)
        Path(dst).write_bytes(Path(src).read_bytes())


@pytest.fixture
def graph(tmp_path, monkeypatch):
    (tmp_path / "work").mkdir()
    (tmp_path / "user").mkdir()
    monkeypatch.chdir(tmp_path / "user")
    plain = tmp_path / "work" / "plain.onnx"
    plain.write_bytes(b"graph")
    return plain, tmp_path / "work" / "pre.onnx", tmp_path / "work"


def test_a_graph_symbolic_inference_gives_up_on_is_prepared_with_onnx_inference_alone(graph):
    plain, prepared, work = graph
    pre = PreProcess(Exception("Incomplete symbolic shape inference"))
    prepare_for_quantization(pre, plain, prepared, work, name="encoder.onnx")
    assert prepared.read_bytes() == b"graph"
    assert pre.calls == [{}, {"skip_symbolic_shape": True}]
    assert list(Path.cwd().iterdir()) == [], "onnxruntime's leftovers reached the working directory"


def test_a_graph_nothing_can_prepare_is_refused_in_one_line(graph):
    plain, prepared, work = graph
    pre = PreProcess(Exception("Incomplete symbolic shape inference"), ValueError("bad shape"))
    with pytest.raises(ExportError, match=r"could not prepare encoder.onnx for int8 .*bad shape.*without --int8"):
        prepare_for_quantization(pre, plain, prepared, work, name="encoder.onnx")
    assert list(Path.cwd().iterdir()) == []


def test_another_failure_is_refused_without_a_second_try(graph):
    plain, prepared, work = graph
    pre = PreProcess(RuntimeError("protobuf parsing failed"))
    with pytest.raises(ExportError, match=r"could not prepare encoder.onnx .*protobuf parsing failed.*without --int8"):
        prepare_for_quantization(pre, plain, prepared, work, name="encoder.onnx")
    assert len(pre.calls) == 1


def test_the_layers_that_write_the_outputs_are_found_on_every_path_back():
    """Kept float in int8 graphs: the first conv or linear layer on each path back from an
    output. A plain graph has one; a graph with a head per output group has one per head,
    however many float ops (Split, Exp, Concat) lie between."""
    from onnx import TensorProto, helper
    from vaekit.export.graphs import output_heads

    def node(op, ins, outs):
        return helper.make_node(op, ins, outs, name=outs[0])

    nodes = [node("Conv", ["x", "w"], ["trunk"]), node("Relu", ["trunk"], ["h"]),
             node("Conv", ["h", "w"], ["head_a"]), node("Conv", ["h", "w"], ["head_b"]),
             node("Exp", ["head_b"], ["scale"]), node("Mul", ["head_a", "scale"], ["group"]),
             node("Concat", ["group", "head_b"], ["out"]),
             node("Gemm", ["h", "w"], ["other"]), node("Sigmoid", ["other"], ["out2"])]
    value = helper.make_tensor_value_info
    graph = helper.make_graph(nodes, "g", [value("x", TensorProto.FLOAT, None)],
                              [value("out", TensorProto.FLOAT, None), value("out2", TensorProto.FLOAT, None)])
    assert output_heads(graph) == ["head_a", "head_b", "other"]  # never "trunk": behind a head


def test_a_layer_that_takes_a_concat_stays_float_with_the_heads():
    """A Concat joins tensors of different scales; one uint8 scale for all of it rounds the
    smaller ones away, so the conv it feeds is kept float (the hierarchical encoder's
    posterior cells); a conv after a normalisation of the Concat is quantised as usual."""
    from onnx import TensorProto, helper
    from vaekit.export.graphs import float_layers

    def node(op, ins, outs):
        return helper.make_node(op, ins, outs, name=outs[0])

    nodes = [node("Conv", ["x", "w"], ["up"]), node("Conv", ["x", "w"], ["down"]),
             node("Concat", ["up", "down"], ["joined"]), node("Conv", ["joined", "w"], ["skip"]),
             node("InstanceNormalization", ["joined", "s", "b"], ["normed"]),
             node("Conv", ["normed", "w"], ["branch"]), node("Add", ["skip", "branch"], ["h"]),
             node("Relu", ["h"], ["a"]), node("Conv", ["a", "w"], ["out"])]
    value = helper.make_tensor_value_info
    graph = helper.make_graph(nodes, "g", [value("x", TensorProto.FLOAT, None)],
                              [value("out", TensorProto.FLOAT, None)])
    assert float_layers(graph) == ["out", "skip"]
