"""Plain helpers shared by the tests: a fake MNIST on disk, a tiny freshly built checkpoint (and
damaged copies of it), and running a CLI in-process to check its one-line refusal.

Import it as ``from support import ...``: ``tests/conftest.py`` puts ``tests/`` on ``sys.path``
for every test folder. No fixtures live here (they are in ``tests/conftest.py``); nothing runs
at import time, and torch is imported only by ``tiny_checkpoint``.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Literal

import numpy as np

STYLES = ("bars", "noise")


def write_idx(folder: Path, prefix: str, images: np.ndarray, labels: np.ndarray) -> None:
    """Write images [N, H, W] and labels [N] (uint8 values) as torchvision's uncompressed IDX files.

    ``folder/{prefix}-images-idx3-ubyte`` and ``folder/{prefix}-labels-idx1-ubyte``; ``prefix``
    is ``"train"`` or ``"t10k"`` for MNIST. ``folder`` is created when missing.
    """
    folder.mkdir(parents=True, exist_ok=True)
    n, h, w = images.shape
    (folder / f"{prefix}-images-idx3-ubyte").write_bytes(
        struct.pack(">IIII", 0x803, n, h, w) + images.astype(np.uint8).tobytes())
    (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(
        struct.pack(">II", 0x801, n) + labels.astype(np.uint8).tobytes())


def write_fake_mnist(root: Path, *, train: int, test: int, seed: int = 0,
                     style: Literal["bars", "noise"] = "bars") -> Path:
    """Write ``root/MNIST/raw`` with ``train`` training and ``test`` test 28 x 28 images; return ``root``.

    Both splits come from one ``np.random.default_rng(seed)``, training split first, so
    the same arguments always write the same bytes.

    * ``"bars"``: learnable, labelled digits. Labels are random in 0-9; each image is noise in
      [0, 40) with a white 20 x 3 bar whose column is ``3 + 2 * label``.
    * ``"noise"``: ``rng.random() ** 3`` noise (mostly dark, like MNIST's ink), labels
      ``0, 1, ..., 9, 0, ...`` in order (every class present in any 10 images).
    """
    if style not in STYLES:
        raise ValueError(f"unknown fake MNIST style {style!r}; choose one of {STYLES}")
    raw = root / "MNIST" / "raw"
    rng = np.random.default_rng(seed)
    for prefix, n in (("train", train), ("t10k", test)):
        if style == "bars":
            labels = rng.integers(0, 10, n)
            images = rng.integers(0, 40, (n, 28, 28))
            for i, y in enumerate(labels):
                images[i, 4:24, 3 + 2 * y : 6 + 2 * y] = 255
        else:
            images = (rng.random((n, 28, 28)) ** 3 * 255).astype(np.uint8)
            labels = np.arange(n) % 10
        write_idx(raw, prefix, images, labels)
    return root


def write_fake_celeba(root: Path, *, splits: tuple[int, ...] = (4,), seed: int = 0) -> Path:
    """Write ``root/celeba`` in the official layout with ``splits[i]`` noise 'faces' (89 x 109
    JPEGs, the half-resolution copy's size) in partition ``i`` (0 train, 1 valid, 2 test),
    numbered from 000001.jpg in that order; return ``root``."""
    from PIL import Image

    folder = root / "celeba" / "img_align_celeba"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = []
    for part, n in enumerate(splits):
        for _ in range(n):
            name = f"{len(rows) + 1:06d}.jpg"
            Image.fromarray(rng.integers(0, 255, (109, 89, 3), dtype=np.uint8)).save(folder / name)
            rows.append(f"{name} {part}")
    (root / "celeba" / "list_eval_partition.txt").write_text("\n".join(rows) + "\n")
    return root


def tiny_checkpoint(folder: Path, data_root: Path, *, latent_dim: int = 2, seed: int = 0) -> Path:
    """Save a freshly initialised ``VAEConfig(dim=8, dim_mults=(1, 2), latent_dim=latent_dim)``.

    The weights come from ``torch.manual_seed(seed)``; the checkpoint's data config points at
    MNIST under ``data_root`` (e.g. a ``write_fake_mnist`` root). Returns the checkpoint folder.
    """
    import torch
    from vaekit.train import DataConfig, VAEConfig, build_model, save_checkpoint

    torch.manual_seed(seed)
    model = build_model(VAEConfig(dim=8, dim_mults=(1, 2), latent_dim=latent_dim))
    return save_checkpoint(folder, model, data=DataConfig(dataset="mnist", data_root=str(data_root)))


def resumable_run(folder: Path, argv: list[str]) -> Path:
    """A run folder as after 1 epoch of ``python -m vaekit.train ARGV --out FOLDER`` (model,
    configs, resume state at step 4), saved without training."""
    import torch
    from vaekit.train import build_model, save_checkpoint
    from vaekit.train.cli import parse

    model_cfg, data_cfg, train_cfg, _ = parse([*argv, "--out", str(folder)])
    torch.manual_seed(0)
    model = build_model(model_cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=train_cfg.lr)
    row = {"epoch": 1, "step": 4, "valid_elbo_nats": -500.0}
    save_checkpoint(folder, model, data=data_cfg, train=train_cfg,
                    metrics={"epochs": 1, "steps": 4, "history": [row]},
                    resume={"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 1,
                            "step": 4, "rng": torch.get_rng_state(), "history": [row]})
    return folder


def resume_matches_straight(model_config, data, folder: Path, **options) -> tuple[list, list]:
    """Train 2 epochs in one run (``FOLDER/a``), and 1 epoch then ``resume=True`` to 2
    (``FOLDER/b``); assert both end on equal weights and return their histories."""
    import torch
    from vaekit.train import TrainConfig
    from vaekit.train.loop import train

    def run(name: str, epochs: int, **more):
        return train(model_config, data, TrainConfig(out=str(folder / name), epochs=epochs,
                                                     **options, **more), progress=False)

    straight, hist_a = run("a", 2)
    run("b", 1)
    resumed, hist_b = run("b", 2, resume=True)
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name
    return hist_a, hist_b


def refusals(cases: list, names: str = "argv,problem,fix"):
    """Parametrize a test over rows ``(argv, problem, fix)`` of a bad-input table, each row's
    test id its argv (``--epochs 0``)."""
    import pytest

    return pytest.mark.parametrize(names, cases, ids=lambda v: " ".join(v) if isinstance(v, list) else None)


def run_main(main, argv: list[str], capsys) -> tuple[int, str]:
    """Exit code and stderr of a CLI's ``main(argv)`` run in-process; an exception other than
    SystemExit fails the test."""
    try:
        code = main(argv)
    except SystemExit as e:
        code = e.code
    return code, capsys.readouterr().err


def assert_clear(code: int, err: str, *words: str) -> None:
    """A refused command: exit 2, one line on stderr, no traceback, and every one of ``words``."""
    assert code == 2, err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, f"not one line:\n{err}"
    for w in words:
        assert w in err, f"{w!r} not in {err!r}"


def _edit_config(folder: Path, change) -> None:
    import json

    path = folder / "config.json"
    path.write_text(json.dumps(change(json.loads(path.read_text()))))


def _set(section: str, key: str, value):
    """A damage: ``config.json[section][key] = value``, the rest of the file kept."""
    return lambda f: _edit_config(f, lambda c: {**c, section: {**c[section], key: value}})


#: ways a checkpoint folder can be damaged: name -> (damage(folder), words the error must say)
BAD_CHECKPOINTS = {
    "config-not-json": (lambda f: (f / "config.json").write_text("{not json"), "not valid JSON"),
    "config-is-a-list": (lambda f: (f / "config.json").write_text("[1, 2]"),
                         "not a vaekit checkpoint config"),
    "config-of-another-tool": (
        lambda f: (f / "config.json").write_text('{"architectures": ["BertModel"], "hidden_size": 768}'),
        "not a vaekit checkpoint config"),
    "latent-dim-as-string": (_set("model", "latent_dim", "2"), "latent_dim must be a whole number"),
    "dim-mults-as-string": (_set("model", "dim_mults", "1,2"), "dim_mults must be a list of whole numbers"),
    "unknown-model-key": (_set("model", "dimm", 3), "unknown VAEConfig keys ['dimm']"),
    "unknown-model-type": (_set("model", "model_type", "gan"), "unknown model_type 'gan'"),
    "unknown-dataset": (_set("data", "dataset", "cifar10"), "unknown dataset 'cifar10'"),
    "data-section-not-object": (lambda f: _edit_config(f, lambda c: {**c, "data": "mnist"}),
                                "\"data\" must be an object"),
    "negative-val-size": (_set("data", "val_size", -5), "val_size must be >= 1"),
    "weights-of-another-latent-dim": (_set("model", "latent_dim", 3), "does not match"),
    "weights-truncated": (
        lambda f: (f / "model.safetensors").write_bytes((f / "model.safetensors").read_bytes()[:100]),
        "not a readable safetensors file"),
    "weights-missing": (lambda f: (f / "model.safetensors").unlink(), "lacks model.safetensors"),
}


def damaged_checkpoint(folder: Path, source: Path, kind: str) -> Path:
    """A copy of checkpoint ``source`` at ``folder`` with the damage ``BAD_CHECKPOINTS[kind]``."""
    import shutil

    shutil.copytree(source, folder, ignore=shutil.ignore_patterns("onnx"))
    BAD_CHECKPOINTS[kind][0](folder)
    return folder


def checkpoint_epochs(folder: Path) -> dict[str, int]:
    """The epoch each file of a checkpoint folder belongs to, read as a user's tools read it.

    ``model.safetensors`` (its ``epoch`` metadata), ``resume.pt`` (``torch.load`` with
    ``weights_only=True``), ``metrics.json`` (``epochs``) and ``metrics.csv`` (its rows).
    """
    import csv
    import json

    import torch
    from safetensors import safe_open

    with safe_open(folder / "model.safetensors", "pt") as f:
        weights = int(f.metadata()["epoch"])
    with open(folder / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return {
        "model.safetensors": weights,
        "resume.pt": torch.load(folder / "resume.pt", weights_only=True)["epoch"],
        "metrics.json": json.loads((folder / "metrics.json").read_text())["epochs"],
        "metrics.csv": len(rows),
    }


def files_under(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (links followed to their files) -> its bytes: a snapshot to
    check that a refused command changed nothing, whatever the checkpoint layout."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


#: the prior kinds every client is tested on: N(0, I), two fitted samplers, a learned mixture
PRIOR_KINDS = ("normal", "gaussian", "gmm", "vamp")


def prior_exports(folder: Path, data_root: Path) -> dict[str, Path]:
    """An export folder per :data:`PRIOR_KINDS` entry, of tiny models with 3-D latents.

    ``normal``, ``gaussian`` and ``gmm`` are one ``tiny_checkpoint`` (``latent_dim=3``) with a
    Gaussian and a 3-component mixture fitted to its training posteriors (seed 0), exported with
    ``--prior`` each; ``vamp`` is a VampPrior model (5 components) exported as is. No variants,
    no examples.
    """
    import torch
    from vaekit.export import export_checkpoint
    from vaekit.train import DataConfig, VampConfig, build_model, save_checkpoint
    from vaekit.train.fit_prior import fit_prior
    from vaekit.train.samplers import build_sampler

    ckpt = tiny_checkpoint(folder / "ckpt", data_root, latent_dim=3)
    for name, options in (("gaussian", {}), ("gmm", {"components": 3})):
        fit_prior(ckpt, build_sampler(name, options), seed=0).save(ckpt)
    out = {}
    for name in ("normal", "gaussian", "gmm"):
        export_checkpoint(ckpt, out=folder / name, examples=0, progress=False, prior=name)
        out[name] = folder / name
    torch.manual_seed(0)
    vamp = save_checkpoint(folder / "vamp-ckpt", build_model(VampConfig(dim=8, dim_mults=(1, 2), latent_dim=3,
                                                                         components=5)),
                           data=DataConfig(dataset="mnist", data_root=str(data_root)))
    export_checkpoint(vamp, out=folder / "vamp", examples=0, progress=False)
    out["vamp"] = folder / "vamp"
    return out


#: a student small enough to distil in seconds on a tiny checkpoint (28x28, two x2 upsamplings)
TINY_STUDENT = dict(widths=(8, 8), blocks=1, upsample="pixel_shuffle", activation="relu")


def tiny_student(checkpoint: Path, *, steps: int = 4, seed: int = 0, resume: bool = False,
                 overwrite: bool = False, **options) -> dict:
    """Distil ``CHECKPOINT/student`` for ``steps`` steps of 8 latents; returns its metrics."""
    from vaekit.train.distill_run import DistillConfig, distill

    config = DistillConfig(steps=steps, batch_size=8, warmup_steps=0, seed=seed,
                           save_every=max(1, steps // 2), **options)
    return distill(checkpoint, student_config=dict(TINY_STUDENT), config=config, resume=resume,
                   overwrite=overwrite, progress=False)


#: the kinds of export contract every consumer is tested on (tests/format/test_contract_variants.py, tests/embed/test_contract_clients.py)
CONTRACT_VARIANTS = ("plain", "conditional", "fitted-prior", "learned-prior", "fast-decoder", "fp16", "int8",
                     "ink-box", "centre-crop")
SHIPPED = Path(__file__).resolve().parents[1] / "checkpoints"


def contract_kinds(contract) -> tuple[str, ...]:
    """Which of :data:`CONTRACT_VARIANTS` a :class:`vaekit.format.Contract` is."""
    prior = contract.default_prior
    kinds = {
        "plain": prior.is_normal and not contract.conditional and contract.fast_decoder is None,
        "conditional": contract.conditional,
        "fitted-prior": prior.source == "fitted",
        "learned-prior": prior.source == "learned",
        "fast-decoder": contract.fast_decoder is not None,
        "fp16": "fp16" in contract.precisions,
        "int8": "int8" in contract.precisions,
        "ink-box": contract.framing is not None and contract.framing.method == "ink-box",
        "centre-crop": contract.framing is not None and contract.framing.method == "centre-crop",
    }
    return tuple(k for k in CONTRACT_VARIANTS if kinds[k])


def shipped_contract_variants() -> dict[Path, tuple[str, ...]]:
    """Every shipped export folder (``checkpoints/*/onnx``, in git) and the variants it is."""
    from vaekit.format import Contract

    return {folder: contract_kinds(Contract.load(folder))
            for folder in sorted(p.parent for p in SHIPPED.glob("*/onnx/vaekit.json"))}
