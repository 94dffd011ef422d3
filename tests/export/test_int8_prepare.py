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


def graph_of(nodes: list[tuple[str, list[str], str]], outputs: list[str]):
    """An ONNX graph of ``(op, inputs, output)`` nodes, each named after its output."""
    from onnx import TensorProto, helper

    value = helper.make_tensor_value_info
    return helper.make_graph([helper.make_node(op, ins, [out], name=out) for op, ins, out in nodes],
                             "g", [value("x", TensorProto.FLOAT, None)],
                             [value(o, TensorProto.FLOAT, None) for o in outputs])


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
    from vaekit.export.graphs import output_heads

    graph = graph_of([("Conv", ["x", "w"], "trunk"), ("Relu", ["trunk"], "h"),
                      ("Conv", ["h", "w"], "head_a"), ("Conv", ["h", "w"], "head_b"),
                      ("Exp", ["head_b"], "scale"), ("Mul", ["head_a", "scale"], "group"),
                      ("Concat", ["group", "head_b"], "out"),
                      ("Gemm", ["h", "w"], "other"), ("Sigmoid", ["other"], "out2")], ["out", "out2"])
    assert output_heads(graph) == ["head_a", "head_b", "other"]  # never "trunk": behind a head


def test_a_layer_that_takes_a_concat_stays_float_with_the_heads():
    """A Concat joins tensors of different scales; one uint8 scale for all of it rounds the
    smaller ones away, so the conv it feeds is kept float (the hierarchical encoder's
    posterior cells); a conv after a normalisation of the Concat is quantised as usual."""
    from vaekit.export.graphs import float_layers

    graph = graph_of([("Conv", ["x", "w"], "up"), ("Conv", ["x", "w"], "down"),
                      ("Concat", ["up", "down"], "joined"), ("Conv", ["joined", "w"], "skip"),
                      ("InstanceNormalization", ["joined", "s", "b"], "normed"),
                      ("Conv", ["normed", "w"], "branch"), ("Add", ["skip", "branch"], "h"),
                      ("Relu", ["h"], "a"), ("Conv", ["a", "w"], "out")], ["out"])
    assert float_layers(graph) == ["out", "skip"]
