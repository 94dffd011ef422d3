"""50 requests at once (sample and reconstruct) through gradio_client: every one succeeds.

Latency percentiles are printed for the record, not asserted (speed targets live in
benchmarks).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

pytestmark = [
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]

REQUESTS = 50


def test_50_concurrent_requests_all_succeed(client, capsys):
    def call(i: int):
        t0 = time.perf_counter()
        if i % 2:
            out = client.predict("mnist-tiny", i, 9, 1.0, api_name="/sample")
            image, text = out[0], out[1]
        else:
            out = client.predict("mnist-tiny", i, api_name="/reconstruct_example")
            image, text = out[1], out[2]
        return i, time.perf_counter() - t0, np.asarray(Image.open(image)).shape, text

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=REQUESTS) as pool:
        results = list(pool.map(call, range(REQUESTS)))
    wall = time.perf_counter() - t0

    assert len(results) == REQUESTS
    for i, _, shape, text in results:
        want = (4 * (3 * 28 + 2 * 2),) * 2 if i % 2 else (112, 112)
        assert shape == want, f"request {i}: image {shape}, expected {want}"
        assert "ms" in text, f"request {i}: {text!r}"
    # each reconstruction is of its own example: results were not mixed up between requests
    texts = {i: text for i, _, _, text in results}
    for i in range(0, REQUESTS, 2):
        assert texts[i].startswith(f"example #{i} ")
    latencies = np.array([dt for _, dt, _, _ in results]) * 1000
    with capsys.disabled():
        print(f"\n[demo concurrency] {REQUESTS} concurrent requests in {wall:.2f} s: "
              f"p50 {np.percentile(latencies, 50):.0f} ms, p95 {np.percentile(latencies, 95):.0f} ms, "
              f"max {latencies.max():.0f} ms")
