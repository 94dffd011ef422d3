"""Which models are benchmarked, and where their ONNX graphs come from.

* Every shipped checkpoint ``checkpoints/<name>/`` (holding ``config.json``): its graphs are
  the shipped ``checkpoints/<name>/onnx/`` when present; precisions that folder lacks are
  exported into the cache (``build/benchmarks/``) with ``python -m vaekit.export``.
* The 64x64 RGB configuration (the CelebA preset of ``vaekit.train.datasets``), freshly
  initialised with seed 0: latency does not depend on the weights. It stands in until a
  trained model of that architecture ships (``checkpoints/celeba64``), then it is left out.
* When no checkpoint ships, a freshly initialised MNIST configuration stands in (and the
  report says so).
* In smoke mode (plain ``pytest``) a tiny fresh model only, so the smoke stays fast.

Cache entries are keyed by the config, the weights and the exporter's source, so a changed
exporter re-exports.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from vaekit.format import (
    CONFIG,
    CONTRACT_FILE,
    GRAPHS,
    ONNX_SUBFOLDER,
    WEIGHTS,
    Contract,
    graph_file,
    image_shape,
    sha256_file,
)

REPO = Path(__file__).resolve().parent.parent
CHECKPOINTS = REPO / "checkpoints"
CACHE = REPO / "build" / "benchmarks"
PARTS = GRAPHS
PRECISIONS = ("fp32", "int8", "fp16")
SHIPPED_ORDER = ("mnist-z2", "fashion-mnist-z16", "celeba64")

#: the CelebA preset (the celeba record in train/datasets.py; a test keeps them equal),
#: freshly initialised
RGB64 = {"in_channels": 3, "image_size": 64, "dim": 16, "dim_mults": (1, 2, 4, 8),
         "likelihood": "logistic", "latent_dim": 64}
MNIST = {"dim": 16, "latent_dim": 2}
TINY = {"in_channels": 3, "image_size": 16, "dim": 8, "dim_mults": (1, 2), "likelihood": "logistic",
        "latent_dim": 4}

#: fresh model name -> (its dataset, its VAEConfig kwargs); the dataset is what its
#: checkpoint's config.json says, so the export writes that dataset's presentation
FRESH = {"rgb64-fresh": ("celeba", RGB64), "mnist-fresh": ("mnist", MNIST),
         "tiny-fresh": ("celeba", TINY)}


@dataclass(frozen=True)
class ModelSpec:
    """A model to benchmark, before anything is exported: cheap to build at collection time."""

    name: str
    checkpoint: Path | None  # a shipped checkpoint folder, or None for a fresh config
    fresh_config: dict | None = None  # VAEConfig kwargs when freshly initialised
    dataset: str = ""  # a fresh model's dataset (a shipped one's is in its config.json)

    @classmethod
    def fresh(cls, name: str) -> ModelSpec:
        """The freshly initialised model ``name`` of :data:`FRESH`."""
        dataset, config = FRESH[name]
        return cls(name, None, config, dataset)

    @property
    def description(self) -> str:
        if self.checkpoint is not None:
            return f"shipped checkpoint {self.checkpoint.relative_to(REPO)}"
        args = ", ".join(f"{k}={v!r}" for k, v in self.fresh_config.items())
        return f"freshly initialised VAEConfig({args}), seed 0"


@dataclass
class BenchModel:
    """A model with its checkpoint and graphs on disk: ``graphs[precision][part] -> .onnx``."""

    spec: ModelSpec
    checkpoint: Path
    export_dir: Path  # the folder VAE.load opens (holds vaekit.json when the exporter wrote it)
    graphs: dict[str, dict[str, Path]]
    latent_dim: int
    image_shape: tuple[int, int, int]
    notes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.spec.name


def _checkpoint_folders() -> list[Path]:
    """``checkpoints/<name>/`` folders that hold a config.json, known names first."""
    if not CHECKPOINTS.is_dir():
        return []
    rank = {n: i for i, n in enumerate(SHIPPED_ORDER)}
    found = [p for p in CHECKPOINTS.iterdir() if (p / CONFIG).is_file()]
    return sorted(found, key=lambda p: (rank.get(p.name, len(rank)), p.name))


def shipped_checkpoints() -> list[Path]:
    """The shipped checkpoints the latency cases time (see :func:`untimed_reason`)."""
    return [p for p in _checkpoint_folders() if not untimed_reason(p / ONNX_SUBFOLDER)]


def untimed_checkpoints() -> dict[str, str]:
    """The shipped checkpoints the latency cases leave out: name -> why."""
    reasons = {p.name: untimed_reason(p / ONNX_SUBFOLDER) for p in _checkpoint_folders()}
    return {name: reason for name, reason in reasons.items() if reason}


def untimed_reason(export_dir: Path) -> str | None:
    """Why the latency cases leave out the model exported in ``export_dir``, or None.

    The one rule for every benchmark (these and ``gpu_runtime.py``): the cases feed the
    decoder ``z`` alone, so a decoder with inputs beside it (a conditional model's ``label``),
    as its export's contract says, is left out. An unreadable contract counts as ``z``
    alone: the cases that load it then report the problem.
    """
    try:
        contract = Contract.load(export_dir)
    except (OSError, ValueError):
        return None
    inputs = list(contract.graph_inputs("decoder"))
    if inputs == ["z"]:
        return None
    return f"its decoder takes {inputs} (a conditional model) and the timed cases feed z alone"


def _is_rgb64(checkpoint: Path | None) -> bool:
    """Whether a checkpoint has the 64x64 RGB architecture (then no fresh stand-in is needed)."""
    if checkpoint is None:
        return False
    try:
        model = json.loads((checkpoint / CONFIG).read_text())["model"]
    except (OSError, ValueError, KeyError):
        return False
    return all(list(model.get(k, [])) == list(v) if isinstance(v, tuple) else model.get(k) == v
               for k, v in RGB64.items())


def model_pool() -> dict[str, ModelSpec]:
    """Every model a run may name: the shipped checkpoints and the fresh configurations."""
    return {**{p.name: ModelSpec(p.name, p) for p in shipped_checkpoints()},
            **{n: ModelSpec.fresh(n) for n in FRESH}}


def model_specs(mode: str, only: str | tuple[str, ...] | None = None) -> list[ModelSpec]:
    """The models of a run: ``mode`` is ``full`` or ``smoke``; ``only``: names (a comma list or
    a tuple) that replace the mode's models."""
    wanted = [n.strip() for n in only.split(",") if n.strip()] if isinstance(only, str) else list(only or ())
    if wanted:
        pool = model_pool()
        unknown = [n for n in wanted if n not in pool]
        if unknown:
            raise ValueError(f"unknown models {unknown}; known: {sorted(pool)} "
                             f"(shipped checkpoints live in {CHECKPOINTS})")
        return [pool[n] for n in wanted]
    if mode == "smoke":
        return [ModelSpec.fresh("tiny-fresh")]
    specs = [ModelSpec(p.name, p) for p in shipped_checkpoints()]
    if not specs:
        specs.append(ModelSpec.fresh("mnist-fresh"))
    if not any(_is_rgb64(s.checkpoint) for s in specs):  # a trained CelebA model replaces it
        specs.append(ModelSpec.fresh("rgb64-fresh"))
    return specs


def _source_hash() -> str:
    """sha256 over the exporter's and the model's source: a changed exporter re-exports."""
    h = hashlib.sha256()
    for folder in ("format", "export", "train", "runtime"):
        for path in sorted((REPO / folder).glob("*.py")):
            h.update(path.name.encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:12]


def _key(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:12]


def _find_graphs(folder: Path) -> dict[str, dict[str, Path]]:
    graphs: dict[str, dict[str, Path]] = {}
    for precision in PRECISIONS:
        files = {part: folder / graph_file(part, precision) for part in PARTS}
        if all(f.is_file() for f in files.values()):
            graphs[precision] = files
    return graphs


def _export(checkpoint: Path, out: Path, precisions: tuple[str, ...]) -> str | None:
    """Run ``python -m vaekit.export`` into ``out``; returns why it failed, or None."""
    flags = [f"--{p}" for p in precisions if p != "fp32"]
    cmd = [sys.executable, "-m", "vaekit.export", str(checkpoint), "--out", str(out), *flags,
           "--examples", "0", "--quiet"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return f"`{' '.join(cmd[1:])}` failed (rc {proc.returncode}): {' | '.join(tail)}"
    return None


def _fresh_checkpoint(spec: ModelSpec, folder: Path) -> Path:
    import torch
    from vaekit.train import DataConfig, VAEConfig, build_model, save_checkpoint

    ckpt = folder / "checkpoint"
    if not (ckpt / WEIGHTS).is_file():
        torch.manual_seed(0)
        model = build_model(VAEConfig(**spec.fresh_config))
        save_checkpoint(ckpt, model, data=DataConfig(dataset=spec.dataset))
    return ckpt


def prepare(spec: ModelSpec, *, precisions: tuple[str, ...] = PRECISIONS) -> BenchModel:
    """Checkpoint and graphs of ``spec`` on disk, exporting into the cache when needed."""
    from vaekit.train.checkpoint import load_configs

    notes: list[str] = []
    src = _source_hash()
    if spec.checkpoint is not None:
        ckpt = spec.checkpoint
        weights = sha256_file(ckpt / WEIGHTS)
        cache = CACHE / f"{spec.name}-{_key(weights, src)}"
    else:
        cache = CACHE / f"{spec.name}-{_key(json.dumps(spec.fresh_config, sort_keys=True), spec.dataset, src)}"
        ckpt = _fresh_checkpoint(spec, cache)
    for stale in CACHE.glob(f"{spec.name}-*"):  # entries of older weights or exporter sources
        if stale != cache and stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
    config, _, _ = load_configs(ckpt)

    graphs: dict[str, dict[str, Path]] = {}
    export_dir = ckpt / ONNX_SUBFOLDER
    if spec.checkpoint is not None and export_dir.is_dir():
        graphs = _find_graphs(export_dir)
        if graphs:
            notes.append(f"{'/'.join(graphs)} graphs: shipped {export_dir.relative_to(REPO)}")
    missing = tuple(p for p in precisions if p not in graphs)
    if missing:
        out = cache / ONNX_SUBFOLDER
        if not all(p in _find_graphs(out) for p in missing):
            shutil.rmtree(out, ignore_errors=True)  # our own cache: re-export it whole
            problem = _export(ckpt, out, missing)
            if problem:
                notes.append(problem)
        cached = _find_graphs(out)
        got = [p for p in missing if p in cached]
        for p in got:
            graphs[p] = cached[p]
        if got:
            where = out.relative_to(REPO)
            notes.append(f"{'/'.join(got)} graphs: exported by the benchmark into {where}")
        if "fp32" not in graphs or not (export_dir / CONTRACT_FILE).is_file():
            export_dir = out
    if "fp32" not in graphs:
        raise FileNotFoundError(
            f"no fp32 graphs for {spec.name}: {'; '.join(notes) or 'the export wrote none'}; "
            f"check that `python -m vaekit.export {ckpt}` works"
        )
    return BenchModel(spec=spec, checkpoint=ckpt, export_dir=export_dir, graphs=graphs,
                      latent_dim=config.latent_dim, image_shape=image_shape(config), notes=notes)


def graph_bytes(path: Path) -> int:
    """Size of a graph on disk, external weight files (``<name>.data``) included."""
    total = path.stat().st_size
    for extra in (path.with_name(path.name + ".data"), path.with_suffix(".data")):
        if extra.is_file():
            total += extra.stat().st_size
    return total
