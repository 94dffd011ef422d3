"""Bad input to the train and evaluate CLIs and to config.json: one clear line, exit 2, no traceback.

Every case runs the CLI in-process (``main([...])``) and checks what a user reads: the line
names the problem (the option and its value) and the fix (what to pass instead).
"""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from support import (
    BAD_CHECKPOINTS,
    assert_clear,
    damaged_checkpoint,
    files_under,
    refusals,
    resumable_run,
)
from support import run_main as run
from vaekit.train.cli import main as train_main
from vaekit.train.config import (
    data_config_from_dict,
    model_config_from_dict,
    train_config_from_dict,
)
from vaekit.train.evaluate import main as evaluate_main

NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")


# ------------------------------------------------------------------ train: options out of range

TRAIN = [  # argv, words naming the problem, words naming the fix
    (["--epochs", "0"], "epochs must be >= 1, got 0", "--epochs 1"),
    (["--epochs", "-1"], "epochs must be >= 1, got -1", "--epochs 1"),
    (["--epochs", "abc"], "invalid int value: 'abc'", "--help"),
    (["--max-steps", "-1"], "max_steps must be >= 0, got -1", "--max-steps 0"),
    (["--val-size", "-5"], "val_size must be >= 1, got -5", "--val-size 1"),
    (["--val-size", "0"], "val_size must be >= 1, got 0", "--val-size 1"),
    (["--batch-size", "0"], "batch_size must be >= 1, got 0", "--batch-size 1"),
    (["--batch-size", "-8"], "batch_size must be >= 1, got -8", "--batch-size 1"),
    (["--eval-batch-size", "0"], "eval_batch_size must be >= 1", "--eval-batch-size 1"),
    (["--limit", "-1"], "limit must be >= 0, got -1", "0: all images"),
    (["--lr", "0"], "lr must be a finite number > 0, got 0.0", "--lr 1e-3"),
    (["--lr", "-0.001"], "lr must be a finite number > 0", "--lr 1e-3"),
    (["--lr", "nan"], "got nan", "--lr 1e-3"),
    (["--lr", "inf"], "got inf", "--lr 1e-3"),
    (["--weight-decay", "-0.1"], "weight_decay must be >= 0", "--weight-decay 0"),
    (["--grad-clip", "-1"], "grad_clip must be >= 0, got -1.0", "0: no clipping"),
    (["--grad-clip", "nan"], "grad_clip must be >= 0, got nan", "--grad-clip 0"),
    (["--kl-warmup-steps", "-5"], "kl_warmup_steps must be >= 0", "0: no warm-up"),
    (["--lr-warmup-steps", "-1"], "lr_warmup_steps must be >= 0", "0: no warm-up"),
    (["--lr-schedule", "step"], "invalid choice: 'step'", "cosine"),
    (["--final-lr-fraction", "1.5"], "final_lr_fraction must be in [0, 1], got 1.5",
     "--final-lr-fraction 0.01"),
    (["--final-lr-fraction", "nan"], "final_lr_fraction must be in [0, 1], got nan",
     "--final-lr-fraction 0.01"),
    (["--seed", "-1"], "seed must be >= 0, got -1", "--seed 0"),
    (["--seed", str(2**40)], "seed must be <= 4294967295", "--seed lower"),
    (["--log-every", "0"], "log_every must be >= 1", "--log-every 1"),
    (["--threads", "-2"], "--threads must be >= 0, got -2", "0: all cores"),
    (["--image-size", "32"], "--image-size 32 does not match mnist", "drop --image-size"),
    (["--in-channels", "3"], "--in-channels 3 does not match mnist", "--in-channels 1"),
    (["--dataset", "celeba", "--image-size", "28"], "does not match celeba", "--image-size 64"),
    (["--dataset", "cifar10"], "invalid choice: 'cifar10'", "choose from"),
    (["--crop-fraction", "0"], "crop_fraction must be in (0, 1], got 0.0", "--crop-fraction"),
    (["--crop-fraction", "1.5"], "crop_fraction must be in (0, 1], got 1.5", "e.g. 0.79"),
    (["--device", "gpu"], "device must be auto, cpu, cuda, cuda:N or mps, got 'gpu'", "--device cpu"),
    pytest.param(["--device", "cuda"], "asked for CUDA, but torch sees no GPU", "--device cpu",
                  marks=NO_CUDA),
    (["--device", "cuda:99"], "GPU", "--device"),
    (["--resume", "--overwrite"], "resume and overwrite exclude each other", "pass one of them"),
    (["--out", " "], "out is empty", "--out"),
    (["--model", "beta_vae", "--beta", "-4"], "beta must be > 0, got -4.0", "beta=1"),
    (["--model", "iwae", "--k", "0"], "k must be >= 1, got 0", "--k 1"),
    (["--dim-mults", "1", "2", "4"], "does not halve 3 times", "fewer stages"),
    (["--dim-mults", "0"], "dim_mults must be one or more whole numbers >= 1", "--dim-mults 1 2"),
    (["--groups", "0"], "groups must be >= 1, got 0", "--groups 1"),
    (["--latent-dim", "0"], "latent_dim must be >= 1, got 0", "--latent-dim 1"),
    (["--bottleneck-blocks", "-1"], "bottleneck_blocks must be >= 0", "--bottleneck-blocks 0"),
    (["--norm", "layer"], "invalid choice: 'layer'", "choose from"),
    (["--likelihood", "logistic_ar"], "needs in_channels >= 2, got 1", "--likelihood logistic"),
    (["--epochz", "3"], "unrecognized arguments: --epochz", "--help"),
]


