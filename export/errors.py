"""The export's error type (torch-free, so the graph checks import it without torch)."""

from __future__ import annotations


class ExportError(RuntimeError):
    """torch.onnx.export, the ONNX checker or a portability check rejected a graph."""
