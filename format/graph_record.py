"""The graph files an export lists in ``vaekit.json``, as typed records.

* :class:`GraphRecord` - one ONNX file: ``file``, ``inputs``/``outputs`` (name -> shape, ``"N"``
  the batch axis), ``opset``, ``ir_version``, ``bytes``, ``sha256``.
* :class:`VariantRecord` - ``variants[PRECISION]``: the fp16 or int8 encoder and decoder and
  how they compare with fp32; an int8 one records ``int16_pair_sum_max`` (the largest uint8 x
  int8 pair sum: at most 32767 runs exactly on CPUs without VNNI) and its ``kernel_paths``.
* :class:`FastDecoderRecord` - ``fast_decoder``: a distilled ``decoder.fast.onnx`` with its
  student, cost, quality and latency, and its own fp16 copy under ``variants``.

Measurements and provenance (parity tables, latency, distillation options) are kept as written
(typed ``Any``): no consumer acts on them, and the exporter owns their shape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .records import REEXPORT, JsonRecord

Shape = tuple[int | str, ...]


@dataclass(frozen=True)
class GraphRecord(JsonRecord):
    """One ONNX file of an export. ``sha256`` and ``ir_version``: absent in older exports."""

    WHERE = "graph"

    file: str
    inputs: dict[str, Shape]
    outputs: dict[str, Shape]
    opset: int
    bytes: int
    ir_version: int | None = None
    sha256: str | None = None

    def __post_init__(self) -> None:
        if "/" in self.file or "\\" in self.file or not self.file.endswith(".onnx"):
            raise ValueError(f"graph file {self.file!r} must be a .onnx file name in the export folder; {REEXPORT}")
        if self.sha256 is not None and not re.fullmatch(r"[0-9a-f]{64}", self.sha256):
            raise ValueError(f"{self.file}: sha256 {self.sha256!r} is not 64 hex digits; {REEXPORT}")
        if self.bytes < 1:
            raise ValueError(f"{self.file}: bytes must be positive, got {self.bytes}; {REEXPORT}")

    def shapes(self) -> dict[str, list[int | str]]:
        """Every input's and output's declared shape, as :func:`~vaekit.format.graph_shapes` gives."""
        return {k: list(v) for k, v in {**self.inputs, **self.outputs}.items()}


@dataclass(frozen=True)
class KernelPath(JsonRecord):
    """``variants.int8.kernel_paths[PATH]``: the int8 decoder's PSNR on one family of CPU kernels
    (null where it is not known: an int16-pair path whose sums could saturate)."""

    WHERE = "kernel path"
    NULLABLE = ("decoder_psnr_db_vs_fp32",)

    cpus: str
    measured: str
    decoder_psnr_db_vs_fp32: float | None = None


@dataclass(frozen=True)
class VariantRecord(JsonRecord):
    """``variants[PRECISION]`` (fp16 or int8). ``runs_on_cpu`` False comes with a ``note`` and
    no measurements (the graphs passed the ONNX checker only)."""

    WHERE = "variant"

    encoder: GraphRecord
    decoder: GraphRecord
    runs_on_cpu: bool | None = None
    note: str | None = None
    method: str | None = None
    decoder_psnr_db_vs_fp32: float | None = None
    psnr_latents: str | None = None
    parity_vs_torch_fp32: Any = None
    fp16_computed: Any = None
    int16_pair_sum_max: int | None = None
    kernel_paths: dict[str, KernelPath] | None = None

    def __post_init__(self) -> None:
        if self.int16_pair_sum_max is not None and self.int16_pair_sum_max < 0:
            raise ValueError(f"int16_pair_sum_max must be >= 0, got {self.int16_pair_sum_max}; {REEXPORT}")

    def graph(self, name: str) -> GraphRecord:
        return self.encoder if name == "encoder" else self.decoder


@dataclass(frozen=True)
class FastVariantRecord(JsonRecord):
    """``fast_decoder.variants[PRECISION]``: the student graph at another precision."""

    WHERE = "fast decoder variant"

    graph: GraphRecord = field(metadata={"flatten": True})
    quality: Any = None
    latency: Any = None


@dataclass(frozen=True)
class FastDecoderRecord(JsonRecord):
    """``fast_decoder``: the distilled decoder (same inputs and outputs as ``decoder``).
    ``not_written``: precisions asked for but left out, with why."""

    WHERE = "fast_decoder"
    NULLABLE = ("trained_steps",)

    graph: GraphRecord = field(metadata={"flatten": True})
    variants: dict[str, FastVariantRecord] = field(default_factory=dict)
    not_written: dict[str, str] | None = None
    student: Any = None
    student_sha256: str | None = None
    trained_steps: int | None = None
    distill: Any = None
    parity: Any = None
    quality: Any = None
    cost: Any = None
    latency: Any = None

    def at(self, precision: str) -> GraphRecord | None:
        """The student graph at ``precision`` (None where the export has no such copy)."""
        if precision == "fp32":
            return self.graph
        variant = self.variants.get(precision)
        return variant.graph if variant is not None else None
