"""Checkpoint folders that rebuild their model alone.

A folder holds ``config.json`` (model, data and training configs), ``model.safetensors``
(the unwrapped module's weights), ``metrics.json`` and, for runs that can resume,
``resume.pt`` (optimiser, epoch, step, RNG, version; loaded with ``weights_only=True``).
Each save is written as one unit: on POSIX as a complete version folder switched in by one
rename (:mod:`vaekit.train.versions`), so every reader sees one save's files at every instant;
elsewhere staged, sealed by a manifest and renamed file by file into place (a write killed
while renaming is rolled forward by the next vaekit reader). Both layouts, and plain files
written by any older vaekit, are read the same way.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import tempfile
from dataclasses import replace
from importlib import metadata
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors
from torch import nn
from vaekit.format import CONFIG, METRICS, RESUME, WEIGHTS

from .config import (
    DataConfig,
    TrainConfig,
    VAEConfig,
    config_differences,
    data_config_from_dict,
    dump_json,
    jsonable,
    model_config_from_dict,
    train_config_from_dict,
)
from .data import ImageSplit, load_split
from .model import VAE
from .registry import build_model
from .versions import (
    CHECKPOINT_FILES,
    CSV,
    CURRENT,
    STAGING_PREFIX,
    fsync_dir,
    missing_current,
    remove_layout,
    symlinks_work,
    tidy,
    write_synced,
    write_version,
)


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


MANIFEST = "manifest.json"


class CheckpointError(ValueError):
    """A checkpoint folder or one of its files cannot be used; the message says what to do."""


def save_checkpoint(
    folder: str | os.PathLike,
    model: VAE,
    *,
    data: DataConfig | None = None,
    train: TrainConfig | None = None,
    metrics: dict[str, Any] | None = None,
    resume: dict[str, Any] | None = None,
) -> Path:
    """Write a checkpoint folder as one atomic unit; returns ``folder``.

    ``config.json``, ``model.safetensors``, ``metrics.json``, ``metrics.csv`` (from
    ``metrics["history"]``, one row per epoch) and ``resume.pt`` are written as one unit
    (:func:`write_checkpoint_files`), so no reader sees one epoch's weights beside another
    epoch's resume state, whenever the process is killed. Option changes between this
    checkpoint and the previous one in ``folder`` (a resumed run with a new ``--lr``) are
    recorded in ``config.json["changes"]``.
    """
    folder = Path(folder)
    model = unwrap(model)
    version = vaekit_version()
    epoch = _epoch_of(metrics, resume)
    files: dict[str, bytes] = {}
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    meta = {"vaekit_version": version, "model_type": model.config.model_type}
    if epoch is not None:
        meta["epoch"] = str(epoch)
    files[WEIGHTS] = safetensors_bytes(state, meta)
    config: dict[str, Any] = {"model": model.config.to_dict(), "vaekit_version": version}
    if data is not None:
        config["data"] = vars(data).copy()
    if train is not None:
        config["train"] = vars(train).copy()
    changes = _changes_since_last(folder, model, data, train, epoch)
    if changes:
        config["changes"] = changes
    files[CONFIG] = dump_json(config).encode()
    if metrics is not None:
        files[METRICS] = dump_json(metrics).encode()
        if metrics.get("history"):
            files[CSV] = history_csv(metrics["history"]).encode()
    if resume is not None:
        files[RESUME] = _torch_bytes({**resume, "vaekit_version": version})
    write_checkpoint_files(folder, files)
    return folder


def _epoch_of(metrics: dict[str, Any] | None, resume: dict[str, Any] | None) -> int | None:
    if resume is not None and "epoch" in resume:
        return int(resume["epoch"])
    if metrics is not None and "epochs" in metrics:
        return int(metrics["epochs"])
    return None


def _changes_since_last(folder: Path, model: VAE, data: DataConfig | None,
                        train: TrainConfig | None, epoch: int | None) -> list[dict]:
    """The previous checkpoint's recorded changes plus what differs from it now."""
    if epoch is None or not (folder / CONFIG).is_file():
        return []
    try:
        previous = json.loads((folder / CONFIG).read_text())
        diffs = config_differences(previous, model.config, data, train)
    except (OSError, ValueError, TypeError, KeyError):  # no readable previous config: no changes
        return []
    changes = list(previous.get("changes", []))
    changes += [{"from_epoch": epoch, "key": f"{section}.{key}", "old": jsonable(was),
                 "new": jsonable(now)} for section, key, was, now in diffs]
    return changes


