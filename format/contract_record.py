"""``vaekit.json`` as one typed record: :class:`Contract`, what every consumer reads.

The exporter builds a :class:`Contract` and saves it; the runtime, the demo, the Triton writer
and (through the schema :func:`contract_schema` generates, ``web/contract_schema.js``) the
browser page and the Node example load it, so a field is spelled and checked once::

    contract = Contract.load("checkpoints/mnist-z2/onnx")   # a folder, its vaekit.json, or a dict
    contract.num_classes, contract.class_names, contract.default_prior.name
    contract.graph("decoder", "int8").sha256, contract.precisions
    contract.save(folder / CONTRACT_FILE)                    # atomic

Sub-records: the graphs (:class:`~vaekit.format.graph_record.GraphRecord`, precision
:class:`~vaekit.format.graph_record.VariantRecord`, the distilled
:class:`~vaekit.format.graph_record.FastDecoderRecord`), the prior
(:class:`~vaekit.format.prior.PriorRecord`), the framing
(:class:`~vaekit.format.framing.Framing`), the classes (:class:`Classes`: ``num_classes`` and
``class_names``, checked together) and the built-in examples (:class:`ExamplesRecord`).

Keys vaekit does not know are errors naming the key; keys an older export lacks are None (left
out when saved), and each consumer says what it does without them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .contract import (
    CONTRACT_KEYS,
    FORMAT,
    FORMAT_VERSION,
    GRAPH_NAMES,
    graph_inputs,
    graph_shapes,
    metadata_props,
)
from .files import atomic_write_text
from .framing import Framing, check_background
from .graph_record import FastDecoderRecord, GraphRecord, VariantRecord
from .names import CONTRACT_FILE, EXAMPLES_FILE, GRAPHS, PRECISIONS
from .prior import PriorRecord
from .records import REEXPORT, JsonRecord, load_record, record_dict

FIX = REEXPORT
GRAPH_OUTPUTS = {g: GRAPH_NAMES[g][1] for g in GRAPHS}


@dataclass(frozen=True)
class Classes:
    """``num_classes`` (0: unconditional; else >= 2, and the graphs take ``label`` int64 [N])
    and ``class_names`` (one per class; [] for an unconditional model)."""

    num_classes: int = 0
    class_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        n, names = self.num_classes, self.class_names
        if isinstance(n, bool) or not isinstance(n, int) or n < 0 or n == 1:
            raise ValueError(f"num_classes must be 0 (unconditional) or an integer >= 2, got {n!r}; {FIX}")
        # the runtime takes a model as conditional when it has class names and feeds the graphs a
        # label when num_classes says so: both must agree, or a label goes to a graph without one
        if len(names) != n:
            want = f"{n} names (num_classes)" if n else "no names (num_classes 0: an unconditional model)"
            raise ValueError(f"class_names must list {want}, got {len(names)}: {list(names)!r}; {FIX}")

    @classmethod
    def load(cls, entry: Mapping[str, Any], *, where: str = "") -> Classes:
        names = entry.get("class_names", [])
        if not isinstance(names, (list, tuple)) or not all(isinstance(c, str) for c in names):
            raise ValueError(f"class_names must be a list of strings, got {names!r}; {FIX}")
        return cls(num_classes=entry.get("num_classes", 0), class_names=tuple(names))

    def to_dict(self) -> dict[str, Any]:
        return {"num_classes": self.num_classes, "class_names": list(self.class_names)}


@dataclass(frozen=True)
class ExamplesRecord(JsonRecord):
    """``examples``: real test images shipped as ``examples.npz`` (``count`` of the ``split``)."""

    WHERE = "examples"

    file: str
    count: int
    split: str
    bytes: int

    def __post_init__(self) -> None:
        if self.file != EXAMPLES_FILE:
            raise ValueError(f"examples must name {EXAMPLES_FILE!r}, got {self.file!r}; {FIX}")
        if self.count < 1 or self.bytes < 1:
            raise ValueError(f"examples count and bytes must be positive, got {self.count}, {self.bytes}; {FIX}")


@dataclass(frozen=True)
class Contract:
    """The export contract (``vaekit.json``). See the module docstring."""

    NULLABLE = ("examples",)  # written as null when the export has no examples.npz

    format: str
    format_version: int
    channels: int
    height: int
    width: int
    latent_dim: int
    likelihood: str
    dataset: str
    checkpoint_sha256: str
    vaekit_version: str
    opset: int
    classes: Classes | None = field(default=None, metadata={"flatten": True})
    encoder_inputs: tuple[str, ...] | None = None
    decoder_inputs: tuple[str, ...] | None = None
    encoder: GraphRecord | None = None
    decoder: GraphRecord | None = None
    variants: dict[str, VariantRecord] | None = None
    fast_decoder: FastDecoderRecord | None = None
    prior: PriorRecord | None = None
    fitted_priors: dict[str, str] | None = None
    background: str | None = None
    framing: Framing | None = None
    plottable: bool | None = None
    examples: ExamplesRecord | None = None
    checkpoint: str | None = None
    model_config: dict[str, Any] | None = None
    image_range: tuple[float, ...] | None = None
    batch_axis: str | None = None
    exported_with: dict[str, str] | None = None
    parity: Any = None
    requires: Any = None

    def __post_init__(self) -> None:
        self.validate()

    # -- reading and writing

    @classmethod
    def load(cls, source: str | os.PathLike | Mapping[str, Any], *, where: str | None = None) -> Contract:
        """The contract of an export folder, of a ``vaekit.json`` path, or of its parsed dict.

        Every problem is a ValueError (FileNotFoundError for a missing file) naming the file,
        the key and the fix.
        """
        if isinstance(source, Mapping):
            return cls._from_dict(source, where or CONTRACT_FILE)
        path = Path(source)
        if path.is_dir():
            path = path / CONTRACT_FILE
        if not path.is_file():
            raise FileNotFoundError(f"no {CONTRACT_FILE} in {path.parent}: {FIX}")
        try:
            entry = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"{path} is not valid JSON ({e}): {FIX}") from e
        return cls._from_dict(entry, where or str(path))

    @classmethod
    def _from_dict(cls, entry: Any, where: str) -> Contract:
        if not isinstance(entry, Mapping) or entry.get("format") != FORMAT:
            raise ValueError(f"{where} is not a vaekit export contract (no \"format\": \"{FORMAT}\")")
        if entry.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{where} has format_version {entry.get('format_version')!r}, this vaekit "
                             f"reads {FORMAT_VERSION}: {FIX} with this version")
        missing = [k for k in CONTRACT_KEYS if k not in entry]
        if missing:
            raise ValueError(f"{where} lacks {missing}: {FIX}")
        try:
            return load_record(cls, entry, where="")
        except (TypeError, ValueError) as e:
            fix = "" if "python -m vaekit.export" in str(e) else f"; {FIX}"
            raise ValueError(f"{where}: {e}{fix}") from None

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of ``vaekit.json`` (equal to the file a contract was loaded from)."""
        return record_dict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def save(self, path: str | os.PathLike) -> Path:
        """Write ``vaekit.json`` atomically (``path``: the file, or the export folder)."""
        path = Path(path)
        return atomic_write_text(path / CONTRACT_FILE if path.is_dir() else path, self.to_json())

    def replace(self, **changes: Any) -> Contract:
        """A copy with ``changes`` (checked again)."""
        return replace(self, **changes)

    # -- checks

    def validate(self) -> None:
        """Cross-field checks (the field types are checked on load): raise ValueError naming the
        field and the fix."""
        if self.format != FORMAT or self.format_version != FORMAT_VERSION:
            raise ValueError(f"format {self.format!r}/{self.format_version!r} is not {FORMAT}/{FORMAT_VERSION}; {FIX}")
        for k in ("channels", "height", "width", "latent_dim", "opset"):
            v = getattr(self, k)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{k} must be a positive integer, got {v!r}; {FIX}")
        if self.background is not None:
            check_background(self.background)
        if self.prior is not None:
            self.prior.validate(self.latent_dim)
        for g in GRAPHS:
            declared = getattr(self, f"{g}_inputs")
            if declared is not None and tuple(declared) != graph_inputs(self, g):
                raise ValueError(f"{g}_inputs {list(declared)} disagree with num_classes {self.num_classes} "
                                 f"(the graph takes {list(graph_inputs(self, g))}); {FIX}")
        unknown = sorted(set(self.variants or {}) - set(PRECISIONS[1:]))
        if unknown:
            raise ValueError(f"variants has unknown precisions {unknown}; choose from {PRECISIONS[1:]}; {FIX}")
        for where, graph, record in self._graph_records():
            want = graph_shapes(self, graph)
            got = record.shapes()
            names = (graph_inputs(self, graph), GRAPH_OUTPUTS[graph])
            if set(record.inputs) != set(names[0]) or set(record.outputs) != set(names[1]) or \
                    any(got[n] != want[n] for n in got):
                raise ValueError(f"{where} ({record.file}) declares {got}, but the model's latent_dim, "
                                 f"image shape and num_classes give {want}: the entries come from "
                                 f"different exports or were edited; {FIX}")

    def _graph_records(self) -> list[tuple[str, str, GraphRecord]]:
        out = [(g, g, getattr(self, g)) for g in GRAPHS if getattr(self, g) is not None]
        for p, v in (self.variants or {}).items():
            out += [(f"variants.{p}.{g}", g, v.graph(g)) for g in GRAPHS]
        if self.fast_decoder is not None:
            out.append(("fast_decoder", "decoder", self.fast_decoder.graph))
            out += [(f"fast_decoder.variants.{p}", "decoder", v.graph)
                    for p, v in self.fast_decoder.variants.items()]
        return out

    # -- what consumers ask

    @property
    def num_classes(self) -> int:
        return self.classes.num_classes if self.classes is not None else 0

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.classes.class_names if self.classes is not None else ()

    @property
    def conditional(self) -> bool:
        return self.num_classes > 0

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return self.channels, self.height, self.width

    @property
    def default_prior(self) -> PriorRecord:
        """The prior ``sample`` draws from (N(0, I) for an export without a ``prior``)."""
        return self.prior if self.prior is not None else PriorRecord()

    @property
    def precisions(self) -> tuple[str, ...]:
        """The precisions whose encoder and decoder ship: fp32 and the ``variants``, in order."""
        return tuple(p for p in PRECISIONS if p == "fp32" or p in (self.variants or {}))

    def variant(self, precision: str) -> VariantRecord | None:
        return (self.variants or {}).get(precision)

    def graph(self, name: str, precision: str = "fp32") -> GraphRecord | None:
        """The record of ``encoder``/``decoder`` at ``precision`` (None where the export has none)."""
        if name not in GRAPHS:
            raise ValueError(f"unknown graph {name!r}; choose one of {GRAPHS}")
        if precision == "fp32":
            return getattr(self, name)
        variant = self.variant(precision)
        return variant.graph(name) if variant is not None else None

    def graph_inputs(self, graph: str) -> tuple[str, ...]:
        return graph_inputs(self, graph)

    def graph_shapes(self, graph: str) -> dict[str, list[int | str]]:
        return graph_shapes(self, graph)

    def metadata_props(self, *, graph: str, precision: str) -> dict[str, str]:
        return metadata_props(self, graph=graph, precision=precision)

