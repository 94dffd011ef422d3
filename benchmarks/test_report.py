"""The FLOP counter and the report builder, on graphs and numbers with known answers."""

from __future__ import annotations

import math

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from .flops import count_flops
from .report import plot, render, rows, targets


def conv_gemm_graph() -> onnx.ModelProto:
    """x [N, 3, 8, 8] -> Conv 3->4 3x3 pad 1 -> Flatten -> Gemm 256->10 (dynamic N)."""
    w = numpy_helper.from_array(np.zeros((4, 3, 3, 3), np.float32), "w")
    g = numpy_helper.from_array(np.zeros((256, 10), np.float32), "g")
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Flatten", ["c"], ["f"]),
        helper.make_node("Gemm", ["f", "g"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])], [w, g])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


def test_flop_counter_matches_hand_count_and_scales_with_batch():
    conv = 2 * (4 * 8 * 8) * (3 * 3 * 3)  # outputs x multiply-adds per output
    gemm = 2 * 256 * 10
    one = count_flops(conv_gemm_graph(), batch=1)
    assert one.by_op == {"Conv": conv, "Gemm": gemm}
    assert one.uncounted == ()
    assert count_flops(conv_gemm_graph(), batch=64).total == 64 * (conv + gemm)


def test_flop_counter_counts_a_quantised_graph_like_its_float_one():
    """QDQ int8 graphs do the same multiply-adds: GFLOP/s compare across precisions.

    (This is why the counter is ours: onnx-tool 1.0.1 also counts Quantize/DequantizeLinear
    and weights element-wise ops by its own costs, so the shipped MNIST decoder's int8 graph
    counts 5% more than its fp32 one.)
    """
    model = conv_gemm_graph()
    graph = model.graph
    scale = numpy_helper.from_array(np.array(0.1, np.float32), "s")
    zero = numpy_helper.from_array(np.array(0, np.int8), "zp")
    wq = numpy_helper.from_array(np.zeros((4, 3, 3, 3), np.int8), "wq")
    graph.initializer.remove(next(i for i in graph.initializer if i.name == "w"))
    graph.initializer.extend([scale, zero, wq])
    graph.node.insert(0, helper.make_node("DequantizeLinear", ["wq", "s", "zp"], ["w"]))
    assert count_flops(model).by_op == count_flops(conv_gemm_graph()).by_op


def test_flop_counter_counts_conv_transpose_by_hand():
    """x [N, 4, 5, 5] -> ConvTranspose 4->2, 3x3, stride 2: each input pixel scatters 2*3*3."""
    w = numpy_helper.from_array(np.zeros((4, 2, 3, 3), np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("ConvTranspose", ["x", "w"], ["y"], strides=[2, 2])], "t",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4, 5, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2, 11, 11])], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    assert count_flops(model, batch=3).by_op == {"ConvTranspose": 3 * 2 * (4 * 5 * 5) * (2 * 3 * 3)}


def test_flop_counter_names_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="vaekit.export"):
        count_flops(tmp_path / "missing.onnx")


def _bench_json(cases: dict[tuple[str, str, int], float]) -> dict:
    """A pytest-benchmark JSON with one decoder model; value = median seconds."""
    out = []
    for (model, backend, batch), median in cases.items():
        data = [median * f for f in (0.9, 1.0, 1.0, 1.1, 2.0)]
        out.append({"name": f"test_latency[{model}-{backend}-{batch}]",
                    "stats": {"median": median, "rounds": len(data), "data": data},
                    "extra_info": {"model": model, "part": "decoder", "backend": backend, "batch": batch,
                                   "flops_per_image": 1e9, "max_abs_diff_vs_eager": 1e-6,
                                   "first_call_s": median}})
    return {"benchmarks": out}


def _extras(rss_runtime: float) -> dict:
    models = {"rgb64-fresh": {"description": "fresh", "notes": [], "image_shape": [3, 64, 64],
                              "latent_dim": 64, "flops_per_image": {"decoder": 1e9}}}
    cold = {"runtime": {"seconds": 0.3, "peak_rss_mib": rss_runtime, "torch_imported": False,
                        "seconds_all": [0.3]},
            "torch": {"seconds": 3.0, "peak_rss_mib": 600.0, "torch_imported": True, "seconds_all": [3.0]}}
    return {"machine": {"cpu_model": "Test CPU", "logical_cores": 2}, "notes": {"models": models},
            "peak": {"n": 4096, "numpy_gflops": 100.0, "torch_gflops": 80.0},
            "cold_start": {"rgb64-fresh": cold}, "psnr": {"rgb64-fresh": {"int8": 35.5}},
            "sizes": {"rgb64-fresh": {"fp32": {"encoder": 2**21, "decoder": 3 * 2**20}}}}


CASES = {("rgb64-fresh", "torch-eager", 1): 0.010, ("rgb64-fresh", "ort-all", 1): 0.004,
         ("rgb64-fresh", "ort-int8", 1): 0.003, ("rgb64-fresh", "torch-eager", 64): 1.0,
         ("rgb64-fresh", "ort-all", 64): 0.8, ("rgb64-fresh", "ort-int8", 64): 0.5}


