"""int8 graphs that compute the same on every CPU, and the export's refusal of one that would not.

x86 CPUs without VNNI (AVX2, AVX-512 without VNNI) run ONNX Runtime's uint8 x int8 kernels
with two products added into one int16, which saturates above 32767. The export quantises
weights to 7 bits (|q| <= 64, so a pair reaches at most 255 * 128 = 32640) and refuses a
graph whose weights could pass 32767. The check reads the weights, not this host's kernels,
so these tests give the same answer on every CPU.
"""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime.quantization as ortq
import pytest
from vaekit.export import ExportError, graphs
from vaekit.export.onnx_checks import INT16_MAX, check_portable, int8_pair_sums, make_portable
from vaekit.runtime.session import build_session


def calibration(n: int = 16) -> list[np.ndarray]:
    return [np.random.default_rng(0).standard_normal((n, 2), dtype=np.float32)]


@pytest.fixture
def full_range_quantiser(monkeypatch):
    """onnxruntime's quantiser with 8-bit weights (reduce_range off): what the export used to write."""
    real = ortq.quantize_static

    def eight_bit(*args, **kwargs):
        kwargs["reduce_range"] = False
        return real(*args, **kwargs)

    monkeypatch.setattr(ortq, "quantize_static", eight_bit)


@pytest.mark.parametrize("graph", ["encoder", "decoder"])
def test_exported_int8_weights_cannot_saturate_an_int16_pair(tiny_ckpt, graph):
    model = onnx.load(str(tiny_ckpt / "onnx" / f"{graph}.int8.onnx"))
    sums = int8_pair_sums(model)
    assert sums, "every Conv/Gemm weight of the int8 graph is found"
    assert max(sums.values()) <= INT16_MAX


def test_the_contract_records_the_quality_per_kernel_path(tiny_ckpt):
    int8 = json.loads((tiny_ckpt / "onnx" / "vaekit.json").read_text())["variants"]["int8"]
    assert int8["int16_pair_sum_max"] <= INT16_MAX
    paths = int8["kernel_paths"]
    assert set(paths) == {"int32", "int16-pairs", "host"}
    assert paths["int16-pairs"]["decoder_psnr_db_vs_fp32"] == paths["int32"]["decoder_psnr_db_vs_fp32"]
    assert "bound" in paths["int16-pairs"]["measured"] and "AVX2" in paths["int16-pairs"]["cpus"]
    assert int8["decoder_psnr_db_vs_fp32"] == min(p["decoder_psnr_db_vs_fp32"] for p in paths.values())


def test_a_planted_saturating_int8_graph_is_refused_whatever_the_host(tiny_ckpt, tmp_path, full_range_quantiser):
    out = tmp_path / "decoder.int8.onnx"
    with pytest.raises(ExportError, match=r"int8 weight\(s\) .* reach \d+ > 32767: .*x86 CPUs without VNNI"
                                          r".*reduce_range=True"):
        graphs.quantize_int8(tiny_ckpt / "onnx" / "decoder.onnx", out, input_name="z",
                             calibration=calibration(), props={"precision": "int8"}, doc="")
    assert not out.exists(), "nothing is written"


def test_the_same_weights_at_7_bits_pass_and_stay_close_to_fp32(tiny_ckpt, tmp_path):
    out = tmp_path / "decoder.int8.onnx"
    graphs.quantize_int8(tiny_ckpt / "onnx" / "decoder.onnx", out, input_name="z",
                         calibration=calibration(), props={"precision": "int8"}, doc="")
    z = calibration(8)[0]
    fp32 = build_session(tiny_ckpt / "onnx" / "decoder.onnx").run(None, {"z": z})[0]
    # optimisations off: DequantizeLinear + float Conv, the same arithmetic on every host
    literal = build_session(out, optimization="disable").run(None, {"z": z})[0]
    assert np.abs(literal - fp32).max() < 0.1


def test_check_portable_names_the_overflow_only_for_int8_graphs(tiny_ckpt, tmp_path, full_range_quantiser):
    """The bound is a property of the weights: a full-range graph fails it, named and explained."""
    import onnxruntime.quantization as q

    src, dst = tiny_ckpt / "onnx" / "decoder.onnx", tmp_path / "q.onnx"

    class Reader(q.CalibrationDataReader):
        def __init__(self):
            self.it = iter([{"z": calibration()[0]}])

        def get_next(self):
            return next(self.it, None)

    q.quantize_static(str(src), str(dst), Reader(), quant_format=q.QuantFormat.QDQ, per_channel=True,
                      activation_type=q.QuantType.QUInt8, weight_type=q.QuantType.QInt8)
    model = make_portable(onnx.load(str(dst)))
    assert max(int8_pair_sums(model).values()) > INT16_MAX
    with pytest.raises(ExportError, match="AVX2"):
        check_portable(model, "q.onnx", precision="int8")


def test_the_export_summary_prints_each_kernel_path(tiny_ckpt):
    from vaekit.export.__main__ import summary

    text = summary(json.loads((tiny_ckpt / "onnx" / "vaekit.json").read_text()), tiny_ckpt / "onnx")
    line = next(ln for ln in text.splitlines() if "int8 per kernel path (dB): " in ln)
    assert all(f"{path} " in line for path in ("int32", "int16-pairs", "host"))
    assert "largest uint8 x int8 pair sum" in text and ": None" not in text
    # the encoder's error too: reconstructions and the latent explorer read its means
    contract = json.loads((tiny_ckpt / "onnx" / "vaekit.json").read_text())
    worst = max(b["mean"] for b in contract["variants"]["int8"]["parity_vs_torch_fp32"]["encoder"].values())
    assert "int8: encoder max |int8 - torch fp32| logvar " in text and f"mean {worst:.3g} (batch 1/7/64)" in text


@pytest.mark.parametrize("graph", ["encoder", "decoder"])
def test_the_layer_that_writes_the_output_stays_float(tiny_ckpt, graph):
    """Its rounding would land on every pixel (decoder) or latent (encoder) unfiltered."""
    model = onnx.load(str(tiny_ckpt / "onnx" / f"{graph}.int8.onnx"))
    producers = {out: n for n in model.graph.node for out in n.output}
    gemms = [n for n in model.graph.node if n.op_type in graphs.INT8_OPS]
    weight_of = {n.name: producers.get(n.input[1]) for n in gemms}
    assert weight_of[gemms[-1].name] is None or weight_of[gemms[-1].name].op_type != "DequantizeLinear"
    assert all(weight_of[n.name].op_type == "DequantizeLinear" for n in gemms[:-1])