@refusals(TRAIN)
def test_train_refuses_an_option_out_of_range_at_parse_time(argv, problem, fix, capsys, tmp_path):
    out = tmp_path / "run"
    code, err = run(train_main, [*argv, "--out", str(out)] if "--out" not in argv else argv, capsys)
    assert_clear(code, err, problem, fix)
    assert not out.exists(), "a refused command must not create its run folder"


# ------------------------------------------------------------------ train: the run folder

BASE = ["--dim", "8", "--latent-dim", "2", "--val-size", "64", "--epochs", "2", "--device", "cpu"]


@pytest.fixture(scope="module")
def resumable(tmp_path_factory):
    """A run folder after 1 epoch of ``BASE`` (model, configs, resume state), built without training."""
    return resumable_run(tmp_path_factory.mktemp("runs") / "run", BASE)


def _copy(src, tmp_path):
    dst = tmp_path / "run"
    shutil.copytree(src, dst)
    return dst


RESUME_REFUSED = [  # a key that cannot change mid-run: named with its saved and new value
    (["--seed", "3"], "--seed was 0, now 3", "--seed 0"),
    (["--batch-size", "64"], "--batch-size was 128, now 64", "--batch-size 128"),
    (["--limit", "100"], "--limit was 0, now 100", "--limit 0"),
    (["--val-size", "32"], "--val-size was 64, now 32", "--val-size 64"),
    (["--latent-dim", "3"], "--latent-dim was 2, now 3", "--latent-dim 2"),
    (["--dim", "16"], "--dim was 8, now 16", "another --out"),
    (["--model", "beta_vae"], "--model was 'vae', now 'beta_vae'", "--model vae"),
]


@refusals(RESUME_REFUSED, "extra,problem,fix")
def test_resume_refuses_a_changed_key_naming_it(extra, problem, fix, resumable, tmp_path, capsys):
    out = _copy(resumable, tmp_path)
    before = files_under(out)
    code, err = run(train_main, [*BASE, *extra, "--out", str(out), "--resume"], capsys)
    assert_clear(code, err, problem, fix, "cannot change mid-run")
    assert files_under(out) == before


FOLDER_CASES = {
    "existing-run": ([], lambda f: None, "already holds a checkpoint", "--overwrite"),
    "finished-run-without-resume-state": (
        ["--resume"], lambda f: (f / "resume.pt").unlink(), "without resume.pt", "--overwrite"),
    "shipped-like-folder-without-resume-state": (
        [], lambda f: (f / "resume.pt").unlink(), "already holds a checkpoint", "--resume"),
    "damaged-resume-state": (
        ["--resume"], lambda f: (f / "resume.pt").write_bytes(b"PK\x03\x04 garbage"),
        "resume.pt is damaged", "--overwrite"),
    "resume-state-of-another-tool": (
        ["--resume"], lambda f: torch.save({"weights": torch.zeros(2)}, f / "resume.pt"),
        "not a vaekit resume state", "--overwrite"),
}


