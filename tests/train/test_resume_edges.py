"""Resume and stop at their edges: another model's resume.pt, a config.json without its
train section, a run folder whose saved versions are gone, and a run that diverges or is
stopped before or after an epoch was saved; each one line that says what is (and is not) on
disk."""

from __future__ import annotations

import json
import os
import re
import shutil

import pytest
from support import checkpoint_epochs, files_under, resumable_run
from support import run_main as run
from vaekit.format import CONFIG, RESUME
from vaekit.train import load_model
from vaekit.train.checkpoint import CheckpointError, load_resume
from vaekit.train.cli import main as train_main
from vaekit.train.runfolder import saved_state

BASE = ["--dim", "8", "--latent-dim", "2", "--val-size", "64", "--epochs", "2", "--device", "cpu",
        "--threads", "1"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_mnist_root):
    base = tmp_path_factory.mktemp("runs")
    argv = [*BASE, "--data-root", str(tiny_mnist_root)]
    return {"z2": resumable_run(base / "z2", argv),
            "z3": resumable_run(base / "z3", [*argv[:3], "3", *argv[4:]]),
            "argv": argv}


def error_line(err: str) -> str:
    """The CLI's message (after any progress bar on the same terminal line)."""
    (line,) = re.findall(r"(?:error|interrupted): .*", err)
    return line


def test_the_resume_state_of_another_model_is_one_line(runs, tmp_path, capsys):
    out = tmp_path / "run"
    shutil.copytree(runs["z2"], out)
    shutil.copy(runs["z3"] / RESUME, out / RESUME)
    before = files_under(out)
    code, err = run(train_main, [*runs["argv"], "--out", str(out), "--resume"], capsys)
    assert code == 2 and "Traceback" not in err and "size mismatch for" not in err, err
    line = error_line(err)
    assert f"{out / RESUME} holds the weights of another model" in line
    assert "shape mismatch" in line and "--overwrite" in line and "nothing was changed" in line
    assert files_under(out) == before


@pytest.mark.parametrize("section", ["train", "data"])
def test_resume_without_a_saved_section_refuses_instead_of_skipping_the_check(section, runs, tmp_path,
                                                                               capsys):
    """Without the section the seed and batch size could change in silence."""
    out = tmp_path / "run"
    shutil.copytree(runs["z2"], out)
    config = json.loads((out / CONFIG).read_text())
    del config[section]
    (out / CONFIG).write_text(json.dumps(config))
    code, err = run(train_main, [*runs["argv"], "--seed", "5", "--batch-size", "64", "--out", str(out),
                                 "--resume"], capsys)
    assert code == 2, err
    line = error_line(err)
    assert f"--resume: {out / CONFIG} has no '{section}' section" in line
    assert "cannot be checked" in line and "restore the config.json" in line


def test_divergence_before_the_first_epoch_does_not_claim_a_save(tiny_mnist_root, tmp_path, capsys):
    out = tmp_path / "run"
    code, err = run(train_main, [*BASE, "--data-root", str(tiny_mnist_root), "--lr", "1e6",
                                 "--grad-clip", "0", "--log-every", "1", "--out", str(out)], capsys)
    assert code == 1, err
    line = error_line(err)
    assert line.startswith("error: training diverged:") and "became non-finite" in line
    assert f"no epoch had finished, so nothing was saved in {out}" in line
    assert "last finished epoch is saved" not in line
    assert not (out / RESUME).exists()


def test_what_a_stopped_run_left_is_told_as_it_is(runs, tmp_path):
    assert saved_state(runs["z2"]).startswith(f"the last finished epoch is saved in {runs['z2']}: "
                                              "continue it with the same command plus --resume")
    assert saved_state(tmp_path / "none") == f"no epoch had finished, so nothing was saved in {tmp_path / 'none'}"
    finished = tmp_path / "finished"
    shutil.copytree(runs["z2"], finished)
    (finished / RESUME).unlink()
    assert "holds the checkpoint it started from" in saved_state(finished)


def test_divergence_after_a_saved_epoch_keeps_that_epoch_whole(runs, tmp_path, capsys):
    out = tmp_path / "run"
    shutil.copytree(runs["z2"], out, symlinks=True)
    code, err = run(train_main, [*runs["argv"], "--lr", "1e6", "--grad-clip", "0", "--log-every", "1",
                                 "--out", str(out), "--resume"], capsys)
    assert code == 1, err
    line = error_line(err)
    assert line.startswith("error: training diverged:")
    assert f"the last finished epoch is saved in {out}: continue it with the same command plus --resume" in line
    assert set(checkpoint_epochs(out).values()) == {1}  # epoch 1, whole, as any reader sees it
    assert load_resume(out)["epoch"] == 1


def test_resume_refuses_a_folder_whose_saved_files_are_gone(runs, tmp_path, capsys):
    """Without its versions the folder's links lead nowhere: resuming must not start over in silence."""
    out = tmp_path / "run"
    shutil.copytree(runs["z2"], out, symlinks=True)
    target = os.readlink(out / "current")
    shutil.rmtree(out / "versions")
    code, err = run(train_main, [*runs["argv"], "--out", str(out), "--resume"], capsys)
    assert code == 2, err
    line = error_line(err)
    assert f"{out} holds a checkpoint whose saved files are missing ({out / 'current'} points at {target}" in line
    assert "pass --overwrite to start over" in line and "nothing was changed" in line
    with pytest.raises(CheckpointError, match=f"its link current points at {target}, which is missing"):
        load_model(out)
    code, err = run(train_main, [*runs["argv"], "--epochs", "1", "--out", str(out), "--overwrite"], capsys)
    assert code == 0, err
    assert set(checkpoint_epochs(out).values()) == {1}
