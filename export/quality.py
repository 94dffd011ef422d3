"""Sample quality of exported VAEs: Frechet distance, precision and recall in a classifier's features.

    python -m vaekit.export.quality checkpoints/mnist-z2 [checkpoints/celeba64 ...]

For each model, the held-out test images are shuffled (seeded) and split into two disjoint
halves of ``--count`` images. The first half is the reference; every row compares
``--count`` images with it:

* ``test vs test``: the second half itself (the noise floor of the measure at this count);
* ``reconstructions``: the second half encoded and decoded (posterior means);
* ``normal T=...``: decodes of z ~ N(0, T^2 I);
* ``PRIOR T=...``: each other prior the runtime offers (``vae.priors``, e.g. a VampPrior's
  learned mixture), sampled with ``vae.sample(..., temperature=T)``.

A conditional model decodes with the labels of the second half, so its samples have the
class mix of the test split. Encoding and decoding run the exported graphs through
:mod:`vaekit.runtime` (ONNX Runtime on the CPU); features come from the dataset's feature
classifier (:mod:`vaekit.train.classifier`, ``checkpoints/classifiers/DATASET`` by default),
and the measures are :mod:`vaekit.train.quality`. The features are this project's own: the
numbers are not Inception-FID and are not comparable with figures in papers.

Each model's rows go to a JSON file (``quality.json`` in the folder given, or ``--out``),
written atomically; the markdown table of all of them is printed last.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from vaekit.format import CONFIG, ONNX_SUBFOLDER, WEIGHTS, Contract, atomic_write_text, sha256_file
from vaekit.format.cli import command_parser

QUALITY_FILE = "quality.json"
DEFAULT_COUNT = 2000
MAX_COUNT = 100_000
DEFAULT_TEMPERATURES = (1.0, 0.8)
NORMAL = "normal"
#: what a runtime without ``vae.priors`` calls the learned mixture an export ships (``prior.npz``)
LEGACY_MIXTURE = "vamp"


@dataclass(frozen=True)
class Settings:
    """How a model is measured (each value range-checked by :func:`check_settings`)."""

    count: int | None = None  # images per row (None: min(DEFAULT_COUNT, half the test split))
    k: int = 3
    temperatures: tuple[float, ...] = DEFAULT_TEMPERATURES
    seed: int = 0
    batch_size: int = 256


def check_settings(s: Settings) -> None:
    if s.count is not None and not 4 <= s.count <= MAX_COUNT:
        raise ValueError(f"--count must be in 4..{MAX_COUNT}, got {s.count} (images per row; "
                         f"omit it for min({DEFAULT_COUNT}, half the test split))")
    if not 1 <= s.k <= 100:
        raise ValueError(f"--k must be in 1..100, got {s.k} (the usual value is 3)")
    if not s.temperatures or len(s.temperatures) > 8:
        raise ValueError(f"--temperatures takes 1 to 8 values, got {len(s.temperatures)}")
    bad = [t for t in s.temperatures if not 0 < t <= 10]
    if bad:
        raise ValueError(f"--temperatures must each be in (0, 10], got {bad[0]} (1.0 samples the prior)")
    if not 0 <= s.seed < 2**32:
        raise ValueError(f"--seed must be in 0..{2**32 - 1}, got {s.seed}")
    if not 1 <= s.batch_size <= 1024:
        raise ValueError(f"--batch-size must be in 1..1024, got {s.batch_size}")


# --------------------------------------------------------------------------- inputs


@dataclass
class Subject:
    """One model to measure: its runtime VAE, held-out images, and the classifier for them."""

    name: str
    folder: Path  # the folder given (a checkpoint, or an export folder)
    vae: Any  # vaekit.runtime.VAE
    images: np.ndarray  # uint8 [N, C, H, W], the test split
    labels: np.ndarray  # int64 [N]
    classifier: Any  # vaekit.train.classifier.TrainedClassifier
    classifier_folder: Path


def _framing_crop(contract: Contract) -> float | None:
    framing = contract.framing
    return framing.crop_fraction if framing is not None and framing.method == "centre-crop" else None


def load_subject(folder: str | Path, *, classifier: str | Path | None, classifiers: str | Path,
                 data_root: str | None, threads: int) -> Subject:
    """Open the export, its test images and the matching classifier; refuses mismatches."""
    from vaekit.runtime import VAE, find_export_dir
    from vaekit.train.checkpoint import load_checkpoint_split
    from vaekit.train.classifier import load_classifier
    from vaekit.train.config import DataConfig
    from vaekit.train.data import load_split

    from .freshness import is_up_to_date

    folder = Path(folder)
    export_dir = find_export_dir(folder)
    is_checkpoint = (folder / CONFIG).is_file() and export_dir != folder
    if is_checkpoint and not is_up_to_date(folder, export_dir):
        raise ValueError(f"{export_dir} was not exported from {folder}'s current weights: re-export "
                         f"with `python -m vaekit.export {folder}`")
    vae = VAE.load(export_dir, providers="cpu", threads=threads)
    dataset = str(vae.metadata["dataset"])
    clf_folder = Path(classifier) if classifier else Path(classifiers) / dataset
    if not (clf_folder / CONFIG).is_file():
        raise FileNotFoundError(f"no feature classifier at {clf_folder}: train one with `python -m "
                                f"vaekit.train.classifier --dataset {dataset} --out {clf_folder}`, "
                                f"or pass --classifier DIR")
    clf = load_classifier(clf_folder)
    check_match(clf, clf_folder, dataset, vae.image_shape, _framing_crop(vae.contract))
    if is_checkpoint:
        test = load_checkpoint_split(folder, "test", data_root=data_root)
    else:
        crop = _framing_crop(vae.contract)
        cfg = DataConfig(dataset=dataset, data_root=data_root or "",
                         **({"crop_fraction": crop} if crop else {}))
        test = load_split(cfg, "test")
    name = folder.resolve().parent.name if folder.name == ONNX_SUBFOLDER else folder.resolve().name
    return Subject(name, folder, vae, test.images.numpy(), test.labels.numpy(), clf, clf_folder)


def check_match(clf: Any, clf_folder: Path, dataset: str, image_shape: tuple[int, int, int],
                crop: float | None) -> None:
    """The classifier must have learned ``dataset``'s images, at this shape and framing."""
    fix = (f"pass --classifier with a {dataset} classifier (train one with `python -m "
           f"vaekit.train.classifier --dataset {dataset} --out checkpoints/classifiers/{dataset}`)")
    if clf.data.dataset != dataset:
        raise ValueError(f"the classifier in {clf_folder} learned {clf.data.dataset}, the model makes "
                         f"{dataset} images: {fix}")
    c = clf.model.config
    if (c.in_channels, c.image_size, c.image_size) != tuple(image_shape):
        raise ValueError(f"the classifier in {clf_folder} takes {c.in_channels}x{c.image_size}x"
                         f"{c.image_size} images, the model makes {'x'.join(map(str, image_shape))}: {fix}")
    if crop is not None and abs(clf.data.crop_fraction - crop) > 1e-6:
        raise ValueError(f"the classifier in {clf_folder} saw faces cropped to {clf.data.crop_fraction:.4f} "
                         f"of the width, the model {crop:.4f}: {fix}")


