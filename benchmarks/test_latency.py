"""Latency of encoder and decoder on every backend, on the same inputs (see conftest.py).

Each case times ``runner.call`` on a fixed input after untimed warm-up calls (up to three,
whose median sets the number of rounds), then checks
that the outputs match PyTorch eager on the same input: fp32 backends within 1e-3, the fp16
graph within 5e-2, the int8 graph only for shape and finiteness (its error is reported as
PSNR in the report instead).
"""

from __future__ import annotations

import math
import os
import time

import numpy as np
import pytest

from .backends import Unavailable, first_call
from .conftest import MODE

TOLERANCE = {"ort-fp16": 5e-2, "ort-int8": None, "openvino-int8": None}
FP32_TOLERANCE = 1e-3
TARGET_S = float(os.environ.get("VAEKIT_BENCH_TARGET_S", "0.6"))  # timed seconds per case
DEADLINE = float(os.environ.get("VAEKIT_BENCH_DEADLINE", "0"))  # epoch seconds; 0: none
MIN_ROUNDS, MAX_ROUNDS = 5, 200


def rounds_for(seconds_per_call: float) -> int:
    """Rounds that fill :data:`TARGET_S`, clamped to [MIN_ROUNDS, MAX_ROUNDS]."""
    return max(MIN_ROUNDS, min(MAX_ROUNDS, math.ceil(TARGET_S / max(seconds_per_call, 1e-6))))


def test_latency(benchmark, bench, case):
    if case.backend == "torch-compile" and MODE == "smoke":
        pytest.skip("torch.compile is timed by `make bench` only: one compile takes ~30 s on this CPU")
    if DEADLINE and time.time() > DEADLINE:
        reason = "the run's time budget (benchmarks.run --max-minutes) was used up before this case"
        bench.skipped[case.id] = reason
        pytest.skip(reason)
    try:
        runner = bench.runner(case)
        x = bench.input(case)
        reference = bench.reference(case)
        prepared = runner.prepare(x)
        state = bench.compile_state if case.backend == "torch-compile" else None
        _, first_s = first_call(runner, prepared, state=state, key=f"{case.model}/{case.part}")
    except Unavailable as e:
        bench.skipped[case.id] = str(e)
        pytest.skip(str(e))
    bench.first_calls[case.id] = first_s

    rounds = 1
    if not benchmark.disabled:  # more warm-up calls, which also calibrate the rounds
        calls = [first_call(runner, prepared)[1]]
        while len(calls) < 3 and sum(calls) < 0.3 * TARGET_S:
            calls.append(first_call(runner, prepared)[1])
        rounds = rounds_for(float(np.median(calls)))
    out = benchmark.pedantic(runner.call, args=(prepared,), rounds=rounds, iterations=1, warmup_rounds=0)
    outputs = runner.finish(out)

    flops = bench.flops_per_image(case.model, case.part)
    diffs = [float(np.max(np.abs(o - r))) for o, r in zip(outputs, reference)]
    benchmark.group = case.group
    benchmark.extra_info.update(
        model=case.model, part=case.part, backend=case.backend, batch=case.batch,
        flops_per_image=flops, max_abs_diff_vs_eager=max(diffs), first_call_s=first_s,
        threads=int(os.environ.get("VAEKIT_BENCH_THREADS") or os.cpu_count() or 1),
        **{k: v for k, v in runner.info.items() if isinstance(v, (str, int, float, list))},
    )

    assert [o.shape for o in outputs] == [r.shape for r in reference], (
        f"{case.backend} returns shapes {[o.shape for o in outputs]}, PyTorch "
        f"{[r.shape for r in reference]}"
    )
    assert all(np.isfinite(o).all() for o in outputs), f"{case.backend} returns non-finite values"
    tolerance = TOLERANCE.get(case.backend, FP32_TOLERANCE)
    if tolerance is not None:
        assert max(diffs) <= tolerance, (
            f"{case.backend} differs from PyTorch eager by {max(diffs):.2e} (> {tolerance:g}) "
            f"on {case.model} {case.part} at batch {case.batch}"
        )
