"""The distillation loop: a student decoder learns its teacher's mean image, step by step.

:func:`distill` is resumable (the student folder holds the optimiser, the step and the RNG
state; ``resume=True`` continues and ends exactly where an uninterrupted run would),
seeded (one ``torch.Generator`` draws every latent), shows a tqdm bar, and validates every
``save_every`` steps: PSNR of the student against the teacher on test-image posterior means
and on prior samples, recorded in ``student/metrics.json``.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm
from vaekit.format import METRICS, RESUME, WEIGHTS, sha256_file

from .checkpoint import CheckpointError, load_checkpoint_split, load_configs, load_model
from .distill_sources import LOSSES, DistillLoss, LatentSources, encode_split
from .model import VAE
from .schedule import lr_factor
from .student import StudentConfig, StudentDecoder
from .student_folder import (
    STUDENT_FILES,
    load_student,
    read_record,
    save_student,
    student_folder,
)

VALID_LATENTS = 256
#: options that may change on resume (the run's length and how often it saves)
RESUMABLE = ("steps", "save_every")


@dataclass(frozen=True, kw_only=True)
class DistillConfig:
    """How a student is trained (``student/config.json["distill"]``); ranges checked on creation."""

    steps: int = 3000
    batch_size: int = 64
    lr: float = 2e-3
    warmup_steps: int = 100
    seed: int = 0
    loss: str = "mse"
    feature_weight: float = 0.0
    mix: tuple[float, float, float] = (0.5, 0.25, 0.25)
    save_every: int = 500
    limit: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "mix", tuple(float(m) for m in self.mix))
        checks = [
            ("steps", 1 <= self.steps <= 10_000_000, "a whole number in 1..10000000"),
            ("batch-size", 1 <= self.batch_size <= 4096, "in 1..4096"),
            ("lr", 0 < self.lr <= 1, "in (0, 1]"),
            ("warmup-steps", 0 <= self.warmup_steps <= 10_000_000, "in 0..10000000"),
            ("seed", 0 <= self.seed < 2 ** 63, "in 0..2^63-1"),
            ("feature-weight", 0 <= self.feature_weight <= 1000, "in 0..1000"),
            ("save-every", self.save_every >= 1, ">= 1"),
            ("limit", self.limit >= 0, ">= 0 (0: every training image)"),
        ]
        for flag, ok, want in checks:
            if not ok:
                value = getattr(self, flag.replace("-", "_"))
                raise ValueError(f"--{flag} must be {want}, got {value}")
        if self.loss not in LOSSES:
            raise ValueError(f"unknown --loss {self.loss!r}; choose one of {LOSSES}")
        if len(self.mix) != 3 or not all(0 <= m <= 1000 and math.isfinite(m) for m in self.mix) \
                or sum(self.mix) <= 0:
            raise ValueError(f"--mix takes three weights >= 0 (posterior, prior, normal) that are not "
                             f"all 0, got {list(self.mix)} (e.g. --mix 0.5 0.25 0.25)")

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["mix"] = list(self.mix)
        return d


@dataclass
class _Validation:
    """Fixed latents and the teacher's images of them: test posteriors and prior draws."""

    sets: dict[str, tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]]

    @torch.no_grad()
    def psnr(self, student: StudentDecoder) -> dict[str, float]:
        student.eval()
        out = {}
        for name, (z, label, target) in self.sets.items():
            mse = float(((student(z, label) - target) ** 2).mean())
            out[f"psnr_{name}"] = round(10 * math.log10(1 / max(mse, 1e-20)), 3)
        student.train()
        return out


@torch.no_grad()
def _validation(teacher: VAE, checkpoint: Path, sources: LatentSources, data_root: str | None,
                seed: int) -> _Validation:
    g = torch.Generator().manual_seed(seed + 1)
    decode = teacher.decoder_mean()
    test = load_checkpoint_split(checkpoint, "test", limit=VALID_LATENTS, data_root=data_root)
    label = test.labels.clamp(min=0) if teacher.conditional else None
    z_post, _ = teacher.encode(test.float_batch(slice(None)), label)
    prior_label = (torch.randint(0, sources.num_classes, (VALID_LATENTS,), generator=g)
                   if sources.num_classes else None)
    z_prior = sources.from_prior(VALID_LATENTS, g)
    return _Validation({
        "posterior": (z_post, label, decode(z_post, label)),
        "prior": (z_prior, prior_label, decode(z_prior, prior_label)),
    })


def _prepare_folder(folder: Path, record: dict[str, Any], *, resume: bool, overwrite: bool) -> bool:
    """Whether to resume from ``folder``; refuses to overwrite a student without ``overwrite``."""
    present = [n for n in STUDENT_FILES if (folder / n).exists()]
    if resume:
        if not present:
            raise FileNotFoundError(f"nothing to resume in {folder}: run without --resume to start")
        saved = read_record(folder)
        for section in ("model", "teacher"):
            if saved[section] != record[section]:
                keys = sorted(k for k in set(saved[section]) | set(record[section])
                              if saved[section].get(k) != record[section].get(k))
                raise CheckpointError(f"--resume: the student in {folder} differs in {section} "
                                      f"{keys}; use the same options, or --overwrite to start over")
        changed = sorted(k for k, v in record["distill"].items()
                         if k not in RESUMABLE and saved["distill"].get(k) != v)
        if changed:
            raise CheckpointError(f"--resume: {', '.join(changed)} differ from the run in {folder} "
                                  f"(only {', '.join(RESUMABLE)} may change); use the saved values, "
                                  f"or --overwrite to start over")
        return True
    if present and not overwrite:
        raise FileExistsError(f"{folder} already holds a student: pass --resume to continue it or "
                              f"--overwrite to replace it")
    return False