# --------------------------------------------------------------------------- rows


@dataclass(frozen=True)
class RowSpec:
    """One row: ``source`` is ``test``, ``reconstructions`` or ``prior`` (then ``prior`` names it)."""

    name: str
    source: str
    prior: str | None = None
    temperature: float | None = None


def prior_names(vae: Any) -> tuple[str, ...]:
    """The priors the runtime offers: ``vae.priors`` where it has them, else N(0, I) plus the
    learned mixture an export ships (``vae.prior``)."""
    names = getattr(vae, "priors", None)
    if names is not None:
        return tuple(str(n) for n in names)
    return (NORMAL,) if vae.prior.kind == NORMAL else (NORMAL, LEGACY_MIXTURE)


def plan(vae: Any, temperatures: tuple[float, ...]) -> list[RowSpec]:
    rows = [RowSpec("test vs test", "test"), RowSpec("reconstructions", "reconstructions")]
    names = prior_names(vae)
    for prior in (NORMAL,) + tuple(n for n in names if n != NORMAL):
        rows += [RowSpec(f"{prior} T={t:g}", "prior", prior, t) for t in temperatures]
    return rows


def _seed(seed: int, *parts: int) -> int:
    return int(np.random.SeedSequence([seed, *parts]).generate_state(1)[0])