def test_targets_pass_and_fail_on_the_numbers():
    lines = [t.line for t in targets(rows(_bench_json(CASES)), _extras(rss_runtime=150.0))]
    # ORT is 2.5x eager at batch 1 but only 1.25x at batch 64: the 2x target fails
    assert lines[0].startswith("- **FAIL**") and "2.50x" in lines[0] and "1.25x" in lines[0]
    # 64 images * 1 GFLOP / 0.8 s = 80 GFLOP/s = 80% of the 100 GFLOP/s peak
    assert lines[1].startswith("- **PASS**") and "80.0 GFLOP/s = 80.0%" in lines[1]
    assert lines[2].startswith("- **PASS**") and "35.5 dB" in lines[2]
    assert lines[3].startswith("- **PASS**") and "150 MiB vs 600 MiB = 0.25" in lines[3]
    too_big = [t.line for t in targets(rows(_bench_json(CASES)), _extras(rss_runtime=300.0))]
    assert too_big[3].startswith("- **FAIL**")


def test_report_has_machine_table_p95_and_plot(tmp_path):
    rs = rows(_bench_json(CASES))
    p95 = np.percentile([0.8 * f for f in (0.9, 1.0, 1.0, 1.1, 2.0)], 95)
    text = render(rs, _extras(rss_runtime=150.0))
    assert "Test CPU" in text
    row = next(line for line in text.splitlines() if line.startswith("| 64 | ort-all |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[2] == "800" and cells[3] == f"{p95 * 1e3:.0f}"  # median and p95 in ms
    assert cells[5] == "80" and cells[6] == "1.25x" and cells[7] == "80.0"  # images/s, speed-up, GFLOP/s
    assert "| rgb64-fresh | fp32 | 2.00 MiB | 3.00 MiB |" in text
    plot(rs, tmp_path / "latency.png")
    assert (tmp_path / "latency.png").read_bytes()[:4] == b"\x89PNG"
    assert math.isclose(rs[0].images_per_s, rs[0].batch / rs[0].median_s)


def test_training_section_lists_each_measured_case_with_its_device_and_no_other():
    from .report import training_section

    local = [{"case": "mnist-preset-b128", "device": "cpu-x (2 threads)", "batch_size": 128,
              "compile": False, "images_per_second_median": 812.4, "warmup_seconds": 1.5}]
    gpu = {"train_throughput_h100.json": [
        {"case": "mnist-d32z32-b1024", "device": "NVIDIA H100", "batch_size": 1024, "compile": True,
         "images_per_second_median": 52400.2, "warmup_seconds": 30.1},
        {"case": "celeba-preset-b256", "error": "OutOfMemoryError: ..."}]}
    text = "\n".join(training_section(local, gpu))
    assert "| cpu-x (2 threads) | mnist-preset-b128 | 128 | no | 812 | 1.5 |" in text
    assert "| NVIDIA H100 | mnist-d32z32-b1024 | 1024 | yes | 52,400 | 30.1 |" in text
    assert "celeba-preset-b256 | | | failed: OutOfMemoryError" in text
    assert "Shipped models" not in text  # no training-run records: no such table


def test_runtime_overhead_is_judged_on_the_interleaved_ratios_and_tabled():
    measured = [{"model": "rgb64-fresh", "part": part, "batch": batch, "threads": 2, "rounds": 20,
                 "ort_all_ms": 1.0, "runtime_ms": 1.0 * ratio, "ratio": ratio, "ratio_low": ratio - 0.01,
                 "ratio_high": ratio + 0.01, "checks_us": 3.0, "load": 0.5}
                for part, batch, ratio in (("decoder", 1, 1.02), ("decoder", 64, 1.08), ("encoder", 1, 0.99))]
    extras = {**_extras(rss_runtime=150.0), "overhead": measured}

    def verdict() -> str:
        [line] = [t.line for t in targets(rows(_bench_json(CASES)), extras) if "within 5% of ort-all" in t.line]
        return line

    line = verdict()  # b64's whole interval (1.07-1.09) is above 1.05: shown slower
    assert line.startswith("- **FAIL**") and "decoder b64 1.080 (1.070-1.090)" in line
    assert "encoder b1 0.990" in line and "1 shown slower" in line
    measured[1].update(ratio_low=0.98, ratio_high=1.12)  # noise wider than the 5% asked about
    line = verdict()
    assert line.startswith("- **N/A**") and "1 not resolvable" in line
    measured[1].update(ratio=1.04, ratio_low=1.03, ratio_high=1.05)
    assert verdict().startswith("- **PASS**")
    text = render(rows(_bench_json(CASES)), extras, plot_file=None)
    assert "## vaekit.runtime vs the bare ort-all session, interleaved" in text
    assert "| rgb64-fresh | decoder | 64 | 1 | 1.08 | 1.040 | 1.030-1.050 | 3 | 20 | 0.5 |" in text
    [na] = [t.line for t in targets(rows(_bench_json(CASES)), _extras(rss_runtime=150.0)) if "ort-all at every" in t.line]
    assert na.startswith("- **N/A**") and "python -m benchmarks.overhead" in na
