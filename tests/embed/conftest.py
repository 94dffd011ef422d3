"""Fixtures of the embedding tests: the repository served as a static site, and the clients.

The browser page (``web/``) and the Node example (``examples/node/``) get their
onnxruntime packages from npm at pinned versions (``make npm-deps``, which ``make test``
runs); a test that needs one is skipped, with the command to run, only when it is absent
(npm unreachable).
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading

import pytest
from embed_support import CHROMIUM, CHROMIUM_ARGS, NPM_HINT, ORT_NODE, ORT_WEB, REPO


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".wasm": "application/wasm", ".mjs": "text/javascript", ".js": "text/javascript",
                      ".onnx": "application/octet-stream", ".json": "application/json"}

    def log_message(self, *args) -> None:  # no access log on the test output
        pass


@pytest.fixture(scope="session")
def static_site():
    """``http://127.0.0.1:PORT/``: the repository as any static host would serve it."""
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(REPO)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (`make browser`)")
    if not ORT_WEB.is_file():
        pytest.skip(f"onnxruntime-web is not installed in web/node_modules: {NPM_HINT}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def node() -> str:
    """The ``node`` executable, with onnxruntime-node installed for ``examples/node``."""
    found = shutil.which("node")
    if found is None:
        pytest.skip("node is not installed (the example needs Node.js >= 18)")
    if not ORT_NODE.is_file():
        pytest.skip(f"onnxruntime-node is not installed in examples/node/node_modules: {NPM_HINT}")
    return found
