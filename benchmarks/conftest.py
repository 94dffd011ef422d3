"""Fixtures and parametrisation of the latency benchmarks.

Two modes, set by the :class:`~benchmarks.settings.BenchSettings` that ``--bench-settings FILE``
names:

* ``smoke`` (without the option: what plain ``pytest`` / ``make test`` runs, with
  ``--benchmark-disable``): a tiny freshly initialised model, batch sizes 1 and 2, every
  backend called once, checking that all backends compute the same outputs. torch.compile
  is skipped (one compile takes ~30 s on a 2-core CPU).
* ``full`` (written by ``python -m benchmarks.run``): every shipped checkpoint plus the 64x64
  RGB configuration, batch sizes 1, 8, 64, 256, timed with calibrated rounds.

The settings also name the models, backends and batch sizes, and a JSON file that receives,
at the end of the session, the models' graph paths and FLOP counts and every skipped case
with its reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from .backends import BACKENDS, Runner, Target, TorchCache, make_runner
from .flops import count_flops
from .models import PARTS, BenchModel, ModelSpec, model_specs, prepare
from .settings import BenchSettings

SETTINGS = pytest.StashKey[BenchSettings]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--bench-settings", default=None, metavar="FILE",
                     help="benchmark settings JSON written by python -m benchmarks.run (default: smoke mode)")


def pytest_configure(config: pytest.Config) -> None:
    path = config.getoption("--bench-settings", default=None)
    try:
        config.stash[SETTINGS] = BenchSettings.load(path) if path else BenchSettings()
    except ValueError as e:
        raise pytest.UsageError(str(e)) from None


@dataclass(frozen=True)
class Case:
    """One benchmark: ``model`` x ``part`` x ``backend`` x ``batch``."""

    model: str
    part: str
    backend: str
    batch: int

    @property
    def id(self) -> str:
        return f"{self.model}-{self.part}-b{self.batch}-{self.backend}"

    @property
    def group(self) -> str:
        return f"{self.model}/{self.part}/b{self.batch}"


def all_cases(settings: BenchSettings) -> list[Case]:
    """Decoders first (the targets are about them, and they get the compile budget first)."""
    specs = model_specs(settings.mode, settings.models)
    return [Case(s.name, part, backend, n) for part in ("decoder", "encoder") for s in specs
            for n in settings.batches for backend in settings.backends]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "case" in metafunc.fixturenames:
        cases = all_cases(metafunc.config.stash[SETTINGS])
        metafunc.parametrize("case", cases, ids=[c.id for c in cases])


@dataclass
class Bench:
    """Session state: prepared models, runners, shared inputs and reference outputs."""

    settings: BenchSettings
    specs: dict[str, ModelSpec]
    torch: TorchCache
    models: dict[str, BenchModel] = field(default_factory=dict)
    runners: dict[tuple[str, str, str], Runner] = field(default_factory=dict)
    inputs: dict[tuple[str, str, int], np.ndarray] = field(default_factory=dict)
    references: dict[tuple[str, str, int], list[np.ndarray]] = field(default_factory=dict)
    flops: dict[tuple[str, str], float] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    first_calls: dict[str, float] = field(default_factory=dict)
    failed: dict[str, Exception] = field(default_factory=dict)

    def model(self, name: str) -> BenchModel:
        """The prepared model (exported once); a failed export fails every case fast."""
        if name in self.failed:
            raise self.failed[name]
        if name not in self.models:
            try:
                self.models[name] = prepare(self.specs[name])
            except (FileNotFoundError, ValueError) as e:
                self.failed[name] = e
                raise
        return self.models[name]

    def runner(self, case: Case) -> Runner:
        """The backend's runner, built once; one that cannot run raises ``Unavailable`` (asked
        again for the next case: torch.compile's budget may be spent by then)."""
        key = (case.model, case.part, case.backend)
        if key not in self.runners:
            target = Target(model=self.model(case.model), part=case.part, device=BACKENDS[case.backend].device,
                            threads=self.settings.threads, torch=self.torch)
            self.runners[key] = make_runner(case.backend, target)
        return self.runners[key]

    def input(self, case: Case) -> np.ndarray:
        """The same seeded input for every backend: z ~ N(0, I) or uniform images in [0, 1]."""
        key = (case.model, case.part, case.batch)
        if key not in self.inputs:
            m = self.model(case.model)
            rng = np.random.default_rng(case.batch)
            if case.part == "decoder":
                x = rng.standard_normal((case.batch, m.latent_dim), dtype=np.float32)
            else:
                x = rng.random((case.batch, *m.image_shape), dtype=np.float32)
            self.inputs[key] = x
        return self.inputs[key]

    def reference(self, case: Case) -> list[np.ndarray]:
        """PyTorch eager outputs on :meth:`input`: what every backend is compared with."""
        key = (case.model, case.part, case.batch)
        if key not in self.references:
            eager = self.runner(Case(case.model, case.part, "torch-eager", case.batch))
            x = self.input(case)
            self.references[key] = eager.finish(eager.call(eager.prepare(x)))
        return self.references[key]

    def flops_per_image(self, model: str, part: str) -> float:
        if (model, part) not in self.flops:
            self.flops[(model, part)] = count_flops(self.model(model).graphs["fp32"][part]).per_image
        return self.flops[(model, part)]

    def notes(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mode": self.settings.mode, "threads": self.settings.threads,
                               "batches": list(self.settings.batches), "skipped": self.skipped,
                               "first_call_s": self.first_calls, "compile_spent_s": self.torch.spent_s,
                               "models": {}}
        for name, m in self.models.items():
            out["models"][name] = {
                "description": m.spec.description, "notes": m.notes,
                "checkpoint": str(m.checkpoint), "export_dir": str(m.export_dir),
                "latent_dim": m.latent_dim, "image_shape": list(m.image_shape),
                "graphs": {p: {part: str(path) for part, path in g.items()} for p, g in m.graphs.items()},
                "flops_per_image": {part: self.flops.get((name, part)) for part in PARTS},
            }
        return out


@pytest.fixture(scope="session")
def bench(pytestconfig: pytest.Config) -> Any:
    settings = pytestconfig.stash[SETTINGS]
    state = Bench(settings=settings, specs={s.name: s for s in model_specs(settings.mode, settings.models)},
                  torch=TorchCache(budget_s=settings.compile_budget_s))
    yield state
    if settings.notes:
        from vaekit.format import atomic_write_text

        atomic_write_text(settings.notes, json.dumps(state.notes(), indent=2, sort_keys=True) + "\n")
