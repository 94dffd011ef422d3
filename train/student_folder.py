"""A distilled student's folder (``CHECKPOINT/student/``): written as one unit, read without pickle.

    config.json        {"model": StudentConfig, "distill": DistillConfig, "teacher": {...}}
    model.safetensors  the student's weights (``step`` in the metadata)
    metrics.json       validation PSNR against the teacher at every save
    resume.pt          optimiser, step and RNG state for ``--resume`` (``weights_only=True``)

The files are written as one unit, a version switched in by one rename as in a run folder
(:func:`~vaekit.train.checkpoint.write_checkpoint_files`), so a killed run never leaves one
save's weights beside another's resume state.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as load_safetensors
from vaekit.format import (
    CONFIG,
    METRICS,
    RESUME,
    STUDENT_SUBFOLDER,
    WEIGHTS,
    image_shape,
    read_json_object,
)

from .checkpoint import (
    CheckpointError,
    clean_stale_files,
    finish_pending_write,
    safetensors_bytes,
    vaekit_version,
    write_checkpoint_files,
)
from .config import dump_json
from .student import StudentConfig, StudentDecoder

STUDENT_FILES = (CONFIG, WEIGHTS, METRICS, RESUME)


def student_folder(checkpoint: str | os.PathLike) -> Path:
    """Where a checkpoint's student lives: ``CHECKPOINT/student``."""
    return Path(checkpoint) / STUDENT_SUBFOLDER


def has_student(checkpoint: str | os.PathLike) -> bool:
    folder = student_folder(checkpoint)
    return (folder / CONFIG).is_file() and (folder / WEIGHTS).is_file()


def save_student(folder: Path, student: StudentDecoder, *, record: dict[str, Any],
                 metrics: dict[str, Any], resume: dict[str, Any]) -> None:
    """Write the four files of :data:`STUDENT_FILES` into ``folder`` as one unit."""
    import io

    state = {k: v.detach().cpu().contiguous() for k, v in student.state_dict().items()}
    buf = io.BytesIO()
    torch.save(resume, buf)
    files = {
        CONFIG: dump_json({**record, "vaekit_version": vaekit_version()}).encode(),
        WEIGHTS: safetensors_bytes(state, {"step": str(resume["step"]), "format": "pt"}),
        METRICS: dump_json(metrics).encode(),
        RESUME: buf.getvalue(),
    }
    write_checkpoint_files(folder, files)


def read_record(folder: Path) -> dict[str, Any]:
    """``config.json`` of a student folder, checked to hold its three sections."""
    finish_pending_write(folder)
    clean_stale_files(folder)
    path = folder / CONFIG
    if not path.is_file():
        raise FileNotFoundError(f"no student at {folder} (no {CONFIG}): distil one with "
                                f"`python -m vaekit.train.distill {folder.parent}`")
    record = read_json_object(path, fix="distil again with --overwrite", error=CheckpointError)
    if not all(isinstance(record.get(k), dict)
                                               for k in ("model", "distill", "teacher")):
        raise CheckpointError(f"{path} is not a vaekit student config (needs \"model\", \"distill\" "
                              f"and \"teacher\" sections): distil again with --overwrite")
    return record


def load_student(folder: str | os.PathLike) -> tuple[StudentDecoder, dict[str, Any]]:
    """Rebuild the student from ``config.json`` and load ``model.safetensors`` (no pickle)."""
    folder = Path(folder)
    record = read_record(folder)
    try:
        config = StudentConfig.from_dict(record["model"])
    except ValueError as e:
        raise CheckpointError(f"{folder / CONFIG}: {e}; distil again with --overwrite") from e
    student = StudentDecoder(config)
    try:
        state = load_safetensors((folder / WEIGHTS).read_bytes())
    except Exception as e:  # noqa: BLE001 - safetensors raises its own types for corrupt files
        raise CheckpointError(f"{folder / WEIGHTS} is not a readable safetensors file ({e}); "
                              f"distil again with --overwrite") from e
    ours = student.state_dict()
    if set(state) != set(ours) or any(state[k].shape != v.shape for k, v in ours.items()):
        raise CheckpointError(f"{folder / WEIGHTS} does not match {folder / CONFIG} (the weights "
                              f"come from another student): distil again with --overwrite")
    student.load_state_dict(state)
    return student.eval(), record


def check_matches_teacher(config: StudentConfig, teacher_facts: dict[str, Any], where: str) -> None:
    """Refuse a student whose latent size, image shape or classes differ from its teacher's.

    ``teacher_facts`` is a contract or a model config dict (``latent_dim``, the image shape,
    ``num_classes``).
    """
    want_shape = image_shape(teacher_facts)
    got_shape = (config.channels, config.height, config.width)
    want_d, got_d = int(teacher_facts["latent_dim"]), config.latent_dim
    want_k = int(teacher_facts.get("num_classes") or 0)
    if (got_shape, got_d, config.num_classes) != (want_shape, want_d, want_k):
        raise CheckpointError(
            f"the student in {where} does not fit its teacher: it maps latent_dim {got_d} "
            f"(classes {config.num_classes}) to images {got_shape}, the teacher latent_dim "
            f"{want_d} (classes {want_k}) to {want_shape}; distil it again from this checkpoint "
            f"(`python -m vaekit.train.distill CHECKPOINT --overwrite`)")
