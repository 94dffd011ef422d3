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
    prepare_for_quantization(pre, plain, prepared, work)
    assert prepared.read_bytes() == b"graph"
    assert pre.calls == [{}, {"skip_symbolic_shape": True}]
    assert list(Path.cwd().iterdir()) == [], "onnxruntime's leftovers reached the working directory"


def test_a_graph_nothing_can_prepare_is_refused_in_one_line(graph):
    plain, prepared, work = graph
    pre = PreProcess(Exception("Incomplete symbolic shape inference"), ValueError("bad shape"))
    with pytest.raises(ExportError, match=r"could not prepare the graph for int8 .*bad shape.*without --int8"):
        prepare_for_quantization(pre, plain, prepared, work)
    assert list(Path.cwd().iterdir()) == []


def test_another_failure_is_refused_without_a_second_try(graph):
    plain, prepared, work = graph
    pre = PreProcess(RuntimeError("protobuf parsing failed"))
    with pytest.raises(ExportError, match=r"could not prepare plain.onnx .*protobuf parsing failed.*without --int8"):
        prepare_for_quantization(pre, plain, prepared, work)
    assert len(pre.calls) == 1