def draw(vae: Any, spec: RowSpec, n: int, labels: np.ndarray | None, *, seed: int,
         batch_size: int) -> np.ndarray:
    """``n`` images float32 ``[n, C, H, W]`` sampled as ``spec`` says, in batches."""
    out = []
    for i, start in enumerate(range(0, n, batch_size)):
        m = min(batch_size, n - start)
        y = None if labels is None else labels[start:start + m]
        if spec.prior == NORMAL:  # the same with or without vae.priors: z ~ N(0, T^2 I)
            rng = np.random.default_rng(_seed(seed, i))
            z = rng.standard_normal((m, vae.latent_dim), dtype=np.float32) * np.float32(spec.temperature)
            out.append(vae.decode(z, labels=y))
        elif getattr(vae, "priors", None) is not None:
            out.append(vae.sample(m, seed=_seed(seed, i), temperature=spec.temperature, labels=y,
                                  prior=spec.prior))
        else:
            out.append(vae.sample(m, seed=_seed(seed, i), temperature=spec.temperature, labels=y))
    return np.concatenate(out)


def reconstruct(vae: Any, images: np.ndarray, labels: np.ndarray | None, batch_size: int) -> np.ndarray:
    return np.concatenate([
        vae.reconstruct(images[s:s + batch_size], labels=None if labels is None else labels[s:s + batch_size])
        for s in range(0, len(images), batch_size)])


def measure(subject: Subject, settings: Settings, *,
            log: typing.Callable[[str], None] = lambda s: None) -> dict[str, Any]:
    """Every row of ``subject``'s table as a JSON-ready dict."""
    from vaekit.train.classifier import feature_batches
    from vaekit.train.quality import score

    check_settings(settings)
    n_test = len(subject.images)
    half = n_test // 2
    count = settings.count if settings.count is not None else min(DEFAULT_COUNT, half)
    if count > half or count < settings.k + 1:
        raise ValueError(f"--count {count} does not fit: the rows compare two disjoint halves of the "
                         f"{n_test} test images, so use --count between {settings.k + 1} and {half}")
    order = np.random.default_rng(settings.seed).permutation(n_test)
    ref, other = order[:count], order[count:2 * count]
    vae, clf = subject.vae, subject.classifier.model

    def features(images: np.ndarray):
        return feature_batches(clf, images, batch_size=settings.batch_size).double().numpy()

    def as_float(images: np.ndarray) -> np.ndarray:
        return images.astype(np.float32) / 255

    real = features(as_float(subject.images[ref]))
    labels = subject.labels[other] if vae.conditional else None
    rows = []
    for r, spec in enumerate(plan(vae, settings.temperatures)):
        t0 = time.perf_counter()
        if spec.source == "test":
            images = as_float(subject.images[other])
        elif spec.source == "reconstructions":
            images = reconstruct(vae, subject.images[other], labels, settings.batch_size)
        else:
            images = draw(vae, spec, count, labels, seed=_seed(settings.seed, r), batch_size=settings.batch_size)
        s = score(real, features(images), settings.k)
        rows.append({"row": spec.name, "source": spec.source, "prior": spec.prior,
                     "temperature": spec.temperature, **s.as_dict(),
                     "seconds": round(time.perf_counter() - t0, 2)})
        log(f"{subject.name}: {spec.name}: FD {s.fd:.3f}, precision {s.precision:.3f}, "
            f"recall {s.recall:.3f}")
    m = subject.classifier.metrics
    return {
        "model": subject.name,
        "folder": str(subject.folder),
        "dataset": str(vae.metadata["dataset"]),
        "count": count,
        "k": settings.k,
        "seed": settings.seed,
        "test_images": n_test,
        "labels": ("the class labels of the second half of the test images (the test split's "
                   "class mix)") if vae.conditional else None,
        "priors": list(prior_names(vae)),
        "classifier": {"folder": str(subject.classifier_folder),
                       "test_accuracy": round(float(m.get("test_accuracy", float("nan"))), 4),
                       "feature_dim": clf.config.feature_dim,
                       "weights_sha256": sha256_file(subject.classifier_folder / WEIGHTS)},
        "measure": "Frechet distance, precision and recall (Kynkaanniemi et al. 2019) in the "
                   "penultimate layer of vaekit's own classifier: not Inception-FID",
        "rows": rows,
    }


