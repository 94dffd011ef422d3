"""vaekit.export: a checkpoint folder -> encoder.onnx + decoder.onnx + vaekit.json.

    python -m vaekit.export CHECKPOINT [--out DIR] [--fp16] [--int8] [--examples N] [--if-missing]

The graphs follow the contract in :mod:`vaekit.runtime.contract`; parity against PyTorch
(ONNX Runtime CPU, batch 1/7/64, max-abs-diff <= 1e-4) is checked before anything lands.
"""

from .graphs import OPSET, ExportError
from .pipeline import (
    PARITY_BATCHES,
    TOLERANCE,
    ParityError,
    default_out,
    export_checkpoint,
    is_up_to_date,
)

__all__ = ["OPSET", "PARITY_BATCHES", "TOLERANCE", "ExportError", "ParityError", "default_out",
           "export_checkpoint", "is_up_to_date"]
