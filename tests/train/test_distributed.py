"""Data-parallel training: ``torchrun --nproc-per-node 2`` with gloo on the CPU."""

import json
import os
import subprocess
import sys

import pytest
import torch
from vaekit.train import load_model


def _torchrun(out, root, *extra):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           "--nproc-per-node", "2", "-m", "vaekit.train", "--dataset", "mnist", "--data-root",
           str(root), "--val-size", "64", "--dim", "8", "--latent-dim", "2", "--batch-size", "64",
           "--epochs", "2", "--device", "cpu", "--threads", "1", "--out", str(out), *extra]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)


@pytest.mark.slow
def test_two_gloo_processes_train_resume_and_write_one_checkpoint(tiny_mnist_root, tmp_path):
    out = tmp_path / "ddp"
    first = _torchrun(out, tiny_mnist_root, "--max-steps", "4")  # 4 of 8 steps: stops in epoch 1
    assert first.returncode == 0, first.stderr[-3000:]
    assert first.stdout.count("epoch 1: valid ELBO") == 1  # rank 0 alone reports and saves
    resumed = _torchrun(out, tiny_mnist_root, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resumed" in resumed.stdout and "x 2 processes (gloo)" in resumed.stdout
    assert {p.name for p in out.iterdir()} >= {
        "config.json", "model.safetensors", "metrics.json", "metrics.csv", "resume.pt"}
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    metrics = json.loads((out / "metrics.json").read_text())
    assert [r["epoch"] for r in metrics["history"]] == [1, 2]
    # 320 images - 64 held out = 256 per epoch: 4 global batches of 64 (32 per rank)
    assert [r["step"] for r in metrics["history"]] == [4, 8]
    assert "x 2 (gloo)" in metrics["device"]
    assert first.stdout.count("checkpoint:") == 1  # one closing line, from rank 0
    model = load_model(out)  # the unwrapped module: no "module." prefixes from DDP
    assert torch.isfinite(model.decoder_mean()(torch.zeros(1, 2))).all()
    assert metrics["history"][-1]["valid_elbo_nats"] > metrics["history"][0]["valid_elbo_nats"] - 5
