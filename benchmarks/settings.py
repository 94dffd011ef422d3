"""The settings of one latency run, written by ``python -m benchmarks.run`` for its pytest child.

``benchmarks.run`` saves a :class:`BenchSettings` as JSON and starts pytest with
``--bench-settings FILE``; ``benchmarks/conftest.py`` loads it. Without the option (plain
``pytest``, ``make test``) the defaults apply: smoke mode, one tiny model, batches 1 and 2.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field, fields

from vaekit.format import atomic_write_text, read_json_object

from .backends import backend_names

MODES = ("smoke", "full")
#: the numeric settings' ranges, both ends included
RANGES = {"threads": (1, 4096), "target_s": (1e-3, 3600.0), "compile_budget_s": (0.0, 86400.0),
          "deadline": (0.0, math.inf)}


def _cores() -> int:
    return os.cpu_count() or 1


@dataclass(frozen=True, kw_only=True)
class BenchSettings:
    """What the latency cases time and how long they may take.

    ``mode``: ``smoke`` (a tiny fresh model, each case run once, no torch.compile) or ``full``
    (the shipped checkpoints, timed). ``models``: model names (empty: the mode's models).
    ``backends``: backend names of :data:`benchmarks.backends.BACKENDS` that the CPU harness
    runs. ``batches``: batch sizes. ``threads``: threads per backend. ``target_s``: timed seconds
    per case. ``compile_budget_s``: stop compiling new modules with torch.compile once this much
    is spent. ``deadline``: epoch seconds after which cases are skipped (0: none). ``notes``: a
    JSON file that receives the models' graphs and every skipped case at the end ('': none).
    """

    mode: str = "smoke"
    models: tuple[str, ...] = ()
    backends: tuple[str, ...] = field(default_factory=lambda: backend_names("bench"))
    batches: tuple[int, ...] = (1, 2)
    threads: int = field(default_factory=_cores)
    target_s: float = 0.6
    compile_budget_s: float = 240.0
    deadline: float = 0.0
    notes: str = ""

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        for name in ("models", "backends", "batches"):
            if not isinstance(getattr(self, name), (list, tuple)):
                raise ValueError(f"{name} must be a list, got {getattr(self, name)!r}")
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if not all(isinstance(m, str) and m for m in self.models):
            raise ValueError(f"models must be non-empty names, got {list(self.models)}")
        known = backend_names("bench")
        if not self.backends or not set(self.backends) <= set(known):
            raise ValueError(f"backends must name some of {', '.join(known)}; got {list(self.backends)}")
        if not self.batches or not all(_number(b, 1, 1 << 20, int) for b in self.batches):
            raise ValueError(f"batches must be integers in [1, {1 << 20}], got {list(self.batches)}")
        for name, (low, high) in RANGES.items():
            value = getattr(self, name)
            if not _number(value, low, high, int if name == "threads" else (int, float)):
                kind = "an integer" if name == "threads" else "a number"
                raise ValueError(f"{name} must be {kind} in [{low:g}, {high:g}], got {value!r}")
        if not isinstance(self.notes, str):
            raise ValueError(f"notes must be a file path or '', got {self.notes!r}")

    def save(self, path: str | os.PathLike) -> None:
        """Write the settings as JSON, atomically."""
        atomic_write_text(path, json.dumps(asdict(self), indent=1) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike) -> BenchSettings:
        """The settings saved at ``path``; a missing file, unknown key or bad value is a ValueError."""
        fix = "rerun python -m benchmarks.run"
        try:
            data = read_json_object(path, fix=fix)
        except OSError as e:
            raise ValueError(f"cannot read benchmark settings {path}: {e}; {fix}") from e
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ValueError(f"{path}: unknown benchmark settings {unknown}; known: {known}")
        try:
            return cls(**data)
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from e


def _number(value, low: float, high: float, kind) -> bool:
    return isinstance(value, kind) and not isinstance(value, bool) and low <= value <= high
