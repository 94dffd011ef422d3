"""Small feature classifiers for the sample-quality measure, trained on each dataset's training split.

    python -m vaekit.train.classifier --dataset mnist --out checkpoints/classifiers/mnist

A classifier is a few strided convolutions, one hidden layer (the *features*: its
``feature_dim`` activations are what :mod:`vaekit.train.quality` compares) and a linear head.
MNIST and Fashion-MNIST learn their 10 classes; CelebA learns its 40 binary attributes
(``list_attr_celeba.txt``, multi-label), on faces framed exactly as the VAEs see them (the
same loader and crop). A classifier folder holds ``config.json`` (architecture, data,
training options, its own test accuracy and the sha256 of its weights) and
``model.safetensors``; it loads without pickle.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as load_safetensors
from torch import Tensor, nn
from torch.nn import functional as F
from vaekit.format import (
    CONFIG,
    WEIGHTS,
    atomic_write_bytes,
    atomic_write_text,
    read_json_object,
    sha256_file,
)

from .celeba import split_names
from .config import DataConfig, _checked, data_config_from_dict, dump_json
from .data import ImageSplit, load_split
from .datasets import dataset_record

FORMAT = "vaekit-feature-classifier"


class ClassifierError(ValueError):
    """A classifier folder that cannot be used; the message names the fix."""


# --------------------------------------------------------------------------- what is learned


@dataclass(frozen=True)
class Task:
    """What a dataset's classifier learns: ``targets(data_cfg, split, data)`` -> ``[N]`` class
    indices (int64) or ``[N, outputs]`` 0/1 attributes (float32, ``multilabel``)."""

    outputs: int
    multilabel: bool
    targets: Callable[[DataConfig, str, ImageSplit], Tensor]
    label_names: Callable[[DataConfig], tuple[str, ...]]
    epochs: int  # the default number of epochs


def _class_targets(cfg: DataConfig, split: str, data: ImageSplit) -> Tensor:
    if (data.labels < 0).any():
        raise ClassifierError(f"{cfg.dataset} {split} has unlabelled images: a class classifier "
                              f"needs the labels torchvision reads with the images")
    return data.labels


def celeba_split_names(cfg: DataConfig, split: str) -> list[str]:
    """The image names of ``split`` in the order :func:`~vaekit.train.data.load_split` loads them."""
    return split_names(cfg.root(), split)


def _read_attributes(cfg: DataConfig) -> tuple[tuple[str, ...], dict[str, list[int]]]:
    path = cfg.root() / "celeba" / "list_attr_celeba.txt"
    if not path.is_file():
        raise ClassifierError(f"{path} is missing: the CelebA attribute classifier needs the "
                              f"official attribute file beside img_align_celeba/")
    lines = path.read_text().split("\n")
    names = tuple(lines[1].split())
    rows = {p[0]: [int(v) for v in p[1:]] for p in (ln.split() for ln in lines[2:]) if len(p) == len(names) + 1}
    return names, rows


def _attribute_targets(cfg: DataConfig, split: str, data: ImageSplit) -> Tensor:
    names, rows = _read_attributes(cfg)
    images = celeba_split_names(cfg, split)
    if len(images) != len(data):
        raise ClassifierError(f"CelebA {split}: {len(data)} images loaded but {len(images)} named in "
                              f"list_eval_partition.txt: the data folder changed; run again")
    missing = [n for n in images if n not in rows]
    if missing:
        raise ClassifierError(f"list_attr_celeba.txt has no row for {missing[:3]} (and {len(missing)} "
                              f"images in all): use the attribute file of the same CelebA copy")
    return (torch.tensor([rows[n] for n in images]) > 0).float()


def _dataset_classes(cfg: DataConfig) -> tuple[str, ...]:
    return dataset_record(cfg.dataset).classes


TASKS: dict[str, Task] = {
    "mnist": Task(10, False, _class_targets, _dataset_classes, epochs=2),
    "fashion-mnist": Task(10, False, _class_targets, _dataset_classes, epochs=3),
    "celeba": Task(40, True, _attribute_targets, lambda c: _read_attributes(c)[0], epochs=4),
}


# --------------------------------------------------------------------------- the network


@dataclass(frozen=True)
class ClassifierConfig:
    """The network: ``in_channels`` x ``image_size`` inputs in [0, 1], one stride-2 conv per
    ``widths`` entry after a stem of ``widths[0]`` channels, a ``feature_dim`` hidden layer."""

    in_channels: int = 1
    image_size: int = 28
    widths: tuple[int, ...] = (32, 64)
    feature_dim: int = 64
    outputs: int = 10
    multilabel: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        if not self.widths or min(self.widths) < 1:
            raise ClassifierError(f"widths must be one or more whole numbers >= 1, got {self.widths}")
        if self.image_size % (2 ** len(self.widths)):
            raise ClassifierError(f"image_size {self.image_size} does not halve {len(self.widths)} "
                                  f"times: use fewer widths")
        for name in ("in_channels", "image_size", "feature_dim", "outputs"):
            if getattr(self, name) < 1:
                raise ClassifierError(f"{name} must be >= 1, got {getattr(self, name)}")


#: the network per dataset (CelebA's 64x64 faces get two more stages)
ARCHITECTURES = {
    "mnist": ClassifierConfig(),
    "fashion-mnist": ClassifierConfig(),
    "celeba": ClassifierConfig(in_channels=3, image_size=64, widths=(32, 64, 96, 128), outputs=40,
                               multilabel=True),
}


class FeatureClassifier(nn.Module):
    """``features(x [N, C, H, W] in [0, 1]) -> [N, feature_dim]``; ``forward`` -> logits ``[N, outputs]``."""

    def __init__(self, config: ClassifierConfig):
        super().__init__()
        self.config = config
        w = config.widths
        layers: list[nn.Module] = [nn.Conv2d(config.in_channels, w[0], 3, padding=1), nn.ReLU()]
        for c_in, c_out in zip((w[0],) + w[:-1], w):
            layers += [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), nn.ReLU()]
        side = config.image_size // 2 ** len(w)
        self.body = nn.Sequential(*layers, nn.Flatten(),
                                  nn.Linear(w[-1] * side * side, config.feature_dim), nn.ReLU())
        self.head = nn.Linear(config.feature_dim, config.outputs)

    def features(self, x: Tensor) -> Tensor:
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x))


# --------------------------------------------------------------------------- training


@dataclass(frozen=True)
class ClassifierTraining:
    """How a classifier is trained: epochs over the training split, Adam, a seed."""

    epochs: int = 2
    batch_size: int = 128
    lr: float = 2e-3
    seed: int = 0
    limit: int = 0  # only the first N training images (0: all), for smoke runs
    max_steps: int = 0  # stop after this many steps (0: no limit), for smoke runs

    def __post_init__(self) -> None:
        for name, low in (("epochs", 1), ("batch_size", 1), ("seed", 0), ("limit", 0), ("max_steps", 0)):
            if getattr(self, name) < low:
                raise ClassifierError(f"{name} must be >= {low}, got {getattr(self, name)} "
                                      f"(--{name.replace('_', '-')})")
        if self.seed >= 2**63:
            raise ClassifierError(f"seed must be < 2**63, got {self.seed} (--seed)")
        if not 0 < self.lr <= 1:
            raise ClassifierError(f"lr must be in (0, 1], got {self.lr} (--lr)")


@dataclass
class TrainedClassifier:
    """A trained network with what it was trained on and its own test accuracy."""

    model: FeatureClassifier
    data: DataConfig
    training: ClassifierTraining
    label_names: tuple[str, ...]
    metrics: dict[str, Any] = field(default_factory=dict)


def _loss(config: ClassifierConfig, logits: Tensor, y: Tensor) -> Tensor:
    if config.multilabel:
        return F.binary_cross_entropy_with_logits(logits, y)
    return F.cross_entropy(logits, y)


def train_classifier(data: DataConfig, training: ClassifierTraining, *,
                     log: Callable[[str], None] = lambda s: None) -> TrainedClassifier:
    """Train ``ARCHITECTURES[data.dataset]`` on the training split, then measure its test accuracy."""
    task = TASKS[data.dataset]
    train = load_split(data, "train")
    y_train = task.targets(data, "train", train)
    if training.limit:
        train = ImageSplit(train.images[: training.limit], train.labels[: training.limit], train.classes)
        y_train = y_train[: training.limit]
    torch.manual_seed(training.seed)
    model = FeatureClassifier(ARCHITECTURES[data.dataset])
    opt = torch.optim.Adam(model.parameters(), lr=training.lr)
    g = torch.Generator().manual_seed(training.seed)
    step, n = 0, len(train)
    for epoch in range(training.epochs):
        model.train()
        total, seen = 0.0, 0
        order = torch.randperm(n, generator=g)
        for start in range(0, n, training.batch_size):
            idx = order[start:start + training.batch_size]
            loss = _loss(model.config, model(train.float_batch(idx)), y_train[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            seen += len(idx)
            step += 1
            if training.max_steps and step >= training.max_steps:
                break
        log(f"epoch {epoch + 1}/{training.epochs}: train loss {total / max(seen, 1):.4f} ({step} steps)")
        if training.max_steps and step >= training.max_steps:
            break
    test = load_split(data, "test")
    metrics = {"steps": step, "train_images": n, **test_accuracy(model, test, task.targets(data, "test", test))}
    return TrainedClassifier(model.eval(), data, training, task.label_names(data), metrics)


@torch.no_grad()
def test_accuracy(model: FeatureClassifier, test: ImageSplit, targets: Tensor,
                  batch_size: int = 512) -> dict[str, Any]:
    """``test_accuracy`` (top-1, or the mean over attributes), ``test_images``; multi-label
    models add ``attribute_accuracy`` [outputs] and ``majority_accuracy`` (always guessing each
    attribute's more common value) for scale."""
    model.eval()
    logits = torch.cat([model(test.float_batch(slice(s, s + batch_size)))
                        for s in range(0, len(test), batch_size)])
    if not model.config.multilabel:
        return {"test_accuracy": (logits.argmax(1) == targets).float().mean().item(),
                "test_images": len(test)}
    per = ((logits > 0).float() == targets).float().mean(0)
    share = targets.mean(0)
    majority = torch.maximum(share, 1 - share)
    return {"test_accuracy": per.mean().item(), "test_images": len(test),
            "attribute_accuracy": [round(v, 4) for v in per.tolist()],
            "majority_accuracy": majority.mean().item()}


# --------------------------------------------------------------------------- files


def save_classifier(folder: str | os.PathLike, trained: TrainedClassifier) -> Path:
    """Write ``model.safetensors`` then ``config.json`` (which records the weights' sha256), each atomically."""
    from .checkpoint import safetensors_bytes

    folder = Path(folder)
    state = {k: v.detach().contiguous() for k, v in trained.model.state_dict().items()}
    atomic_write_bytes(folder / WEIGHTS, safetensors_bytes(state, {"format": FORMAT}))
    config = {
        "format": FORMAT,
        "classifier": {**asdict(trained.model.config), "widths": list(trained.model.config.widths)},
        "data": asdict(trained.data),
        "training": asdict(trained.training),
        "label_names": list(trained.label_names),
        "metrics": trained.metrics,
        "weights_sha256": sha256_file(folder / WEIGHTS),
    }
    atomic_write_text(folder / CONFIG, dump_json(config))
    return folder


def _section(path: Path, config: dict, key: str, cls: type) -> Any:
    try:
        return cls(**_checked(cls, config[key]))
    except (KeyError, TypeError, ValueError) as e:
        raise ClassifierError(f"{path}: section {key!r} is missing or wrong ({e}); retrain the classifier "
                              f"with `python -m vaekit.train.classifier`") from e


def load_classifier(folder: str | os.PathLike) -> TrainedClassifier:
    """Rebuild a classifier saved by :func:`save_classifier` (no pickle); every problem is a
    :class:`ClassifierError` naming the fix."""
    folder = Path(folder)
    retrain = f"train one with `python -m vaekit.train.classifier --dataset DATASET --out {folder}`"
    path = folder / CONFIG
    if not path.is_file() or not (folder / WEIGHTS).is_file():
        raise ClassifierError(f"no feature classifier at {folder} (it needs {CONFIG} and {WEIGHTS}): "
                              f"{retrain}, or pass the folder of one")
    config = read_json_object(path, fix=retrain, error=ClassifierError)
    if config.get("format") != FORMAT:
        raise ClassifierError(f"{path} is not a feature classifier's config (format {FORMAT!r}): {retrain}")
    unknown = sorted(set(config) - {"format", "classifier", "data", "training", "label_names",
                                    "metrics", "weights_sha256"})
    if unknown:
        raise ClassifierError(f"{path} has unknown keys {unknown}: {retrain}")
    arch = _section(path, config, "classifier", ClassifierConfig)
    training = _section(path, config, "training", ClassifierTraining)
    try:
        data = data_config_from_dict(config["data"])
    except (KeyError, TypeError, ValueError) as e:
        raise ClassifierError(f"{path}: section 'data' is missing or wrong ({e}): {retrain}") from e
    if sha256_file(folder / WEIGHTS) != config.get("weights_sha256"):
        raise ClassifierError(f"{folder / WEIGHTS} is not the file {CONFIG} was written with (sha256 "
                              f"differs): restore it or {retrain}")
    model = FeatureClassifier(arch)
    try:
        model.load_state_dict(load_safetensors((folder / WEIGHTS).read_bytes()))
    except Exception as e:  # noqa: BLE001 - safetensors and torch raise their own types
        raise ClassifierError(f"{folder / WEIGHTS} does not fit {path} ({e}): {retrain}") from e
    return TrainedClassifier(model.eval(), data, training, tuple(config.get("label_names", ())),
                             dict(config.get("metrics", {})))


def feature_batches(model: FeatureClassifier, images, *, batch_size: int = 256) -> Tensor:
    """Features ``[N, feature_dim]`` of float images ``[N, C, H, W]`` in [0, 1] (numpy or torch)."""
    x = torch.as_tensor(images, dtype=torch.float32)
    with torch.no_grad():
        return torch.cat([model.features(x[s:s + batch_size]) for s in range(0, len(x), batch_size)])


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# --------------------------------------------------------------------------- command line


def build_parser():
    import argparse

    from vaekit.format.cli import OneLineParser

    p = OneLineParser(prog="python -m vaekit.train.classifier", description=__doc__,
                      formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", required=True, choices=sorted(TASKS), help="what the classifier learns")
    p.add_argument("--out", required=True, help="classifier folder (e.g. checkpoints/classifiers/DATASET)")
    p.add_argument("--epochs", type=int, default=None,
                   help="epochs over the training split (default: " + ", ".join(
                       f"{t.epochs} for {d}" for d, t in sorted(TASKS.items())) + ")")
    p.add_argument("--batch-size", type=int, default=ClassifierTraining.batch_size,
                   help=f"images per step, >= 1 (default {ClassifierTraining.batch_size})")
    p.add_argument("--lr", type=float, default=ClassifierTraining.lr,
                   help=f"Adam learning rate, in (0, 1] (default {ClassifierTraining.lr})")
    p.add_argument("--seed", type=int, default=ClassifierTraining.seed,
                   help="seed of the initial weights and the batch order (default 0)")
    p.add_argument("--limit", type=int, default=0, help="only the first N training images (0: all)")
    p.add_argument("--max-steps", type=int, default=0, help="stop after N steps (0: no limit)")
    p.add_argument("--data-root", default="", help="folder holding the datasets (default: ../shared/data or ./data)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads, 1-256 (default 1)")
    p.add_argument("--overwrite", action="store_true", help="replace a classifier already in --out")
    return p


def main(argv: list[str] | None = None) -> int:
    import sys
    import time

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if not 1 <= args.threads <= 256:
            raise ClassifierError(f"--threads must be in 1..256, got {args.threads}")
        epochs = TASKS[args.dataset].epochs if args.epochs is None else args.epochs
        training = ClassifierTraining(epochs=epochs, batch_size=args.batch_size, lr=args.lr,
                                      seed=args.seed, limit=args.limit, max_steps=args.max_steps)
        if (Path(args.out) / CONFIG).exists() and not args.overwrite:
            raise ClassifierError(f"{args.out} already holds a classifier: pass --overwrite to replace "
                                  f"it, or another --out")
        torch.set_num_threads(args.threads)
        t0 = time.perf_counter()
        trained = train_classifier(DataConfig(dataset=args.dataset, data_root=args.data_root), training,
                                   log=lambda s: print(s, flush=True))
    except (ClassifierError, ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    trained.metrics["train_seconds"] = round(time.perf_counter() - t0, 1)
    save_classifier(args.out, trained)
    size = (Path(args.out) / WEIGHTS).stat().st_size
    print(f"{args.dataset} classifier: test accuracy {trained.metrics['test_accuracy']:.4f} on "
          f"{trained.metrics['test_images']} test images, {parameter_count(trained.model):,} "
          f"parameters ({size / 1e6:.2f} MB), {trained.metrics['train_seconds']} s -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
