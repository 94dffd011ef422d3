"""`python -m vaekit.export CKPT --triton REPO`: a model repository Triton's own ModelConfig parses."""

from __future__ import annotations

import json

import onnx
import pytest
from vaekit.export.__main__ import main

model_config_pb2 = pytest.importorskip(
    "tritonclient.grpc.model_config_pb2",
    reason="tritonclient[grpc] is not installed (it comes with `pip install -e .[dev]`)")
text_format = pytest.importorskip("google.protobuf.text_format")

DTYPES = {onnx.TensorProto.FLOAT: "TYPE_FP32", onnx.TensorProto.FLOAT16: "TYPE_FP16",
          onnx.TensorProto.INT64: "TYPE_INT64"}


def parse(path):
    return text_format.Parse(path.read_text(), model_config_pb2.ModelConfig())


@pytest.mark.parametrize("precision, gpu", [("fp32", False), ("int8", True)])
def test_repository_configs_match_the_graphs(tiny_ckpt, tmp_path, capsys, precision, gpu):
    repo = tmp_path / "repo"
    args = [str(tiny_ckpt), "--if-missing", "--fp16", "--int8", "--triton", str(repo),
            "--triton-max-batch", "32", "--triton-precision", precision]
    assert main(args + (["--triton-gpu"] if gpu else [])) == 0
    assert "Triton model repository" in capsys.readouterr().out
    contract = json.loads((tiny_ckpt / "onnx" / "vaekit.json").read_text())
    assert sorted(p.name for p in repo.iterdir()) == ["ckpt_decoder", "ckpt_encoder"]
    kind = model_config_pb2.ModelInstanceGroup.KIND_GPU if gpu else model_config_pb2.ModelInstanceGroup.KIND_CPU
    for graph in ("encoder", "decoder"):
        folder = repo / f"ckpt_{graph}"
        shipped = tiny_ckpt / "onnx" / (f"{graph}.onnx" if precision == "fp32" else f"{graph}.{precision}.onnx")
        assert (folder / "1" / "model.onnx").read_bytes() == shipped.read_bytes()
        cfg = parse(folder / "config.pbtxt")
        assert (cfg.name, cfg.platform, cfg.max_batch_size) == (f"ckpt_{graph}", "onnxruntime_onnx", 32)
        assert cfg.HasField("dynamic_batching")
        assert [(g.count, g.kind) for g in cfg.instance_group] == [(1, kind)]
        model = onnx.load(str(folder / "1" / "model.onnx"))
        for declared, values, entry in ((cfg.input, model.graph.input, contract[graph]["inputs"]),
                                        (cfg.output, model.graph.output, contract[graph]["outputs"])):
            assert [t.name for t in declared] == [v.name for v in values]
            assert sorted(t.name for t in declared) == sorted(entry)
            for t, v in zip(declared, values):
                assert model_config_pb2.DataType.Name(t.data_type) == DTYPES[v.type.tensor_type.elem_type]
                graph_dims = [d.dim_value for d in v.type.tensor_type.shape.dim[1:]]
                assert list(t.dims) == graph_dims == entry[v.name][1:], "Triton dims = graph dims less N"


def test_bad_triton_options_are_refused_with_the_fix(tiny_ckpt, tmp_path, capsys):
    with pytest.raises(SystemExit):
        main([str(tiny_ckpt), "--if-missing", "--triton", str(tmp_path / "r"), "--triton-max-batch", "0"])
    assert "--triton-max-batch must be in 1..65536, got 0" in capsys.readouterr().err
    file = tmp_path / "file"
    file.write_text("x")
    with pytest.raises(SystemExit):  # refused with the options, before any export work
        main([str(tiny_ckpt), "--if-missing", "--triton", str(file)])
    assert "is a file, not a folder: pass a folder you can write to" in capsys.readouterr().err


def test_a_damaged_contract_is_refused_with_the_fix(tmp_path):
    from vaekit.export.errors import ExportError
    from vaekit.export.triton import write_triton_repo
    from vaekit.format import FORMAT, FORMAT_VERSION

    export = tmp_path / "onnx"
    export.mkdir()
    (export / "vaekit.json").write_text("{not json")
    with pytest.raises(ValueError, match="is not valid JSON .* re-export"):
        write_triton_repo(export, tmp_path / "repo", name="m")
    contract = {"format": FORMAT, "format_version": FORMAT_VERSION, "channels": 1, "height": 2, "width": 2,
                "latent_dim": 2, "likelihood": "bernoulli", "dataset": "d", "checkpoint_sha256": "0",
                "vaekit_version": "0", "opset": 18}  # no "encoder" entry (a KeyError before)
    (export / "vaekit.json").write_text(json.dumps(contract))
    for graph in ("encoder", "decoder"):
        (export / f"{graph}.onnx").write_bytes(onnx.helper.make_model(onnx.helper.make_graph(
            [], graph, [], [])).SerializeToString())
    with pytest.raises(ExportError, match="lists no inputs and outputs of the encoder: re-export"):
        write_triton_repo(export, tmp_path / "repo", name="m")


def test_a_conditional_decoder_label_is_a_per_item_scalar(tmp_path):
    """label int64 [N] (a conditional model): Triton dims [1], reshaped to [] for the graph."""
    from onnx import TensorProto, helper
    from vaekit.export.triton import TritonConfig, config_pbtxt

    h = helper
    graph = h.make_graph(
        [h.make_node("Cast", ["label"], ["f"], to=TensorProto.FLOAT), h.make_node("Unsqueeze", ["f", "axis"], ["u"]),
         h.make_node("Add", ["z", "u"], ["image"])], "cvae",
        [h.make_tensor_value_info("z", TensorProto.FLOAT, ["N", 2]),
         h.make_tensor_value_info("label", TensorProto.INT64, ["N"])],
        [h.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 2])],
        [h.make_tensor("axis", TensorProto.INT64, [1], [1])])
    declared = ({"z": ["N", 2], "label": ["N"]}, {"image": ["N", 2]})
    text = config_pbtxt("cvae_decoder", h.make_model(graph), declared, TritonConfig(max_batch_size=8),
                        heading="# a conditional decoder")
    cfg = parse_text(text)
    label = {t.name: t for t in cfg.input}["label"]
    assert model_config_pb2.DataType.Name(label.data_type) == "TYPE_INT64"
    assert list(label.dims) == [1] and label.HasField("reshape") and list(label.reshape.shape) == []


def parse_text(text: str):
    return text_format.Parse(text, model_config_pb2.ModelConfig())