# --------------------------------------------------------------------------- output


def markdown_table(results: list[dict[str, Any]]) -> str:
    lines = ["| model | row | images | FD | precision | recall |", "|---|---|---:|---:|---:|---:|"]
    for res in results:
        for row in res["rows"]:
            lines.append(f"| {res['model']} | {row['row']} | {row['count']} | {row['fd']:.3f} | "
                         f"{row['precision']:.3f} | {row['recall']:.3f} |")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = command_parser("python -m vaekit.export.quality", __doc__)
    p.add_argument("folders", nargs="+", metavar="FOLDER",
                   help="checkpoint folders with exported graphs (CHECKPOINT/onnx), or export folders")
    p.add_argument("--classifier", default=None,
                   help="the feature classifier's folder (default: CLASSIFIERS/DATASET)")
    p.add_argument("--classifiers", default="checkpoints/classifiers",
                   help="folder holding one classifier per dataset (default: checkpoints/classifiers)")
    p.add_argument("--count", type=int, default=None,
                   help=f"images per row, 4-{MAX_COUNT} and at most half the test split "
                        f"(default: min({DEFAULT_COUNT}, half the test split))")
    p.add_argument("--k", type=int, default=Settings.k, help="neighbours of the precision/recall balls (1-100, default 3)")
    p.add_argument("--temperatures", type=float, nargs="+", default=list(DEFAULT_TEMPERATURES),
                   help="sampling temperatures, each in (0, 10] (default: 1.0 0.8)")
    p.add_argument("--seed", type=int, default=0, help="seed of the split and of every sample (default 0)")
    p.add_argument("--batch-size", type=int, default=Settings.batch_size, help="images per graph call (1-1024)")
    p.add_argument("--threads", type=int, default=1, help="CPU threads for ONNX Runtime and torch (1-256, default 1)")
    p.add_argument("--data-root", default=None, help="folder holding the datasets (default: the checkpoint's)")
    p.add_argument("--out", default=None, help=f"JSON file for one FOLDER (default: FOLDER/{QUALITY_FILE})")
    return p


def main(argv: list[str] | None = None) -> int:
    p = build_parser()
    args = p.parse_args(argv)
    settings = Settings(count=args.count, k=args.k, temperatures=tuple(args.temperatures), seed=args.seed,
                        batch_size=args.batch_size)
    try:
        check_settings(settings)
        if not 1 <= args.threads <= 256:
            raise ValueError(f"--threads must be in 1..256, got {args.threads}")
        if args.out and len(args.folders) > 1:
            raise ValueError(f"--out names one JSON file but {len(args.folders)} folders were given: "
                             f"drop --out (each gets FOLDER/{QUALITY_FILE}) or pass one folder")
        import torch

        torch.set_num_threads(args.threads)
        results = []
        for folder in args.folders:
            subject = load_subject(folder, classifier=args.classifier, classifiers=args.classifiers,
                                   data_root=args.data_root, threads=args.threads)
            result = measure(subject, settings, log=lambda s: print(s, file=sys.stderr, flush=True))
            out = Path(args.out) if args.out else Path(folder) / QUALITY_FILE
            atomic_write_text(out, json.dumps(result, indent=2) + "\n")
            results.append(result)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(markdown_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
