"""SIGKILL during a checkpoint write, then --resume: one epoch on disk, no debris, the same bytes.

A training subprocess is stopped inside epoch 2's checkpoint write, at one of its points:
while staging the version's files, once the version folder is complete, right after the one rename that switches ``current`` to it, while adopting a folder
of plain files that an earlier save wrote without links, and (on a file system without
links) while renaming sealed files into place. Its process is then SIGKILLed, the folder is
read the way a user's tools read it (``safetensors.safe_open``, ``json``, ``torch.load``), and
the run is resumed; the final ``model.safetensors`` must equal an uninterrupted run's byte for
byte.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from support import checkpoint_epochs
from vaekit.format import WEIGHTS
from vaekit.train import load_model
from vaekit.train.checkpoint import load_resume
from vaekit.train.cli import main, parse
from vaekit.train.loop import train

# Runs `python -m vaekit.train ARGV...` with a pause at POINT of the second checkpoint write.
CHILD = r"""
import sys, time
import vaekit.train.checkpoint as c
import vaekit.train.versions as v

point, argv = sys.argv[1], sys.argv[2:]
done = []  # finished saves

def pause():
    print("PAUSED", flush=True)
    time.sleep(600)

real_links, real_synced, real_move, real_write = (c.symlinks_work, v.write_synced, c._move_staged,
                                                  c.write_checkpoint_files)

def write_checkpoint_files(folder, files):
    real_write(folder, files)
    done.append(folder)

def symlinks_work(folder):  # "sealed-switch": no links at all; "adopt...": none for epoch 1
    if point == "sealed-switch" or (point.startswith("adopt") and not done):
        return False
    return real_links(folder)

def reached(at, folder):
    if len(done) == 1 and at == point:
        pause()

def write_synced(path, data):
    real_synced(path, data)
    if point == "staging" and len(done) == 1 and path.name == "metrics.json":
        pause()  # weights and config staged, the rest not

moved = []
def _move_staged(staging, folder, name):
    real_move(staging, folder, name)
    moved.append(name)
    if point == "sealed-switch" and len(done) == 1 and len(moved) == 7:
        pause()  # epoch 2: weights and config in place, metrics and resume state not yet

c.write_checkpoint_files, c.symlinks_work, c._move_staged = write_checkpoint_files, symlinks_work, _move_staged
v.reached, v.write_synced = reached, write_synced
from vaekit.train.cli import main
sys.exit(main(argv))
"""


def _argv(root, out):
    return ["--dataset", "mnist", "--data-root", str(root), "--val-size", "64", "--dim", "8",
            "--latent-dim", "2", "--batch-size", "64", "--epochs", "3", "--seed", "1",
            "--device", "cpu", "--threads", "1", "--out", str(out)]


def _kill_while_writing(stage: str, argv: list[str]) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    child = subprocess.Popen([sys.executable, "-c", CHILD, stage, *argv], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        deadline = time.monotonic() + 300
        for line in child.stdout:
            if line.strip() == "PAUSED":
                break
            assert time.monotonic() < deadline, "the child never reached epoch 2's write"
        else:
            pytest.fail(f"the child ended (exit {child.wait()}) before pausing in epoch 2's write")
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait()  # reaped: its pid is gone, as after a real crash
        child.stdout.close()


@pytest.fixture(scope="module")
def uninterrupted(tiny_mnist_root, tmp_path_factory):
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("kill") / "straight"
    model_cfg, data_cfg, train_cfg, _ = parse(_argv(tiny_mnist_root, out))
    train(model_cfg, data_cfg, train_cfg, progress=False)
    return (out / WEIGHTS).read_bytes()


#: where epoch 2's write is killed -> the epoch every reader sees afterwards
POINTS = {
    "staging": 1,           # the version's weights and config staged, the rest not
    "sealed": 1,            # versions/000002 complete, `current` still on 000001
    "switched": 2,          # `current` renamed onto 000002, the old version not yet removed
    "adopt-switched": 1,    # a plain-file folder: its files made a version, `current` on it
    "adopt-linked metrics.json": 1,  # ... and some of its plain files swapped for links
    "sealed-switch": 2,     # no links: weights and config renamed in, a vaekit reader rolls forward
}


@pytest.mark.slow
@pytest.mark.parametrize("point", list(POINTS))
def test_sigkill_during_a_checkpoint_write_then_resume(point, tiny_mnist_root, tmp_path,
                                                       uninterrupted, capsys):
    out = tmp_path / "run"
    argv = _argv(tiny_mnist_root, out)
    _kill_while_writing(point, argv)
    expect = POINTS[point]

    if point == "sealed-switch":  # plain files as they lie: epoch 2 weights beside epoch 1 state
        assert len(set(checkpoint_epochs(out).values())) == 2
        assert load_resume(out)["epoch"] == expect  # a vaekit reader finishes the write first
    # what a reader that is not vaekit sees: one epoch, in every file
    assert set(checkpoint_epochs(out).values()) == {expect}
    assert load_resume(out)["epoch"] == expect

    torch.set_num_threads(1)
    assert main([*argv, "--resume"]) == 0
    assert f"resumed {out} at epoch {expect}" in capsys.readouterr().out
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")], "debris left behind"
    assert len(list((out / "versions").iterdir())) == 2, "only the last two saves are kept"
    assert set(checkpoint_epochs(out).values()) == {3}
    assert (out / WEIGHTS).read_bytes() == uninterrupted
    load_model(out)
