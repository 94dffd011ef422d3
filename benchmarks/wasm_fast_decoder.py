"""Batch-1 latency of the model's decoder and the fast decoder in onnxruntime-web (wasm), in Chromium.

    python -m benchmarks.wasm_fast_decoder checkpoints/celeba64/onnx [--runs 200]

Serves the repository on a local port, opens ``web/index.html`` on the export with the wasm
provider, creates a second session for ``decoder.fast.onnx`` in the page, and times the two
in turns (teacher, fast, teacher, ...) with ``performance.now()``, each sample the mean of
:data:`CALLS_PER_SAMPLE` calls; prints the medians as JSON. Needs Chromium and ``web/node_modules`` (``make browser npm-deps``). The page is not
cross-origin isolated, so onnxruntime-web runs its wasm kernels on one thread.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import sys
import threading
from pathlib import Path

from vaekit.format import Contract

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
#: calls per timed sample: performance.now() is coarsened to 0.1 ms outside cross-origin isolation
CALLS_PER_SAMPLE = 20
TIMING_JS = """async ([runs, d, calls]) => {
  const base = new URL(new URLSearchParams(location.search).get('model'), location.href).href;
  const fast = await ort.InferenceSession.create(base + 'decoder.fast.onnx', { executionProviders: ['wasm'] });
  const sessions = { teacher: window.vaekit.session, fast };
  const feeds = { z: new ort.Tensor('float32', new Float32Array(d).fill(0.3), [1, d]) };
  const times = { teacher: [], fast: [] };
  for (let i = 0; i < 5; i++) for (const s of Object.values(sessions)) await s.run(feeds);
  for (let i = 0; i < runs; i++) {
    for (const [k, s] of Object.entries(sessions)) {
      const t0 = performance.now();
      for (let j = 0; j < calls; j++) await s.run(feeds);
      times[k].push((performance.now() - t0) / calls);
    }
  }
  const median = a => { const b = [...a].sort((x, y) => x - y); return b[Math.floor(b.length / 2)]; };
  return { teacher_ms: median(times.teacher), fast_ms: median(times.fast), samples: runs, calls_per_sample: calls,
           threads: ort.env.wasm.numThreads ?? 1, isolated: self.crossOriginIsolated };
}"""


def measure(export_dir: Path, runs: int) -> dict:
    from playwright.sync_api import sync_playwright

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(REPO))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    rel = export_dir.resolve().relative_to(REPO)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                        args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page()
            page.set_default_timeout(600_000)
            page.goto(f"http://127.0.0.1:{server.server_address[1]}/web/index.html?model=/{rel}/&ep=wasm")
            page.evaluate("() => window.vaekit.ready")
            d = Contract.load(export_dir).latent_dim
            result = page.evaluate(TIMING_JS, [runs, d, CALLS_PER_SAMPLE])
            browser.close()
    finally:
        server.shutdown()
    result["speedup"] = round(result["teacher_ms"] / result["fast_ms"], 2)
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.wasm_fast_decoder", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("export", type=Path, help="an export folder with decoder.fast.onnx, inside the repository")
    p.add_argument("--runs", type=int, default=50,
                   help=f"timed samples of each decoder, {CALLS_PER_SAMPLE} calls each (1..100000)")
    args = p.parse_args(argv)
    if not 1 <= args.runs <= 100_000:
        p.error(f"--runs must be in 1..100000, got {args.runs}")
    if not (args.export / "decoder.fast.onnx").is_file():
        p.error(f"{args.export} has no decoder.fast.onnx: distil and re-export first")
    print(json.dumps(measure(args.export, args.runs), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
