"""benchmarks/fast_decoder.py: the fast-decoder rows of `make bench`, on the shipped mnist-z2 export."""

from __future__ import annotations

import pytest

from .fast_decoder import REPO, fast_exports, measure, table

EXPORT = REPO / "checkpoints" / "mnist-z2" / "onnx"


@pytest.fixture(scope="module")
def result():
    if EXPORT not in fast_exports():
        pytest.skip(f"{EXPORT} ships no fast decoder (python -m vaekit.train.distill checkpoints/mnist-z2)")
    return measure(EXPORT, threads=1, runs=5, batches=(1, 2))


def test_every_decoder_of_the_export_is_timed_at_every_batch(result):
    assert set(result["batches"]) == {"1", "2"}
    for per in result["batches"].values():
        assert set(per) == {"teacher fp32", "fast fp32", "fast fp16"}
        assert all(ms > 0 for ms in per.values())


def test_the_table_has_one_row_per_decoder_and_batch_and_the_quality(result):
    lines = table({"mnist-z2": result})
    assert sum(line.startswith("| mnist-z2 |") for line in lines) == 6
    assert any("fast decoder PSNR" in line and "dB" in line for line in lines)
