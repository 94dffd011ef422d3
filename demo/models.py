"""The models a demo serves: a runtime ``VAE`` plus what the demo derives from it once.

Loading never dies on a model's optional parts: an ``examples.npz`` that is truncated,
corrupt or of the wrong shape is skipped with a warning (that model is served without
built-in examples, the others as usual).
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from vaekit.format import METRICS
from vaekit.runtime import VAE
from vaekit.runtime.contract import CONTRACT_FILE, EXAMPLES_FILE, ONNX_SUBFOLDER
from vaekit.runtime.sidefiles import NPZ_ERRORS, REEXPORT, check_npz

from . import display, framing
from .facts import ModelFacts
from .fast import fast_twin

log = logging.getLogger("vaekit.demo")

CURATED_EXAMPLES = 20  # built-in examples offered per model (two per class when labelled)
ENCODE_CHUNK = 256


@dataclass
class BuiltinExamples:
    """Built-in test images of a model (the runtime's examples, checked), with the labels' names
    and a curated pick: ``images`` uint8 [N, C, H, W], ``labels`` int64 [N]."""

    images: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...] = ()

    def label_name(self, i: int) -> str:
        k = int(self.labels[i])
        if k < 0:
            return f"#{i}"
        return self.classes[k] if k < len(self.classes) else str(k)

    def curated(self, count: int = CURATED_EXAMPLES) -> list[int]:
        """Up to ``count`` indices cycling through the labels (0, 1, 2, ..., 0, 1, ...)."""
        n = len(self.images)
        if n == 0:
            return []
        labels = self.labels
        if not np.any(labels >= 0):
            return list(range(min(count, n)))
        by_class = {int(k): list(np.flatnonzero(labels == k)) for k in np.unique(labels)}
        out: list[int] = []
        rank = 0
        while len(out) < min(count, n):
            added = False
            for k in sorted(by_class):
                if rank < len(by_class[k]) and len(out) < count:
                    out.append(int(by_class[k][rank]))
                    added = True
            if not added:
                break
            rank += 1
        return out


def read_examples(vae: Any) -> BuiltinExamples | None:
    """The runtime's ``examples.npz`` of ``vae`` (read and checked against the model's image
    shape by the runtime's side-file reader); None when the export has none. A damaged file
    raises ``ValueError`` naming the file, the damage and the fix."""
    folder = getattr(vae, "folder", None)
    if folder is None or not (Path(folder) / EXAMPLES_FILE).is_file():
        return None
    ex = vae.examples()
    return BuiltinExamples(images=np.asarray(ex.images), labels=np.asarray(ex.labels, np.int64),
                           classes=tuple(str(c) for c in ex.classes))


def examples_of(vae: Any) -> tuple[BuiltinExamples | None, str | None]:
    """``(examples, None)``, or ``(None, warning)`` when the file is damaged: the model is
    still served, without built-in examples, and the warning is logged and shown."""
    try:
        return read_examples(vae), None
    except ValueError as e:
        log.warning("serving %s without built-in examples: %s", getattr(vae, "folder", vae), e)
        return None, str(e)


@dataclass
class DemoModel:
    """One served model: the runtime VAE plus what the demo derives from it once."""

    name: str
    vae: Any  # vaekit.runtime.VAE (or an object with its API)
    folder: Path | None = None
    examples: BuiltinExamples | None = None
    warning: str | None = None  # why the examples are missing, when they were damaged
    fast: Any = None  # the same export's VAE with decoder="fast" (decoder.fast.onnx), if it ships one
    facts: ModelFacts = field(init=False)
    spec: framing.InputSpec = field(init=False)
    curated: list[int] = field(init=False)
    scatter: Any = field(init=False, default=None)  # plot.LatentScatter, made by prepare_explorer
    limit: float = field(init=False, default=3.0)

    def __post_init__(self) -> None:
        ex = self.examples
        self.facts = ModelFacts.from_contract(
            getattr(self.vae, "contract", None) or self.vae.metadata,  # the typed Contract of a runtime VAE
            example_images=ex.images if ex is not None else None,
            example_classes=ex.classes if ex is not None else (),
        )
        if ex is not None and not ex.classes and self.facts.class_names:
            ex.classes = self.facts.class_names
        self.spec = framing.InputSpec.from_facts(self.facts)
        self.curated = ex.curated() if ex is not None else []

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return self.facts.channels, self.facts.height, self.facts.width

    @property
    def latent_dim(self) -> int:
        return self.facts.latent_dim

    @property
    def dataset(self) -> str:
        return self.facts.dataset

    @property
    def plottable(self) -> bool:
        return self.facts.plottable

    @property
    def provider(self) -> str:
        providers = list(self.vae.providers)
        return providers[0] if providers else "unknown"

    @property
    def scale(self) -> int:
        return display.display_scale(self.image_shape[1])

    def describe(self) -> str:
        c, h, w = self.image_shape
        n = len(self.examples.images) if self.examples is not None else 0
        text = (
            f"**{self.name}** — dataset `{self.dataset}`, {w}×{h}×{c} images, "
            f"{self.latent_dim}-D latent, likelihood `{self.vae.metadata.get('likelihood', '?')}`, "
            f"running on `{self.provider}`; {n} built-in examples"
        )
        if self.facts.conditional:
            text += f"; conditional on {self.facts.num_classes} classes"
        if self.fast is not None:
            text += "; a distilled fast decoder (`decoder.fast.onnx`) for the latent explorer"
        text += f"\n\n{self.identity()}"
        if self.warning:
            text += f"\n\n⚠️ built-in examples skipped: {self.warning}"
        return text

    def identity(self) -> str:
        """Which model this is, so that two of the same name can be told apart: its folder, and
        its epochs and test bound from the checkpoint's metrics.json beside the export (else
        the sha256 of the weights it was exported from)."""
        parts = [f"folder `{self.folder}`"] if self.folder is not None else []
        metrics = read_metrics(self.folder)
        if metrics.get("epochs"):
            parts.append(f"{metrics['epochs']} epochs")
        test = metrics.get("test") if isinstance(metrics.get("test"), dict) else {}
        if "log_likelihood_nats" in test:
            parts.append(f"test IS log-likelihood {test['log_likelihood_nats']:.2f} nats/image "
                         f"(K={test.get('samples', '?')}, {test.get('nll_bits_per_dim', float('nan')):.4f} bits/dim)")
        elif "elbo_nats" in test:
            parts.append(f"test ELBO {test['elbo_nats']:.2f} nats/image")
        if not test:
            sha = str(self.vae.metadata.get("checkpoint_sha256", ""))[:12]
            parts.append(f"weights sha256 {sha}" if sha else "no test figures")
        return " · ".join(parts)

    def decoder(self, fast: bool) -> Any:
        """The VAE that decodes an interactive path: the fast one when asked for and shipped."""
        return self.fast if fast and self.fast is not None else self.vae

    def choice_label(self) -> str:
        return f"{self.name} · {self.dataset} · z={self.latent_dim} · {self.provider}"

    def prepare_explorer(self) -> None:
        """Encode the examples and render the scatter (plottable models only; once, at start-up)."""
        if not self.plottable:
            return
        from .plot import render_scatter  # matplotlib: only where a plane is drawn

        points = np.zeros((0, 2))
        labels = None
        classes: tuple[str, ...] = ()
        if self.examples is not None and len(self.examples.images):
            imgs, labels = self.examples.images, self.examples.labels
            conditional = self.facts.conditional and bool(np.all(labels >= 0))

            def encode(i: int) -> np.ndarray:
                cond = {"labels": labels[i : i + ENCODE_CHUNK]} if conditional else {}
                return self.vae.encode(imgs[i : i + ENCODE_CHUNK], **cond)[0]

            points = (np.concatenate([encode(i) for i in range(0, len(imgs), ENCODE_CHUNK)])
                      if conditional or not self.facts.conditional else np.zeros((0, 2)))
            labels, classes = self.examples.labels, self.examples.classes
            finite = np.abs(points[np.all(np.isfinite(points), axis=1)])
            if len(finite):
                self.limit = max(3.0, math.ceil(float(np.percentile(finite, 99.5)) * 2) / 2)
        self.scatter = render_scatter(points, labels, classes, limit=self.limit)


def read_metrics(folder: Path | None) -> dict[str, Any]:
    """The metrics.json of the checkpoint whose ``onnx/`` is ``folder`` ({} when there is none)."""
    if folder is None or folder.name != ONNX_SUBFOLDER:
        return {}
    try:
        metrics = json.loads((folder.parent / METRICS).read_text())
    except (OSError, ValueError):
        return {}
    return metrics if isinstance(metrics, dict) else {}


def model_name(folder: Path) -> str:
    """``checkpoints/mnist-z2/onnx`` -> ``mnist-z2``; any other folder -> its own name."""
    folder = folder.resolve()
    return folder.parent.name if folder.name == ONNX_SUBFOLDER else folder.name


def load_models(paths: list[str | os.PathLike], *, providers: Any = "auto") -> dict[str, DemoModel]:
    """Load export folders (or checkpoint folders with ``onnx/``), keyed by a unique name.

    Missing or broken graphs raise the runtime's ``FileNotFoundError``/``ValueError``,
    which name the folder and the export command that fixes it; a damaged
    ``examples.npz`` only costs that model its examples (a warning).
    """
    return wrap_models({str(p): load_one(p, providers) for p in paths}, rename=True)


def load_one(path: str | os.PathLike, providers: Any) -> Any:
    """``VAE.load(path)``, after every side ``.npz`` but the (optional) examples was read
    through the runtime's checked reader: a damaged ``prior.npz`` is one line naming it."""
    folder = Path(path)
    if (folder / ONNX_SUBFOLDER / CONTRACT_FILE).is_file():
        folder = folder / ONNX_SUBFOLDER
    for side in sorted(folder.glob("*.npz")) if folder.is_dir() else ():
        if side.name != EXAMPLES_FILE:  # examples are optional: damaged ones are skipped later
            check_npz(side)
    try:
        return VAE.load(path, providers=providers)
    except (FileNotFoundError, ValueError):
        raise
    except NPZ_ERRORS as e:
        raise ValueError(f"{path}: a file of this export is damaged ({type(e).__name__}: "
                         f"{str(e)[:160]}); {REEXPORT}") from e


def wrap_models(models: dict[str, Any], *, rename: bool = False) -> dict[str, DemoModel]:
    """Runtime ``VAE`` objects (or :class:`DemoModel` values) as DemoModels keyed by name.

    ``rename``: name each model after its folder (``checkpoints/mnist-z2/onnx`` -> ``mnist-z2``)
    instead of its key; clashes get a numeric suffix.
    """
    out: dict[str, DemoModel] = {}
    for key, m in models.items():
        if isinstance(m, DemoModel):
            out[m.name] = m
            continue
        folder = Path(m.folder) if getattr(m, "folder", None) is not None else None
        name = model_name(folder) if rename and folder is not None else str(key)
        base, k = name, 2
        while name in out:
            name, k = f"{base}-{k}", k + 1
        examples, warning = examples_of(m)
        out[name] = DemoModel(name=name, vae=m, folder=folder, examples=examples, warning=warning,
                              fast=fast_twin(m)[0])
    return out