def history_csv(history: list[dict[str, Any]]) -> str:
    """``metrics.csv``: one row per epoch; columns in order of first appearance."""
    import csv

    columns: dict[str, None] = {}
    for row in history:
        columns.update(dict.fromkeys(row))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    return buf.getvalue()


def safetensors_bytes(state: dict[str, torch.Tensor], metadata: dict[str, str]) -> bytes:
    """safetensors bytes with a canonical header (sorted keys): same tensors, same bytes.

    The safetensors writer keeps ``metadata`` in a hash map, so its key order (and the file's
    bytes) changes from run to run; the header is re-serialised here with sorted keys, padded
    with spaces to a multiple of 8 bytes as the format asks.
    """
    raw = save_safetensors(state, metadata=metadata)
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + n])
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text + raw[8 + n :]


def write_checkpoint_files(folder: Path, files: dict[str, bytes]) -> None:
    """Write ``files`` (name -> bytes) into ``folder`` as one unit.

    Where the file system has symbolic links: a new version folder, switched in by one
    rename (:func:`~vaekit.train.versions.write_version`); elsewhere stage, seal, switch.
    """
    folder.mkdir(parents=True, exist_ok=True)
    finish_pending_write(folder)  # a sealed write of the other scheme goes in first
    names = [n for n in CHECKPOINT_FILES if n in files] + sorted(set(files) - set(CHECKPOINT_FILES))
    if symlinks_work(folder):
        write_version(folder, files, names)
    else:
        _write_sealed(folder, files, names)


