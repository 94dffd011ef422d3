"""Latency of encoder and decoder on every backend, on the same inputs (see conftest.py).

Each case times ``runner.call`` on a fixed input after untimed warm-up calls (up to three,
whose median sets the number of rounds), then checks that the outputs match PyTorch eager on
the same input within the tolerance of the backend's graph precision
(:data:`benchmarks.backends.TOLERANCE`: fp32 1e-3, fp16 5e-2, int8 only for shape and
finiteness, its error being reported as PSNR in the report instead).
"""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from .backends import BACKENDS, TOLERANCE, Unavailable, first_call

pytestmark = pytest.mark.slow  # exports and times a fresh model

MIN_ROUNDS, MAX_ROUNDS = 5, 200


def rounds_for(seconds_per_call: float, target_s: float) -> int:
    """Rounds that fill ``target_s`` seconds, clamped to [MIN_ROUNDS, MAX_ROUNDS]."""
    return max(MIN_ROUNDS, min(MAX_ROUNDS, math.ceil(target_s / max(seconds_per_call, 1e-6))))


def test_latency(benchmark, bench, case):
    settings = bench.settings
    if case.backend == "torch-compile" and settings.mode == "smoke":
        pytest.skip("torch.compile is timed by `make bench` only: one compile takes ~30 s on this CPU")
    if settings.deadline and time.time() > settings.deadline:
        reason = "the run's time budget (benchmarks.run --max-minutes) was used up before this case"
        bench.skipped[case.id] = reason
        pytest.skip(reason)
    try:
        runner = bench.runner(case)
        x = bench.input(case)
        reference = bench.reference(case)
        prepared = runner.prepare(x)
        _, first_s = first_call(runner, prepared, bench.torch)
    except Unavailable as e:
        bench.skipped[case.id] = str(e)
        pytest.skip(str(e))
    bench.first_calls[case.id] = first_s

    rounds = 1
    if not benchmark.disabled:  # more warm-up calls, which also calibrate the rounds
        calls = [first_call(runner, prepared)[1]]
        while len(calls) < 3 and sum(calls) < 0.3 * settings.target_s:
            calls.append(first_call(runner, prepared)[1])
        rounds = rounds_for(float(np.median(calls)), settings.target_s)
    out = benchmark.pedantic(runner.call, args=(prepared,), rounds=rounds, iterations=1, warmup_rounds=0)
    outputs = runner.finish(out)

    flops = bench.flops_per_image(case.model, case.part)
    diffs = [float(np.max(np.abs(o - r))) for o, r in zip(outputs, reference)]
    benchmark.group = case.group
    benchmark.extra_info.update(
        model=case.model, part=case.part, backend=case.backend, batch=case.batch,
        flops_per_image=flops, max_abs_diff_vs_eager=max(diffs), first_call_s=first_s,
        threads=settings.threads,
        **{k: v for k, v in runner.info.items() if isinstance(v, (str, int, float, list))},
    )

    assert [o.shape for o in outputs] == [r.shape for r in reference], (
        f"{case.backend} returns shapes {[o.shape for o in outputs]}, PyTorch "
        f"{[r.shape for r in reference]}"
    )
    assert all(np.isfinite(o).all() for o in outputs), f"{case.backend} returns non-finite values"
    tolerance = TOLERANCE[BACKENDS[case.backend].precision]
    if tolerance is not None:
        assert max(diffs) <= tolerance, (
            f"{case.backend} differs from PyTorch eager by {max(diffs):.2e} (> {tolerance:g}) "
            f"on {case.model} {case.part} at batch {case.batch}"
        )