def distill(
    checkpoint: str | os.PathLike, *, student_config: dict[str, Any], config: DistillConfig,
    resume: bool = False, overwrite: bool = False, data_root: str | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train ``CHECKPOINT/student`` from the checkpoint's decoder; returns ``metrics.json``.

    ``student_config`` holds the student's own options (``widths``, ``blocks``, ``upsample``,
    ``activation``); the image shape, latent size and classes come from the teacher.
    """
    checkpoint = Path(checkpoint)
    teacher = load_model(checkpoint).eval().requires_grad_(False)
    model_cfg, _, _ = load_configs(checkpoint)
    classes = teacher.config.num_classes if teacher.conditional else 0
    scfg = StudentConfig(channels=model_cfg.in_channels, height=model_cfg.image_size,
                         width=model_cfg.image_size, latent_dim=model_cfg.latent_dim,
                         num_classes=classes, **student_config)
    record = {"model": scfg.to_dict(), "distill": config.to_dict(),
              "teacher": {"checkpoint_sha256": sha256_file(checkpoint / WEIGHTS),
                          "model_config": model_cfg.to_dict()}}
    folder = student_folder(checkpoint)
    resuming = _prepare_folder(folder, record, resume=resume, overwrite=overwrite)

    train = load_checkpoint_split(checkpoint, "train", limit=config.limit, data_root=data_root)
    sources = LatentSources(teacher, encode_split(teacher, train, progress=progress), config.mix)
    valid = _validation(teacher, checkpoint, sources, data_root, config.seed)

    student = StudentDecoder(scfg)
    g = torch.Generator().manual_seed(config.seed)
    student.load_state_dict(_init_state(scfg, config.seed))
    opt = torch.optim.Adam(student.parameters(), lr=config.lr)
    step, history = 0, []
    if resuming:
        step, history = _restore(folder, student, opt, g)
    loss_fn = DistillLoss(teacher, loss=config.loss, feature_weight=config.feature_weight)
    decode = teacher.decoder_mean()
    student.train()
    bar = tqdm(total=config.steps, initial=step, desc=f"distil {checkpoint.name}",
               dynamic_ncols=True, disable=not progress)
    t0, cpu0, running = time.perf_counter(), time.process_time(), None
    while step < config.steps:
        z, label = sources.draw(config.batch_size, g)
        with torch.no_grad():
            target = decode(z, label)
        loss, pixel = loss_fn(student.raw(z, label), target, label)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"the loss became non-finite at step {step}: lower --lr (now "
                                     f"{config.lr}); the last save is in {folder}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        for group in opt.param_groups:
            group["lr"] = config.lr * lr_factor(step, schedule="cosine", total_steps=config.steps,
                                                warmup_steps=min(config.warmup_steps, config.steps // 2))
        opt.step()
        step += 1
        running = float(pixel) if running is None else 0.98 * running + 0.02 * float(pixel)
        bar.update()
        bar.set_postfix({config.loss: f"{running:.4f}"})
        if step % config.save_every == 0 or step == config.steps:
            row = {"step": step, config.loss: round(running, 6),
                   "seconds": round(time.perf_counter() - t0, 1),
                   "cpu_seconds": round(time.process_time() - cpu0, 1), **valid.psnr(student)}
            history.append(row)
            bar.write(" ".join(f"{k} {v}" for k, v in row.items()))
            save_student(folder, student, record=record, metrics={"history": history, **row},
                         resume={"step": step, "model": student.state_dict(),
                                 "optimizer": opt.state_dict(), "rng": g.get_state()})
    bar.close()
    return {"history": history, **(history[-1] if history else {})}


def _init_state(config: StudentConfig, seed: int) -> dict[str, torch.Tensor]:
    """The student's initial weights, a pure function of the seed (the global RNG untouched)."""
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        return StudentDecoder(config).state_dict()
    finally:
        torch.random.set_rng_state(state)


def _restore(folder: Path, student: StudentDecoder, opt: torch.optim.Optimizer,
             g: torch.Generator) -> tuple[int, list[dict[str, Any]]]:
    import json

    load_student(folder)  # the weights and config must read back before the state is used
    try:
        state = torch.load(folder / RESUME, map_location="cpu", weights_only=True)
        student.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        g.set_state(state["rng"])
        history = json.loads((folder / METRICS).read_text())["history"]
    except Exception as e:  # noqa: BLE001 - torch.load / json raise many types for damaged files
        raise CheckpointError(f"the resume state in {folder} is damaged ({type(e).__name__}: "
                              f"{str(e)[:200]}); start over with --overwrite") from e
    return int(state["step"]), history