def _write_sealed(folder: Path, files: dict[str, bytes], names: list[str]) -> None:
    """Stage ``files`` in a hidden folder, seal it with a manifest, rename them into place."""
    staging = Path(tempfile.mkdtemp(dir=folder, prefix=f"{STAGING_PREFIX}{os.getpid()}-"))
    try:
        for name in names:
            write_synced(staging / name, files[name])
        write_synced(staging / f".{MANIFEST}", dump_json({"files": names}).encode())
        os.replace(staging / f".{MANIFEST}", staging / MANIFEST)  # sealed: from here on, roll forward
        fsync_dir(staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _switch(staging, folder, names)


def _switch(staging: Path, folder: Path, names: list[str]) -> None:
    """Rename each staged file into ``folder`` (one may already be moved), then drop ``staging``."""
    for name in names:
        _move_staged(staging, folder, name)
    fsync_dir(folder)
    shutil.rmtree(staging, ignore_errors=True)


def _move_staged(staging: Path, folder: Path, name: str) -> None:
    try:
        os.replace(staging / name, folder / name)
    except FileNotFoundError:
        pass  # moved already (by a reader finishing this write, or before a crash)


def finish_pending_write(folder: str | os.PathLike) -> bool:
    """Finish a checkpoint write that was killed while switching files into place.

    A sealed staging folder (one with a manifest) is rolled forward: its remaining files are
    renamed into ``folder``. Unsealed staging folders are left alone here (their writer may
    still be running); :func:`clean_stale_files` removes them at the next training run.
    Returns whether anything was finished.
    """
    folder = Path(folder)
    done = False
    for staging in _staging_folders(folder):
        manifest = staging / MANIFEST
        if not manifest.is_file():
            continue
        try:
            names = json.loads(manifest.read_text())["files"]
            _switch(staging, folder, [n for n in names if Path(n).name == n])
        except FileNotFoundError:
            continue  # its writer finished it meanwhile
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise CheckpointError(
                f"{folder} holds an interrupted checkpoint write ({staging.name}) that cannot be "
                f"finished ({e}): make the folder writable and retry, or resume the training run "
                f"with --resume"
            ) from e
        done = True
    return done


def _staging_folders(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir()
                      if p.name.startswith(STAGING_PREFIX) and p.is_dir())
    except OSError:
        return []


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's process: assume alive
    return True


#: ``.NAME.XXXX.tmp``: what an atomic write of a checkpoint file leaves when killed
_ATOMIC_TMP = re.compile(r"^\.(%s)\..+\.tmp$" % "|".join(re.escape(n) for n in CHECKPOINT_FILES))


def clean_stale_files(folder: str | os.PathLike) -> list[str]:
    """Finish or remove what killed checkpoint writes left in ``folder``; returns the names removed.

    Sealed staging folders are finished (:func:`finish_pending_write`); unsealed ones whose
    writing process is gone, their counterparts in ``versions/``, temporary ``current``
    links, and ``.NAME.XXXX.tmp`` files of checkpoint files, are removed. Called by the
    training run that is about to write into ``folder``.
    """
    folder = Path(folder)
    finish_pending_write(folder)
    removed = tidy(folder, _pid_alive)
    for staging in _staging_folders(folder):
        pid = staging.name[len(STAGING_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and _pid_alive(int(pid)):
            continue
        shutil.rmtree(staging, ignore_errors=True)
        removed.append(staging.name)
    for path in folder.iterdir():
        if _ATOMIC_TMP.match(path.name) and path.is_file():
            path.unlink(missing_ok=True)
            removed.append(path.name)
    return removed


def remove_checkpoint(folder: str | os.PathLike) -> list[str]:
    """Remove the checkpoint in ``folder`` (its files, versions and links; nothing else).

    Returns the names of the files a reader saw. ``current`` goes first, so a reader sees
    the whole previous save or nothing, never part of it.
    """
    folder = Path(folder)
    present = [n for n in CHECKPOINT_FILES if (folder / n).is_file()]
    remove_layout(folder)
    for name in CHECKPOINT_FILES:
        path = folder / name
        if path.is_file() or path.is_symlink():
            path.unlink()
    return present


def _torch_bytes(obj: Any) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _require(folder: Path, *names: str) -> None:
    if not folder.is_dir():
        if folder.exists():
            raise FileNotFoundError(f"{folder} is a file, not a checkpoint folder: pass the folder "
                                    f"that holds {CONFIG} and {WEIGHTS}")
        raise FileNotFoundError(
            f"no checkpoint folder at {folder}: train one with "
            f"`python -m vaekit.train --out {folder}` or pass an existing folder "
            f"(the shipped ones are under checkpoints/)"
        )
    finish_pending_write(folder)
    missing = [n for n in names if not (folder / n).is_file()]
    lost = missing_current(folder)
    if missing and lost:
        raise CheckpointError(
            f"checkpoint folder {folder} lacks its saved files: its link {CURRENT} points at "
            f"{lost}, which is missing (removed, or left behind by a copy); restore {lost}, or "
            f"copy the whole folder again (`cp -a`)")
    if missing:
        raise FileNotFoundError(
            f"checkpoint folder {folder} lacks {', '.join(missing)}: a checkpoint folder needs "
            f"{CONFIG} and {WEIGHTS}, written by `python -m vaekit.train --out {folder}`"
        )


def read_config(folder: str | os.PathLike) -> dict[str, Any]:
    """``config.json`` as a dict with a ``model`` section (checked: a vaekit checkpoint config)."""
    folder = Path(folder)
    _require(folder, CONFIG)
    path = folder / CONFIG
    try:
        cfg = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path} is not valid JSON ({e}); re-train or restore it") from e
    if not isinstance(cfg, dict) or not isinstance(cfg.get("model"), dict):
        raise CheckpointError(
            f"{path} is not a vaekit checkpoint config (it needs a \"model\" section, and "
            f"\"data\"/\"train\" sections as written by `python -m vaekit.train`): point at a "
            f"folder written by vaekit, or restore its {CONFIG}"
        )
    for section in ("data", "train"):
        if section in cfg and not isinstance(cfg[section], dict):
            raise CheckpointError(f"{path}: \"{section}\" must be an object of options, got "
                                  f"{type(cfg[section]).__name__}; restore the file")
    return cfg


def load_configs(folder: str | os.PathLike) -> tuple[VAEConfig, DataConfig | None, TrainConfig | None]:
    """The model, data and training configs of ``config.json``, each checked (types, ranges)."""
    cfg = read_config(folder)
    try:
        model = model_config_from_dict(cfg["model"])
        data = data_config_from_dict(cfg["data"]) if "data" in cfg else None
        train = train_config_from_dict(cfg["train"]) if "train" in cfg else None
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{Path(folder) / CONFIG}: {e}; fix that value or restore the "
                              f"file") from e
    return model, data, train


def load_model(folder: str | os.PathLike, *, device: str | torch.device = "cpu",
               config: VAEConfig | None = None) -> VAE:
    """Rebuild the model from ``config.json`` and load ``model.safetensors`` (no pickle).

    ``config``: the model config of :func:`load_configs`, when the caller has read it already.
    """
    folder = Path(folder)
    _require(folder, CONFIG, WEIGHTS)
    if config is None:
        config, _, _ = load_configs(folder)
    model = build_model(config)
    try:
        state = load_safetensors((folder / WEIGHTS).read_bytes())
    except Exception as e:  # noqa: BLE001 - safetensors raises its own error types for corrupt files
        raise CheckpointError(f"{folder / WEIGHTS} is not a readable safetensors file ({e}); "
                              f"restore it or re-train") from e
    problem = state_mismatch(model.state_dict(), state)
    if problem:
        raise CheckpointError(
            f"{folder / WEIGHTS} does not match {folder / CONFIG} ({problem}): the weights come from "
            f"a different architecture; restore the {CONFIG} written with these weights"
        )
    broken = [k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if broken:  # the weights' fault, not the exporter's or the evaluator's
        raise CheckpointError(
            f"{folder / WEIGHTS} holds non-finite weights (NaN or inf in {len(broken)} tensor(s), "
            f"e.g. {broken[0]}): the run diverged before it was saved; re-train with a lower --lr "
            f"or restore an earlier checkpoint")
    model.load_state_dict(state)
    return model.to(device).eval()


def state_mismatch(ours: dict[str, torch.Tensor], state: Any) -> str:
    """How the weights ``state`` differ from the model's ``ours`` in names and shapes, in one
    line ('' when they fit)."""
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        return f"not a table of named tensors but {type(state).__name__}"
    missing = sorted(set(ours) - set(state))
    unexpected = sorted(set(state) - set(ours))
    shapes = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in ours.items()
              if k in state and state[k].shape != v.shape]
    if not (missing or unexpected or shapes):
        return ""
    return f"missing {missing[:5]}, unexpected {unexpected[:5]}, shape mismatch {shapes[:3]}"


def load_checkpoint_split(
    checkpoint: str | os.PathLike, split: str = "test", *, limit: int = 0,
    data_root: str | None = None, data_cfg: DataConfig | None = None,
) -> ImageSplit:
    """The first ``limit`` (0: all) images of ``split`` of the checkpoint's own dataset.

    The data root is ``data_root`` when given, else the one in ``config.json`` if it exists
    on this machine, else the default (``../shared/data`` or ``./data``): a checkpoint trained
    elsewhere still finds its data here. ``data_cfg``: the data config of
    :func:`load_configs`, when the caller has read it already.
    """
    if data_cfg is None:
        _, data_cfg, _ = load_configs(checkpoint)
    if data_cfg is None:
        raise ValueError(f"{Path(checkpoint) / CONFIG} has no data section, so its dataset is "
                         f"unknown: retrain with `python -m vaekit.train` or add a data section")
    recorded = data_cfg.data_root  # "" (the default root) unless training was given one
    root = data_root or (recorded if recorded and Path(recorded).is_dir() else "")
    data = load_split(replace(data_cfg, data_root=root, download=False, limit=0), split)
    if limit:
        data = ImageSplit(data.images[:limit], data.labels[:limit], data.classes)
    return data


RESUME_KEYS = ("model", "optimizer", "epoch", "step", "rng", "history")


def load_resume(folder: str | os.PathLike) -> dict[str, Any]:
    """``resume.pt`` through ``torch.load(weights_only=True)``; a damaged file is a CheckpointError."""
    folder = Path(folder)
    _require(folder, RESUME)
    path = folder / RESUME
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch.load raises many types for a damaged file
        raise CheckpointError(
            f"{path} is damaged and cannot be read ({type(e).__name__}: {(str(e).splitlines() or [''])[0][:200]}): "
            f"restore it from a backup, or start over with --overwrite (or another --out)"
        ) from e
    if not isinstance(state, dict) or not all(k in state for k in RESUME_KEYS):
        keys = sorted(state) if isinstance(state, dict) else type(state).__name__
        raise CheckpointError(
            f"{path} is not a vaekit resume state (has {keys}, needs {list(RESUME_KEYS)}): "
            f"restore it, or start over with --overwrite (or another --out)"
        )
    return state
