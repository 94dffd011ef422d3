"""Upper bounds on the options that cost time or memory: refused up front, one line naming
the limit, before any data is read or anything is allocated."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import assert_clear, refusals
from support import run_main as run
from vaekit.train import limits
from vaekit.train.cli import main as train_main
from vaekit.train.cli import parse
from vaekit.train.evaluate import main as evaluate_main

FREE = 8 * 2**30  # every memory case sees 8 GB free, whatever this machine has


@pytest.fixture(autouse=True)
def eight_gigabytes(monkeypatch):
    monkeypatch.setattr(limits, "free_memory", lambda device: FREE)


def too_many_threads() -> str:
    return str(limits.usable_cpus() + 1)


@refusals([
    (["--model", "iwae", "--k", "100000"],
     "--batch-size 128 x --k 100000 = 12,800,000 images at once need at least",
     "more than the 8.0 GB free on cpu: lower --k or --batch-size (at most about"),
    (["--batch-size", "100000000"], "--batch-size 100000000 = 100,000,000 images at once",
     "lower --batch-size"),
    (["--eval-batch-size", "900000000"], "--eval-batch-size 900000000 = 900,000,000 images",
     "lower --eval-batch-size"),
    (["--model", "vamp", "--components", "100000000"],
     "--batch-size 128 + --components 100000000 = 100,000,128 images", "lower --components or --batch-size"),
])
def test_train_refuses_a_step_bigger_than_the_free_memory(argv, problem, fix, tmp_path, capsys):
    out = tmp_path / "run"
    code, err = run(train_main, [*argv, "--device", "cpu", "--out", str(out)], capsys)
    assert_clear(code, err, problem, fix)
    assert not out.exists(), "refused before the run folder is made"


def test_train_refuses_more_threads_than_usable_cpus(tmp_path, capsys):
    cpus = limits.usable_cpus()
    code, err = run(train_main, ["--threads", too_many_threads(), "--out", str(tmp_path / "run")], capsys)
    assert_clear(code, err, f"--threads {cpus + 1} is more than the {cpus} CPUs this process may use",
                 f"pass --threads {cpus} or fewer")


def test_the_usual_runs_fit_the_bound(tmp_path):
    """The bound is a lower one: the shipped recipes (IWAE k=5, celeba at batch 128) pass."""
    parse(["--model", "iwae", "--k", "5", "--device", "cpu", "--out", str(tmp_path / "a")])
    parse(["--dataset", "celeba", "--batch-size", "128", "--device", "cpu", "--out", str(tmp_path / "b")])
    parse(["--threads", str(limits.usable_cpus()), "--device", "cpu", "--out", str(tmp_path / "c")])


@refusals([
    (["--samples", "1000000000"], "--samples must be at most 100000, got 1000000000",
     "the usual figure is --samples 1000"),
    (["--json", ""], "--json '' is empty", "leave --json out"),
    (["--decode-budget", "10000000"], "--decode-budget 10000000 = 10,000,000 images at once need",
     "lower --decode-budget"),
])
def test_evaluate_refuses_before_any_work(argv, problem, fix, unexported_ckpt, capsys):
    code, err = run(evaluate_main, [str(unexported_ckpt), *argv], capsys)
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert problem in err and fix in err, err


def test_evaluate_refuses_more_threads_than_usable_cpus(unexported_ckpt, capsys):
    code, err = run(evaluate_main, [str(unexported_ckpt), "--threads", too_many_threads()], capsys)
    assert_clear(code, err, "is more than the", "CPUs this process may use", "or fewer")


def test_inference_costs_less_per_image_than_a_training_step():
    from vaekit.train.config import VAEConfig

    model = VAEConfig(dim=16, dim_mults=(1, 2), blocks_per_stage=2)
    assert limits.image_activation_bytes(model, training=False) < limits.image_activation_bytes(model)
    assert limits.images_per_step(model, 64) == 64


@pytest.mark.skipif(not Path("/sys").is_dir(), reason="needs /sys (Linux): refuses new files even for root")
def test_evaluate_json_into_a_read_only_folder_is_refused_before_evaluating(unexported_ckpt, capsys):
    code, err = run(evaluate_main, [str(unexported_ckpt), "--json", "/sys/vaekit-result.json"], capsys)
    assert_clear(code, err, "--json /sys/vaekit-result.json: its folder /sys ", "nothing was evaluated")
    assert "refuses new files" in err or "is not writable" in err  # root / any other user
