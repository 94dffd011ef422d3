"""SIGKILL during a checkpoint write, then --resume: no mixed state, no debris, the same weights.

A training subprocess is stopped inside epoch 2's checkpoint write, at one of two points:
while staging its files (before the write is sealed) or while switching them into place
(after). Its process is then SIGKILLed, the folder is inspected the way a user's tools read it,
and the run is resumed; the result must equal an uninterrupted run bit for bit.
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
from vaekit.train import load_model
from vaekit.train.checkpoint import load_resume
from vaekit.train.cli import main, parse
from vaekit.train.loop import train

# Runs `python -m vaekit.train ARGV...` with a pause inside the second checkpoint write.
CHILD = r"""
import sys, time
import vaekit.train.checkpoint as c

stage, argv = sys.argv[1], sys.argv[2:]
writes = []

def pause():
    print("PAUSED", flush=True)
    time.sleep(600)

real_write, real_synced, real_move = c.write_checkpoint_files, c._write_synced, c._move_staged

def write_checkpoint_files(folder, files):
    writes.append(folder)
    real_write(folder, files)

def _write_synced(path, data):
    real_synced(path, data)
    if stage == "staging" and len(writes) == 2 and path.name == "metrics.json":
        pause()  # weights and config staged, the rest not: the write is not sealed

moved = []
def _move_staged(staging, folder, name):
    real_move(staging, folder, name)
    moved.append(name)
    if stage == "switch" and len(writes) == 2 and len(moved) == 7:
        pause()  # epoch 2: weights and config in place, metrics and resume state not yet

c.write_checkpoint_files, c._write_synced, c._move_staged = write_checkpoint_files, _write_synced, _move_staged
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
    return load_model(out).state_dict()


@pytest.mark.slow
@pytest.mark.parametrize("stage,expect", [("staging", {1}), ("switch", {2})])
def test_sigkill_during_a_checkpoint_write_then_resume(stage, expect, tiny_mnist_root, tmp_path,
                                                       uninterrupted, capsys):
    out = tmp_path / "run"
    argv = _argv(tiny_mnist_root, out)
    _kill_while_writing(stage, argv)

    hidden = [p.name for p in out.iterdir() if p.name.startswith(".")]
    assert hidden, "the kill was meant to leave a staging folder"
    if stage == "switch":  # files as they lie: epoch 2 weights beside epoch 1 resume state
        assert len(set(checkpoint_epochs(out).values())) == 2
    # what every vaekit reader sees: one epoch throughout
    assert load_resume(out)["epoch"] in expect
    assert set(checkpoint_epochs(out).values()) == expect

    torch.set_num_threads(1)
    assert main([*argv, "--resume"]) == 0
    assert f"resumed {out} at epoch {min(expect)}" in capsys.readouterr().out
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")], "debris left behind"
    assert set(checkpoint_epochs(out).values()) == {3}
    resumed = load_model(out).state_dict()
    for name, weights in uninterrupted.items():
        assert torch.equal(weights, resumed[name]), name
