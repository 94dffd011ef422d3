"""Paths and names shared by the embedding tests (``from embed_support import ...``)."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "checkpoints"
ORT_WEB = REPO / "web" / "node_modules" / "onnxruntime-web" / "dist" / "ort.min.js"
ORT_NODE = REPO / "examples" / "node" / "node_modules" / "onnxruntime-node" / "package.json"
CHROMIUM = Path(os.environ.get("VAEKIT_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
NPM_HINT = "run `make npm-deps` (needs the npm registry; skipped only where npm is unreachable)"


def shipped_exports() -> list[Path]:
    return sorted(p.parent for p in SHIPPED.glob("*/onnx/vaekit.json"))
