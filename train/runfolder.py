"""The run folder policy: what a training run may do with ``--out`` before its first step.

* A folder holding any checkpoint file is never overwritten: it is refused unless the run
  continues it (``--resume``) or replaces it on purpose (``--overwrite``).
* On ``--resume`` every option either applies from the next epoch (``lr``, ``epochs``,
  ``max_steps``, ...: :data:`APPLIES`; recorded in ``config.json["changes"]`` by
  :func:`~vaekit.train.checkpoint.save_checkpoint`) or is refused, naming the key, its saved
  value and the new one (``seed``, ``batch_size``, the data selection, every model key).
* What a killed checkpoint write left in the folder is finished or removed first
  (:func:`~vaekit.train.checkpoint.clean_stale_files`).
* A folder whose ``current`` link leads to a version that is gone is refused (``--resume``
  would otherwise start from scratch in silence) unless ``--overwrite`` is given.

:func:`prepare_run` is the one entry point; the training loop calls it before loading data.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from vaekit.format import CONFIG

from .checkpoint import (
    CHECKPOINT_FILES,
    RESUME,
    CheckpointError,
    clean_stale_files,
    load_model,
    load_resume,
    read_config,
    remove_checkpoint,
)
from .config import (
    DataConfig,
    TrainConfig,
    VAEConfig,
    config_differences,
)
from .versions import CURRENT, missing_current

#: options that may change on --resume: they apply from the next epoch and are recorded
APPLIES = {
    "train": ("epochs", "max_steps", "lr", "lr_schedule", "lr_warmup_steps", "final_lr_fraction",
              "init_from", "weight_decay", "grad_clip", "skip_threshold", "ema", "kl_warmup_steps",
              "device", "eval_batch_size", "compile", "log_every"),
    "data": ("data_root", "download"),
}


class RunFolderError(ValueError):
    """``--out`` cannot be used as asked; the message says what to pass instead."""


def checkpoint_files(out: Path) -> list[str]:
    """The checkpoint files present in ``out`` (none when it does not exist)."""
    return [n for n in CHECKPOINT_FILES if (out / n).is_file()]


def prepare_run(out: str | os.PathLike, model_config: VAEConfig, data_config: DataConfig,
                train_config: TrainConfig, *, writer: bool = True) -> dict[str, Any] | None:
    """Check (and prepare) the run folder; return the resume state to continue from, or None.

    Raises :class:`RunFolderError` when ``out`` is a file, cannot be written, holds a run that
    this command would overwrite, or holds a run whose options differ in a key that cannot
    change on resume; :class:`~vaekit.train.checkpoint.CheckpointError` for a damaged
    ``resume.pt``. ``writer=False`` (every data-parallel rank but 0) only reads: it neither
    cleans, deletes nor creates anything.
    """
    out = Path(out)
    cfg = train_config
    if out.exists() and not out.is_dir():
        raise RunFolderError(f"--out {out} is a file, not a folder: pass a folder path for the "
                             f"run (e.g. runs/NAME); nothing was changed")
    if writer and out.is_dir():
        try:
            clean_stale_files(out)
        except OSError as e:
            raise RunFolderError(f"cannot tidy --out {out} ({e.strerror or e}): make it writable "
                                 f"or choose another --out") from e
    present = checkpoint_files(out)
    lost = missing_current(out)
    if lost and not cfg.overwrite:  # else --resume would start from scratch in silence
        raise RunFolderError(
            f"{out} holds a checkpoint whose saved files are missing ({out / CURRENT} points at "
            f"{lost}, which is gone): restore {lost}, or pass --overwrite to start over there "
            f"(nothing was changed)")
    if cfg.overwrite:
        if writer:
            remove_checkpoint(out)
            if present:
                print(f"--overwrite: removed the previous checkpoint in {out} ({', '.join(present)})")
            _make_writable_folder(out)
        return None
    if not cfg.resume:
        if present:
            raise RunFolderError(
                f"{out} already holds a checkpoint ({', '.join(present)}): pass --resume to "
                f"continue it, --overwrite to replace it, or choose another --out "
                f"(nothing was changed)"
            )
        if writer:
            _make_writable_folder(out)
        return None
    if not present:
        if writer:
            print(f"--resume: {out} holds no checkpoint yet, starting from scratch")
            _make_writable_folder(out)
        return None
    if RESUME not in present:
        raise RunFolderError(
            f"--resume: {out} holds a checkpoint without {RESUME} (a finished or shipped model "
            f"cannot continue training): choose another --out, or pass --overwrite instead of "
            f"--resume to start over there"
        )
    applied = _check_options(out, model_config, data_config, train_config)
    state = load_resume(out)
    _apply_optimizer_options(state, train_config)
    epoch = int(state["epoch"])
    if writer:
        _report(out, applied, epoch, cfg.epochs)
    return state


def saved_state(out: Path) -> str:
    """What a stopped run left in ``out``, for its last message: the checkpoint of its last
    finished epoch, or nothing when no epoch had finished."""
    present = checkpoint_files(out)
    if RESUME in present:
        return (f"the last finished epoch is saved in {out}: continue it with the same command "
                f"plus --resume")
    if present:
        return f"{out} holds the checkpoint it started from ({', '.join(present)}), unchanged"
    return f"no epoch had finished, so nothing was saved in {out}"


def _report(out: Path, applied: list[tuple[str, Any, Any]], epoch: int, epochs: int) -> None:
    for key, old, new in applied:
        print(f"--resume: {key} {old!r} -> {new!r} applies from epoch {epoch + 1}")
    if epoch >= epochs:
        print(f"--resume: {out} has trained {epoch} of --epochs {epochs} already; "
              f"raise --epochs to train further")


def _make_writable_folder(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RunFolderError(f"cannot create --out {out} ({e.strerror or e}): choose a folder "
                             f"path you can write to") from e
    if not os.access(out, os.W_OK):
        raise RunFolderError(f"cannot write into --out {out} (permission denied): choose a "
                             f"folder you can write to")


def option_differences(saved: dict[str, Any], model_config: VAEConfig, data_config: DataConfig,
                       train_config: TrainConfig) -> list[tuple[str, str, Any, Any]]:
    """``(section, key, saved value, new value)`` for every option that differs."""
    try:
        return config_differences(saved, model_config, data_config, train_config)
    except (TypeError, ValueError, KeyError) as e:
        raise CheckpointError(f"the {CONFIG} of the run cannot be read back ({e}); restore "
                              f"it, or start over with --overwrite") from e


def _check_options(out: Path, model_config: VAEConfig, data_config: DataConfig,
                   train_config: TrainConfig) -> list[tuple[str, Any, Any]]:
    saved = read_config(out)
    lost = [section for section in ("data", "train") if not isinstance(saved.get(section), dict)]
    if lost:  # the resume check would skip them: a changed seed or batch size would pass
        raise RunFolderError(
            f"--resume: {out / CONFIG} has no {' or '.join(repr(k) for k in lost)} section, so "
            f"this command's options (--seed, --batch-size, ...) cannot be checked against the "
            f"run's: restore the {CONFIG} the run wrote, or start over with --overwrite "
            f"(nothing was changed)")
    diffs = option_differences(saved, model_config, data_config, train_config)
    refused = [(k, was, now) for section, k, was, now in diffs if k not in APPLIES.get(section, ())]
    if refused:
        listed = "; ".join(f"{_flag(k)} was {was!r}, now {now!r}" for k, was, now in refused)
        keep = " ".join(f"{_flag(k)} {_shown(was)}" for k, was, _ in refused)
        raise RunFolderError(
            f"--resume: this command differs from the run in {out} in options that cannot change "
            f"mid-run ({listed}): resume with the saved values ({keep}), or start a new run "
            f"with another --out (nothing was changed)"
        )
    return [(k, was, now) for _, k, was, now in diffs]


def initial_weights(folder: str | os.PathLike, model_config: VAEConfig) -> dict[str, Any]:
    """The weights of checkpoint ``folder`` to start a run with ``model_config`` (``--init-from``).

    The checkpoint's model options must equal the run's; a differing key is refused, naming
    the flags that would match it. Raises :class:`RunFolderError` for a folder that is not a
    checkpoint, :class:`~vaekit.train.checkpoint.CheckpointError` for a damaged one.
    """
    try:
        source = load_model(folder)  # one read: its config.json rebuilt the model
    except FileNotFoundError as e:
        raise RunFolderError(f"--init-from: {e}") from e
    ours, theirs = model_config.to_dict(), source.config.to_dict()
    differ = [k for k in sorted(set(ours) | set(theirs)) if ours.get(k) != theirs.get(k)]
    if differ:
        listed = "; ".join(f"{_flag(k)} {_shown(theirs.get(k))} there, {_shown(ours.get(k))} here"
                           for k in differ)
        match = " ".join(f"{_flag(k)} {_shown(theirs.get(k))}" for k in differ
                         if theirs.get(k) is not None)
        raise RunFolderError(f"--init-from {folder} holds a model with other options ({listed}): "
                             f"pass {match} to start from it, or drop --init-from")
    return source.state_dict()


def _flag(key: str) -> str:
    return "--model" if key == "model_type" else "--" + key.replace("_", "-")


def _shown(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return " ".join(str(v) for v in value)
    return str(value)


def _apply_optimizer_options(state: dict[str, Any], cfg: TrainConfig) -> None:
    """The optimiser state carries its own lr and weight decay: set this command's values."""
    optimizer = state.get("optimizer")
    if isinstance(optimizer, dict):
        for group in optimizer.get("param_groups", []):
            group["lr"] = cfg.lr
            group["weight_decay"] = cfg.weight_decay
