"""Disk and memory stay bounded under many visitors (raw HTTP on loopback, bounded counts).

A server of its own, with its own Gradio cache folder, a short ``delete_cache`` schedule
and room for :data:`SESSIONS` sessions, answers 1,000 sample requests, each from a new
session (Gradio's ``/call`` route opens one per request) and each a different picture:
its resident memory after the last 800 stays where it was after the first 200, and the
pictures are deleted from the cache once they are old.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]

REQUESTS = 1000
WARMUP = 200
SESSIONS = 64  # far fewer than the requests: the state of older sessions is dropped
MAX_GROWTH_MB = 12.0  # unbounded session state grows ~0.1 MB per session: 80+ MB over 800
TIME_LIMIT_S = 240  # the whole run, on a busy 2-core machine (it takes ~30 s alone)
CACHE_AGE_S = 2


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


@pytest.fixture(scope="module")
def bounded(exported, tmp_path_factory, free_port_number):
    """``(url, cache folder, pictures of the first page)`` of a server with a 2-second cache
    age and 64 sessions."""
    if not sys.platform.startswith("linux"):
        pytest.skip("reads the resident memory from /proc/self/status (Linux only)")
    from vaekit.demo.app import build_app, launch, load_models

    cache = tmp_path_factory.mktemp("gradio-cache")
    old = os.environ.get("GRADIO_TEMP_DIR")
    os.environ["GRADIO_TEMP_DIR"] = str(cache)
    try:
        models = load_models([exported["mnist-tiny"]], providers="cpu")
        app = build_app(models, delete_cache=(1, CACHE_AGE_S))
        initial = set((cache / "vaekit-demo").glob("*.png"))  # the page's first pictures: kept
        _, url, _ = launch(app, port=free_port_number(), prevent_thread_lock=True, quiet=True,
                           sessions=int(os.environ.get("VAEKIT_TEST_SESSIONS", SESSIONS)),
                           concurrency=2)
        yield url.rstrip("/"), cache, initial
        app.close()
    finally:
        if old is None:
            os.environ.pop("GRADIO_TEMP_DIR", None)
        else:
            os.environ["GRADIO_TEMP_DIR"] = old


def call_sample(http, url: str, seed: int) -> dict:
    """One request in a new session: POST /call/sample, then read its event stream."""
    r = http.post(f"{url}/gradio_api/call/sample", json={"data": ["mnist-tiny", seed, 1, 1.0, -1]})
    r.raise_for_status()
    event_id = r.json()["event_id"]
    event = None
    with http.stream("GET", f"{url}/gradio_api/call/sample/{event_id}") as stream:
        for line in stream.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event in ("complete", "error"):
                data = json.loads(line.split(":", 1)[1])
                if event == "error":
                    raise AssertionError(f"seed {seed}: {data}")
                return {"image": data[0], "text": data[1]}
    raise AssertionError(f"seed {seed}: the event stream ended without a result")


def test_memory_and_disk_stay_flat_over_1000_new_sessions(bounded, capsys):
    import httpx

    url, cache, initial = bounded
    assert initial, "the page opens with pictures (gallery, explorer)"
    t0 = time.perf_counter()
    with httpx.Client(timeout=60) as http, ThreadPoolExecutor(max_workers=4) as pool:
        first = list(pool.map(lambda s: call_sample(http, url, s), range(WARMUP)))
        gc.collect()
        before = rss_mb()
        rest = list(pool.map(lambda s: call_sample(http, url, s), range(WARMUP, REQUESTS)))
        gc.collect()
        after = rss_mb()
    elapsed = time.perf_counter() - t0
    results = first + rest
    assert len(results) == REQUESTS and all("1 samples" in r["text"] for r in results)
    assert elapsed < TIME_LIMIT_S, f"{REQUESTS} requests took {elapsed:.0f} s"
    with capsys.disabled():
        print(f"\n[demo resources] {REQUESTS} new-session requests in {elapsed:.1f} s; RSS "
              f"{before:.1f} MB after {WARMUP}, {after:.1f} MB after {REQUESTS} "
              f"({after - before:+.1f} MB)")
    assert after - before < MAX_GROWTH_MB, (
        f"resident memory grew {after - before:.1f} MB over {REQUESTS - WARMUP} new sessions")

    pictures = cache / "vaekit-demo"
    computed = set(pictures.glob("*.png")) - initial
    deadline = time.monotonic() + CACHE_AGE_S + 8
    while time.monotonic() < deadline and set(pictures.glob("*.png")) - initial:
        time.sleep(0.5)
    left = set(pictures.glob("*.png")) - initial
    assert not left, f"{len(left)} of {len(computed)} computed pictures outlived their age"
    assert initial <= set(pictures.glob("*.png")), "the first page's pictures are kept"
    assert not list(pictures.glob(".*.tmp")), "no half-written picture is left behind"
