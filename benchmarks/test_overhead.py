"""benchmarks.overhead: the runtime's cost over the ort-all session, interleaved, one row per case."""

from __future__ import annotations

import pytest

from benchmarks.overhead import main


def test_overhead_prints_ort_all_runtime_their_ratio_and_the_checks_per_case(capsys):
    assert main(["--models", "mnist-z2", "--batches", "2", "--repeats", "3", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "intra-op threads: 1" in out
    rows = [r for r in out.splitlines() if r.startswith("| mnist-z2 |")]
    assert [r.split("|")[2].strip() for r in rows] == ["decoder", "encoder"]
    for row in rows:
        cells = [c.strip() for c in row.split("|")[4:10]]
        ort_all, runtime, ratio, checks_us, rounds = (float(c) for c in cells[:3] + cells[4:6])
        low, high = (float(v) for v in cells[3].split("-"))
        assert ort_all > 0 and runtime > 0 and low <= ratio <= high and rounds == 3
        assert 0 < checks_us < 1000 * runtime  # the checks alone cost less than the whole call


def test_paired_blocks_swap_their_order_every_round():
    from benchmarks.overhead import paired

    calls = []
    a, b = paired(lambda: calls.append("a"), lambda: calls.append("b"), seconds=0, rounds=3)
    assert len(a) == len(b) == 3  # one median per block
    blocks = "".join(calls[6:])  # after the warm-up and calibration calls
    size = blocks.index("b")
    assert blocks == "a" * size + "b" * 2 * size + "a" * 2 * size + "b" * size


def test_overhead_refuses_a_model_that_does_not_ship(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--models", "no-such-model"])
    assert e.value.code == 2 and "no checkpoints/NAME/onnx for ['no-such-model']" in capsys.readouterr().err


def test_overhead_refuses_a_conditional_model(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--models", "mnist-cvae"])
    assert e.value.code == 2 and "['mnist-cvae'] take a class label" in capsys.readouterr().err


def test_the_median_interval_is_the_order_statistics_around_the_middle():
    from benchmarks.overhead import median_interval

    assert median_interval([3.0, 1.0, 2.0]) == (1.0, 3.0)  # few values: the whole range
    values = [float(v) for v in range(100)]
    low, high = median_interval(values)
    assert (low, high) == (40.0, 59.0)  # 50 -+ 0.98 * 10, as order statistics


def test_the_comparison_refuses_sessions_built_differently():
    """Both calls must time one configuration: a session with other threads or another
    optimisation level than ort-all's is refused, naming the setting."""
    from vaekit.format import graph_file
    from vaekit.runtime.session import build_session

    from benchmarks.overhead import REPO, same_as_ort_all

    graph = REPO / "checkpoints" / "mnist-z2" / "onnx" / graph_file("decoder")
    ort_all = build_session(graph, threads=1, optimization="all")
    same_as_ort_all(build_session(graph, threads=1, optimization="all"), ort_all)
    with pytest.raises(RuntimeError, match="intra_op_num_threads=2 where ort-all has 1"):
        same_as_ort_all(build_session(graph, threads=2, optimization="all"), ort_all)
    with pytest.raises(RuntimeError, match="graph_optimization_level"):
        same_as_ort_all(build_session(graph, threads=1, optimization="basic"), ort_all)
