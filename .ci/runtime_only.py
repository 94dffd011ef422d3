"""Run inside a fresh venv holding only ``pip install '.[cpu,demo]'``: what a runtime-only user gets.

    python .ci/runtime_only.py CHECKPOINT_OR_EXPORT_DIR ...

Checks, for every model given: torch is not installed (so nothing below can lean on it), the
runtime loads, encodes its shipped examples, decodes and samples; the demo app builds over
all the models in-process; and ``python -m vaekit.demo`` serves them on 127.0.0.1 (its page
and its config answer). Exits non-zero, naming the failing step, on the first problem.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

SERVE_TIMEOUT_S = 90


def step(text: str) -> None:
    print(f"runtime-only: {text}", flush=True)


def check_runtime(folders: list[Path]) -> None:
    import numpy as np
    from vaekit.runtime import VAE

    for folder in folders:
        vae = VAE.load(folder, providers="cpu")
        examples = vae.examples()
        images = examples.images[:4]
        # a conditional model takes the examples' own labels (an unconditional one: None)
        labels = examples.labels[:4] if vae.conditional else None
        mean, _ = vae.encode(images, labels=labels)
        decoded = vae.decode(mean, labels=labels)
        samples = vae.sample(2, seed=0, labels=labels[:2] if vae.conditional else None)
        assert decoded.shape == (len(images), *vae.image_shape), decoded.shape
        assert np.isfinite(samples).all() and 0 <= samples.min() and samples.max() <= 1
        step(f"{folder}: encode/decode/sample ok, latent {vae.latent_dim}, image {vae.image_shape}")


def check_app(folders: list[Path]) -> None:
    from vaekit.demo import build_app, load_models

    models = load_models(folders, providers="cpu")
    build_app(models)
    step(f"demo app built in-process over {len(models)} model(s): {', '.join(models)}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_server(folders: list[Path]) -> None:
    port = free_port()
    cmd = [sys.executable, "-m", "vaekit.demo", "--models", *map(str, folders), "--port", str(port),
           "--providers", "CPUExecutionProvider"]
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        deadline = time.monotonic() + SERVE_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"runtime-only: `{' '.join(cmd)}` exited {proc.returncode}:\n"
                                 f"{proc.stdout.read()[-3000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=5) as r:
                    config = json.loads(r.read())
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit(f"runtime-only: the demo did not answer on port {port} "
                                     f"within {SERVE_TIMEOUT_S} s") from None
                time.sleep(0.5)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as r:
            assert r.status == 200, r.status
        # the browser page ships inside the package: /web answers without a checkout
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/web/", timeout=10) as r:
            assert r.status == 200 and b"vaekit.js" in r.read(), "/web/ is not the browser page"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/web/models/index.json", timeout=10) as r:
            listed = [m["name"] for m in json.loads(r.read())]
            assert len(listed) == len(folders), listed
        step(f"python -m vaekit.demo serves on 127.0.0.1:{port} "
             f"({len(config.get('components', []))} components)")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def main(argv: list[str]) -> int:
    folders = [Path(a) for a in argv]
    if not folders:
        raise SystemExit("usage: python .ci/runtime_only.py CHECKPOINT_OR_EXPORT_DIR ...")
    present = [m for m in ("torch", "torchvision") if importlib.util.find_spec(m)]
    if present:
        raise SystemExit(f"runtime-only: {present} installed: this check needs a venv with only "
                         f"'.[cpu,demo]' (see the Makefile's runtime-only target)")
    check_runtime(folders)
    check_app(folders)
    check_server(folders)
    step("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
