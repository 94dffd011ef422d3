"""Checkpoint folders that rebuild their model alone.

A folder holds ``config.json`` (model, data and training configs), ``model.safetensors``
(the unwrapped module's weights), ``metrics.json`` and, for runs that can resume,
``resume.pt`` (optimiser, epoch, step, RNG, version; loaded with ``weights_only=True``).
Every file is written to a temporary name and renamed into place, so a killed run never
leaves a half-written file.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import replace
from importlib import metadata
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors
from torch import nn
from vaekit.format import (  # noqa: F401  (atomic_write_* are re-exported for train's modules)
    CONFIG,
    METRICS,
    RESUME,
    WEIGHTS,
    atomic_write_bytes,
    atomic_write_text,
)

from .config import (
    DataConfig,
    TrainConfig,
    VAEConfig,
    data_config_from_dict,
    default_data_root,
    dump_json,
    model_config_from_dict,
    train_config_from_dict,
)
from .data import ImageSplit, load_split
from .model import VAE, build_model


def vaekit_version() -> str:
    try:
        return metadata.version("vaekit")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def unwrap(model: nn.Module) -> nn.Module:
    """The plain module under a ``torch.compile`` or DDP wrapper."""
    while True:
        if hasattr(model, "_orig_mod"):
            model = model._orig_mod
        elif isinstance(model, nn.parallel.DistributedDataParallel):
            model = model.module
        else:
            return model


def save_checkpoint(
    folder: str | os.PathLike,
    model: VAE,
    *,
    data: DataConfig | None = None,
    train: TrainConfig | None = None,
    metrics: dict[str, Any] | None = None,
    resume: dict[str, Any] | None = None,
) -> Path:
    """Write a checkpoint folder; the resume state, when given, is written last."""
    folder = Path(folder)
    model = unwrap(model)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    meta = {"vaekit_version": vaekit_version(), "model_type": model.config.model_type}
    atomic_write_bytes(folder / WEIGHTS, save_safetensors(state, metadata=meta))
    config: dict[str, Any] = {"model": model.config.to_dict(), "vaekit_version": meta["vaekit_version"]}
    if data is not None:
        config["data"] = vars(data).copy()
    if train is not None:
        config["train"] = vars(train).copy()
    atomic_write_text(folder / CONFIG, dump_json(config))
    if metrics is not None:
        atomic_write_text(folder / METRICS, dump_json(metrics))
    if resume is not None:
        buf = _torch_bytes({**resume, "vaekit_version": meta["vaekit_version"]})
        atomic_write_bytes(folder / RESUME, buf)
    return folder


def _torch_bytes(obj: Any) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _require(folder: Path, *names: str) -> None:
    if not folder.is_dir():
        raise FileNotFoundError(
            f"no checkpoint folder at {folder}: train one with "
            f"`python -m vaekit.train --out {folder}` or pass an existing folder "
            f"(the shipped ones are under checkpoints/)"
        )
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        raise FileNotFoundError(
            f"checkpoint folder {folder} lacks {', '.join(missing)}: a checkpoint folder needs "
            f"{CONFIG} and {WEIGHTS}, written by `python -m vaekit.train --out {folder}`"
        )


def read_config(folder: str | os.PathLike) -> dict[str, Any]:
    folder = Path(folder)
    _require(folder, CONFIG)
    try:
        return json.loads((folder / CONFIG).read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{folder / CONFIG} is not valid JSON ({e}); re-train or restore it") from e


def load_configs(folder: str | os.PathLike) -> tuple[VAEConfig, DataConfig | None, TrainConfig | None]:
    cfg = read_config(folder)
    model = model_config_from_dict(cfg["model"])
    data = data_config_from_dict(cfg["data"]) if "data" in cfg else None
    train = train_config_from_dict(cfg["train"]) if "train" in cfg else None
    return model, data, train


def load_model(folder: str | os.PathLike, *, device: str | torch.device = "cpu") -> VAE:
    """Rebuild the model from ``config.json`` and load ``model.safetensors`` (no pickle)."""
    folder = Path(folder)
    _require(folder, CONFIG, WEIGHTS)
    config, _, _ = load_configs(folder)
    model = build_model(config)
    try:
        state = load_safetensors((folder / WEIGHTS).read_bytes())
    except Exception as e:  # safetensors raises its own error types for corrupt files
        raise ValueError(f"{folder / WEIGHTS} is not a readable safetensors file ({e})") from e
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(
            f"{folder / WEIGHTS} does not match {folder / CONFIG}: missing {missing[:5]}, "
            f"unexpected {unexpected[:5]}; the weights come from a different architecture"
        )
    return model.to(device).eval()


def load_checkpoint_split(
    checkpoint: str | os.PathLike, split: str = "test", *, limit: int = 0,
    data_root: str | None = None,
) -> ImageSplit:
    """The first ``limit`` (0: all) images of ``split`` of the checkpoint's own dataset.

    The data root is ``data_root`` when given, else the one in ``config.json`` if it exists
    on this machine, else the default (``../shared/data`` or ``./data``): a checkpoint trained
    elsewhere still finds its data here.
    """
    _, data_cfg, _ = load_configs(checkpoint)
    if data_cfg is None:
        raise ValueError(f"{checkpoint}/config.json has no data section, so its dataset is "
                         f"unknown: retrain with `python -m vaekit.train` or add a data section")
    root = data_root or (data_cfg.data_root if Path(data_cfg.data_root).is_dir()
                         else default_data_root())
    data = load_split(replace(data_cfg, data_root=root, download=False, limit=0), split)
    if limit:
        data = ImageSplit(data.images[:limit], data.labels[:limit], data.classes)
    return data


def load_resume(folder: str | os.PathLike) -> dict[str, Any]:
    folder = Path(folder)
    _require(folder, RESUME)
    return torch.load(folder / RESUME, map_location="cpu", weights_only=True)
