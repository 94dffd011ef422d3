"""What an export feeds its graphs, each seeded so that two exports of one checkpoint agree.

* the checkpoint's test images (or None and the reason, when its data is not on this machine);
* the parity batch: 64 images (test images, else noise) and 64 latents ~ N(0, I);
* the PSNR latents: 256 encoder means of test images (else N(0, I) draws) for the variants;
* the int8 calibration batches: other test images and latents;
* the ``examples.npz`` a client shows: the first N test images in the seeded order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from vaekit.format import LABEL_INPUT, graph_file, image_shape
from vaekit.runtime.session import build_session
from vaekit.train.checkpoint import load_checkpoint_split
from vaekit.train.config import DataConfig
from vaekit.train.data import ImageSplit
from vaekit.train.model import VAE

from .parity import PARITY_BATCHES, GraphInputs

PSNR_LATENTS = 256
SEED = 0


def load_test_split(model: VAE, checkpoint: Path, data_cfg: DataConfig | None, data_root: str | None
                ) -> tuple[ImageSplit | None, str]:
    """The checkpoint's test split (or None and the reason); ``data_cfg``: its data config,
    as read from ``config.json`` (``data_root`` overrides the root recorded there)."""
    try:
        split = load_checkpoint_split(checkpoint, "test", data_root=data_root, data_cfg=data_cfg)
    except (FileNotFoundError, ValueError) as e:
        return None, str(e).splitlines()[0]
    want = image_shape(model.config)
    if tuple(split.images.shape[1:]) != want:
        return None, f"the test images are {tuple(split.images.shape[1:])}, the model takes {want}"
    return split, ""


def order(n: int) -> torch.Tensor:
    """The seeded permutation of ``n`` test images every input below draws from."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(SEED))


def parity_inputs(model: VAE, test: ImageSplit | None) -> dict[str, torch.Tensor]:
    """64 images (real test images when available, else seeded noise) and 64 latents ~ N(0, I):
    ``image`` [64, C, H, W], ``z`` [64, D], and ``label`` int64 [64] for a conditional model."""
    g = torch.Generator().manual_seed(SEED)
    cfg = model.config
    n = max(PARITY_BATCHES)
    if test is not None and len(test) >= n:
        images = test.float_batch(order(len(test))[:n])
    else:
        images = torch.rand((n, *image_shape(cfg)), generator=g)
    inputs = {"image": images, "z": torch.randn((n, cfg.latent_dim), generator=g)}
    if model.conditional:  # the test images' own labels, else seeded ones
        labelled = test is not None and len(test) >= n and test.labels.min() >= 0
        inputs[LABEL_INPUT] = (test.labels[order(len(test))[:n]] if labelled
                               else torch.randint(0, model.config.num_classes, (n,), generator=g))
    return inputs


def psnr_latents(folder: Path, model: VAE, test: ImageSplit | None,
                 graph_ins: GraphInputs) -> dict[str, np.ndarray]:
    """The decoder feed of 256 latents: encoder means of test images (the last 256 in the
    seeded order, encoded by ``folder``'s fp32 encoder), else N(0, I); with their labels (else
    seeded ones) for a conditional model: ``z`` [256, D] (and ``label`` int64 [256])."""
    g = np.random.default_rng(SEED + 1)
    conditional = LABEL_INPUT in graph_ins["decoder"]
    labels = (g.integers(0, model.config.num_classes, PSNR_LATENTS) if conditional else None)
    if test is not None and len(test) >= PSNR_LATENTS:
        idx = order(len(test))[-PSNR_LATENTS:]
        feed = {"image": test.float_batch(idx).numpy()}
        if conditional and test.labels.min() >= 0:
            labels = test.labels[idx].numpy()
        if conditional:
            feed[LABEL_INPUT] = labels.astype(np.int64)
        z = build_session(folder / graph_file("encoder")).run(None, feed)[0]
    else:
        z = g.standard_normal((PSNR_LATENTS, model.config.latent_dim), dtype=np.float32)
    return {"z": z, **({LABEL_INPUT: labels.astype(np.int64)} if conditional else {})}


def calibration(shape: tuple[int, int, int], test: ImageSplit | None,
                latents: dict[str, np.ndarray]) -> dict[str, list[Any]]:
    """Calibration batches for static int8: test images not used for PSNR, and latents (whole
    feeds with the latents' labels for a conditional model)."""
    if test is not None and len(test) >= 2 * PSNR_LATENTS:
        picked = order(len(test))[-2 * PSNR_LATENTS:-PSNR_LATENTS]
        images = test.float_batch(picked).numpy()
    else:
        rng = np.random.default_rng(SEED + 2)
        images = rng.random((PSNR_LATENTS, *shape), dtype=np.float32)
    rng = np.random.default_rng(SEED + 3)
    z = np.concatenate([latents["z"], rng.standard_normal(latents["z"].shape, dtype=np.float32)])
    if LABEL_INPUT not in latents:
        return {"image": list(np.split(images, 4)), "z": list(np.split(z, 8))}
    labels = np.resize(latents[LABEL_INPUT], len(z))  # repeated to cover both halves of z
    return {"image": [{"image": i, LABEL_INPUT: y}
                      for i, y in zip(np.split(images, 4), np.split(labels[: len(images)], 4))],
            "z": [{"z": i, LABEL_INPUT: y} for i, y in zip(np.split(z, 8), np.split(labels, 8))]}


def write_examples(path: Path, test: ImageSplit, n: int) -> dict[str, Any]:
    """The first ``n`` test images in the seeded order (in index order) as ``path``
    (images uint8 [n, C, H, W], labels int64 [n], classes); returns the contract's record."""
    idx = order(len(test))[: min(n, len(test))].sort().values
    images = test.images[idx].numpy().astype(np.uint8)
    labels = test.labels[idx].numpy().astype(np.int64)
    classes = np.array(list(test.classes), dtype=str)
    with open(path, "wb") as f:
        np.savez_compressed(f, images=images, labels=labels, classes=classes)
    return {"file": path.name, "count": len(idx), "split": "test", "bytes": path.stat().st_size}