@pytest.mark.parametrize("case", sorted(FOLDER_CASES))
def test_a_run_folder_is_never_overwritten_by_mistake(case, resumable, tmp_path, capsys):
    extra, damage, problem, fix = FOLDER_CASES[case]
    out = _copy(resumable, tmp_path)
    damage(out)
    before = files_under(out)
    code, err = run(train_main, [*BASE, *extra, "--out", str(out)], capsys)
    assert_clear(code, err, problem, fix)
    assert files_under(out) == before, "the folder was changed"


def test_out_naming_a_file_is_refused(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    code, err = run(train_main, [*BASE, "--out", str(tmp_path / "notes.txt")], capsys)
    assert_clear(code, err, "is a file, not a folder", "pass a folder path")
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_out_below_a_file_is_refused(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    code, err = run(train_main, [*BASE, "--out", str(tmp_path / "notes.txt" / "run")], capsys)
    assert_clear(code, err, "cannot create --out", "choose a folder")


# ------------------------------------------------------------------ evaluate


@refusals([
    (["--samples", "0"], "--samples must be >= 1, got 0", "--samples 1000"),
    (["--samples", "-3"], "--samples must be >= 1, got -3", "--samples 1000"),
    (["--limit", "-1"], "--limit must be >= 0, got -1", "0: every image"),
    (["--threads", "-1"], "--threads must be >= 0, got -1", "0: all cores"),
    (["--seed", "-1"], "--seed must be in 0..4294967295, got -1", "--seed"),
    (["--device", "gpu"], "--device must be auto, cpu, cuda, cuda:N or mps, got 'gpu'", "--device cpu"),
    (["--device", "cuda:99"], "GPU", "--device"),
    (["--split", "train"], "invalid choice: 'train'", "choose from"),
    (["--samples", "ten"], "invalid int value: 'ten'", "--help"),
])
def test_evaluate_refuses_an_option_out_of_range(argv, problem, fix, unexported_ckpt, capsys):
    code, err = run(evaluate_main, [str(unexported_ckpt), *argv], capsys)
    assert_clear(code, err, problem, fix)


def test_evaluate_checks_the_json_path_before_evaluating(unexported_ckpt, tmp_path, capsys):
    code, err = run(evaluate_main, [str(unexported_ckpt), "--json", str(tmp_path / "no" / "r.json")], capsys)
    assert_clear(code, err, "its folder", "does not exist", "nothing was evaluated")
    code, err = run(evaluate_main, [str(unexported_ckpt), "--json", str(tmp_path)], capsys)
    assert_clear(code, err, "is a folder", "pass a file path")


def test_evaluate_prints_the_result_before_a_failing_write(unexported_ckpt, tmp_path, capsys, monkeypatch):
    import vaekit.train.evaluate as evaluate

    def full_disk(path, text):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(evaluate, "atomic_write_text", full_disk)
    code = evaluate_main([str(unexported_ckpt), "--samples", "2", "--limit", "4", "--json",
                          str(tmp_path / "r.json")])
    out, err = capsys.readouterr()
    assert code == 1 and "Traceback" not in err
    assert "IS log-likelihood (K=2)" in out.strip().splitlines()[-1]
    assert "was not saved" in err and "No space left" in err


@pytest.mark.parametrize("kind", sorted(BAD_CHECKPOINTS))
def test_evaluate_reports_a_damaged_checkpoint(kind, unexported_ckpt, tmp_path, capsys):
    folder = damaged_checkpoint(tmp_path / "bad", unexported_ckpt, kind)
    code, err = run(evaluate_main, [str(folder), "--samples", "2"], capsys)
    assert_clear(code, err, BAD_CHECKPOINTS[kind][1], str(folder))


def test_evaluate_reports_a_missing_folder_and_a_file(tmp_path, capsys):
    code, err = run(evaluate_main, [str(tmp_path / "nothing")], capsys)
    assert_clear(code, err, "no checkpoint folder at", "python -m vaekit.train --out")
    (tmp_path / "f.txt").write_text("x")
    code, err = run(evaluate_main, [str(tmp_path / "f.txt")], capsys)
    assert_clear(code, err, "is a file, not a checkpoint folder", "pass the folder")


# ------------------------------------------------------------------ config.json values, read back

CONFIG_DICTS = [
    (train_config_from_dict, {"epochs": 0}, "epochs must be >= 1"),
    (train_config_from_dict, {"epochs": 2.5}, "TrainConfig.epochs must be a whole number, got 2.5"),
    (train_config_from_dict, {"epochs": True}, "TrainConfig.epochs must be a whole number, got True"),
    (train_config_from_dict, {"lr": "fast"}, "TrainConfig.lr must be a number, got 'fast'"),
    (train_config_from_dict, {"resume": "yes"}, "TrainConfig.resume must be true or false"),
    (train_config_from_dict, {"device": "tpu"}, "device must be auto, cpu, cuda, cuda:N or mps"),
    (train_config_from_dict, {"epoch": 3}, "unknown TrainConfig keys ['epoch']"),
    (train_config_from_dict, [3], "TrainConfig options must be a JSON object"),
    (data_config_from_dict, {"dataset": "cifar10"}, "unknown dataset 'cifar10'"),
    (data_config_from_dict, {"limit": -1}, "limit must be >= 0"),
    (data_config_from_dict, {"crop_fraction": None}, "DataConfig.crop_fraction must be a number"),
    (model_config_from_dict, {"latent_dim": "2"}, "VAEConfig.latent_dim must be a whole number"),
    (model_config_from_dict, {"dim_mults": [1, "2"]}, "dim_mults must be a list of whole numbers"),
    (model_config_from_dict, {"model_type": "gan"}, "unknown model_type 'gan'"),
]


@pytest.mark.parametrize("load,d,words", CONFIG_DICTS, ids=[f"{f.__name__}-{json.dumps(d)}" for f, d, _ in CONFIG_DICTS])
def test_config_json_values_are_checked_when_read_back(load, d, words):
    with pytest.raises(ValueError) as err:
        load(d)
    assert words in str(err.value)


# ------------------------------------------------------------------ train: failures mid-run


def test_a_full_disk_while_saving_is_one_line_and_leaves_no_debris(tiny_mnist_root, tmp_path,
                                                                   capsys, monkeypatch):
    import vaekit.train.versions as versions

    def full_disk(path, data):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(versions, "write_synced", full_disk)
    out = tmp_path / "run"
    code, err = run(train_main, [*BASE, "--data-root", str(tiny_mnist_root), "--max-steps", "1",
                                 "--threads", "1", "--out", str(out)], capsys)
    assert code == 1 and "Traceback" not in err, err
    (line,) = [line for line in err.splitlines() if "error" in line]  # the rest: the progress bar
    assert "No space left on device" in line and f"no epoch had finished, so nothing was saved in {out}" in line
    assert list(out.iterdir()) == []  # the staged files went with the failed write


def test_ctrl_c_during_training_is_one_line(tiny_mnist_root, tmp_path, capsys, monkeypatch):
    from vaekit.train.trainer import Trainer

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "run_epoch", interrupted)
    out = tmp_path / "run"
    code, err = run(train_main, [*BASE, "--data-root", str(tiny_mnist_root), "--threads", "1",
                                 "--out", str(out)], capsys)
    assert code == 130 and "Traceback" not in err
    assert err.strip().splitlines()[-1] == f"interrupted: no epoch had finished, so nothing was saved in {out}"


def test_train_init_from_a_missing_folder_is_one_line(tmp_path, capsys):
    code, err = run(train_main, ["--init-from", str(tmp_path / "nope"), "--out",
                                 str(tmp_path / "run"), "--device", "cpu"], capsys)
    assert_clear(code, err, "--init-from", "no checkpoint folder at", "pass an existing folder")
