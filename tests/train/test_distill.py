"""Distilling a fast decoder: the student folder, learning, seeding, resume, and bad options."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from support import TINY_STUDENT, assert_clear, refusals, run_main, tiny_checkpoint, tiny_student
from vaekit.train import distill_run, load_model
from vaekit.train.distill import main
from vaekit.train.distill_run import DistillConfig
from vaekit.train.student import StudentConfig, StudentDecoder
from vaekit.train.student_folder import load_student


@pytest.fixture()
def ckpt(tmp_path, tiny_mnist_root):
    return tiny_checkpoint(tmp_path / "ckpt", tiny_mnist_root)


def weights(ckpt) -> bytes:
    return (ckpt / "student" / "model.safetensors").read_bytes()


def psnr_vs_teacher(ckpt, student) -> float:
    teacher = load_model(ckpt).decoder_mean()
    z = torch.randn((64, 2), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        return -10 * float(torch.log10(((student(z) - teacher(z)) ** 2).mean()))


def test_distil_writes_a_student_that_gets_closer_to_its_teacher(ckpt):
    metrics = tiny_student(ckpt, steps=20, lr=1e-2)
    folder = ckpt / "student"
    assert {"config.json", "model.safetensors", "metrics.json", "resume.pt"} <= {p.name for p in folder.iterdir()}
    assert [r["step"] for r in metrics["history"]] == [10, 20]
    student, record = load_student(folder)
    untrained = StudentDecoder(student.config)
    assert psnr_vs_teacher(ckpt, student) > psnr_vs_teacher(ckpt, untrained) + 3  # it learned the teacher
    assert record["model"]["widths"] == list(TINY_STUDENT["widths"])
    assert record["model"]["latent_dim"] == 2 and record["model"]["height"] == 28
    with torch.no_grad():
        image = student(torch.zeros(3, 2))
    assert image.shape == (3, 1, 28, 28) and 0 <= float(image.min()) <= float(image.max()) <= 1


def test_student_has_no_normalisation_layer():
    student = StudentDecoder(StudentConfig(channels=3, height=64, width=64, latent_dim=16))
    kinds = {type(m).__name__ for m in student.modules()}
    assert not {k for k in kinds if "Norm" in k}, kinds


def test_same_seed_same_bytes_and_resume_ends_where_one_run_ends(ckpt, tmp_path, tiny_mnist_root,
                                                                 monkeypatch):
    tiny_student(ckpt, steps=6)
    whole = weights(ckpt)
    other = tiny_checkpoint(tmp_path / "other", tiny_mnist_root)
    tiny_student(other, steps=6)
    assert weights(other) == whole  # the same seed gives the same bytes
    save = distill_run.save_student

    def save_then_stop(*args, **kwargs):
        save(*args, **kwargs)
        raise KeyboardInterrupt  # killed right after the first save (step 3)

    monkeypatch.setattr(distill_run, "save_student", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        tiny_student(other, steps=6, overwrite=True)
    monkeypatch.setattr(distill_run, "save_student", save)
    assert weights(other) != whole
    tiny_student(other, steps=6, resume=True)  # continued with the same command plus resume
    assert weights(other) == whole


def test_an_existing_student_is_kept_unless_asked(ckpt, capsys):
    tiny_student(ckpt, steps=2)
    before = weights(ckpt)
    code, err = run_main(main, [str(ckpt), "--steps", "2", "--quiet"], capsys)
    assert_clear(code, err, "already holds a student", "--resume", "--overwrite")
    assert weights(ckpt) == before


def test_resume_refuses_other_student_options(ckpt, capsys):
    tiny_student(ckpt, steps=2)
    code, err = run_main(main, [str(ckpt), "--resume", "--widths", "16", "8", "--steps", "4", "--quiet"], capsys)
    assert_clear(code, err, "differs in model", "widths")


def test_distil_from_the_cli_then_overwrite(ckpt, capsys):
    argv = [str(ckpt), "--widths", "8", "8", "--steps", "2", "--batch-size", "4", "--warmup-steps", "0",
            "--save-every", "1", "--quiet"]
    assert main(argv) == 0
    assert "PSNR vs teacher" in capsys.readouterr().out
    assert main([*argv, "--overwrite", "--seed", "3"]) == 0
    assert json.loads((ckpt / "student" / "config.json").read_text())["distill"]["seed"] == 3


@refusals([
    (["--steps", "0"], "--steps must be", "1..10000000"),
    (["--batch-size", "0"], "--batch-size must be", "1..4096"),
    (["--lr", "0"], "--lr must be", "(0, 1]"),
    (["--lr", "nan"], "--lr must be", "(0, 1]"),
    (["--warmup-steps", "-1"], "--warmup-steps must be", "0..10000000"),
    (["--feature-weight", "-1"], "--feature-weight must be", "0..1000"),
    (["--mix", "0", "0", "0"], "--mix takes three weights", "not all 0"),
    (["--mix", "1", "-1", "0"], "--mix takes three weights", ">= 0"),
    (["--widths", "0", "8"], "--widths must be", "1..1024"),
    (["--widths", "8", "8", "8"], "3 widths", "fewer --widths"),
    (["--blocks", "9"], "--blocks must be", "0..8"),
    (["--save-every", "0"], "--save-every must be", ">= 1"),
    (["--threads", "-1"], "--threads must be", "0..1024"),
    (["--resume", "--overwrite"], "exclude each other", "--resume"),
    (["--upsample", "bilinear"], "invalid choice", "pixel_shuffle"),
    (["--resume"], "nothing to resume", "without --resume"),
], "argv,problem,fix")
def test_bad_options_are_refused_in_one_line(unexported_ckpt, capsys, argv, problem, fix):
    code, err = run_main(main, [str(unexported_ckpt), "--quiet", *argv], capsys)
    assert_clear(code, err, problem, fix)
    assert not (unexported_ckpt / "student").exists()


def test_a_missing_checkpoint_is_refused(tmp_path, capsys):
    code, err = run_main(main, [str(tmp_path / "nope"), "--quiet"], capsys)
    assert_clear(code, err, "no checkpoint folder")


def test_distill_config_rejects_an_unknown_loss():
    with pytest.raises(ValueError, match="unknown --loss 'l3'"):
        DistillConfig(loss="l3")


def test_a_damaged_student_folder_is_refused(ckpt):
    tiny_student(ckpt, steps=2)
    shutil.copy(ckpt / "config.json", ckpt / "student" / "config.json")  # a teacher's config, not a student's
    with pytest.raises(ValueError, match="not a vaekit student config"):
        load_student(ckpt / "student")
