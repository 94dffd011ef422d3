"""vaekit.export: a checkpoint folder -> encoder.onnx + decoder.onnx + vaekit.json.

    python -m vaekit.export CHECKPOINT [--out DIR] [--fp16] [--int8] [--examples N] [--if-missing]

The graphs follow the contract in :mod:`vaekit.runtime.contract`; parity against PyTorch
(ONNX Runtime CPU, batch 1/7/64, max-abs-diff <= 1e-4) is checked before anything lands.
torch is imported only when an export runs, so ``--if-missing`` answers in a blink.
"""

from __future__ import annotations

import importlib
from typing import Any

from .freshness import default_out, is_up_to_date

_LAZY = {
    "OPSET": "graphs", "ExportError": "errors", "FP16_TOLERANCE": "parity",
    "PARITY_BATCHES": "parity", "TOLERANCE": "parity", "ParityError": "parity",
    "export_checkpoint": "pipeline",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["FP16_TOLERANCE", "OPSET", "PARITY_BATCHES", "TOLERANCE", "ExportError", "ParityError", "default_out",
           "export_checkpoint", "is_up_to_date"]
