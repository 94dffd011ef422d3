import json
import math
import platform
import subprocess
import sys

import pytest
import torch
from support import resume_matches_straight
from vaekit.train import VAEConfig, build_model, load_model
from vaekit.train.cli import parse
from vaekit.train.config import BetaVAEConfig, DataConfig, TrainConfig
from vaekit.train.data import load_split
from vaekit.train.evaluate import evaluate_elbo
from vaekit.train.loop import RunFolderError, train

TINY = VAEConfig(dim=8, latent_dim=2)


def _data(root):
    return DataConfig(dataset="mnist", data_root=str(root), val_size=64)


def test_thirty_steps_lower_the_loss(tiny_mnist_root, tmp_path):
    torch.set_num_threads(1)
    data = _data(tiny_mnist_root)
    test = load_split(data, "test")
    torch.manual_seed(0)
    before = evaluate_elbo(build_model(TINY), test)["elbo_nats"]
    cfg = TrainConfig(out=str(tmp_path / "run"), epochs=100, batch_size=32, max_steps=30, lr=3e-3)
    model, history = train(TINY, data, cfg, progress=False)
    after = evaluate_elbo(model, test)["elbo_nats"]
    assert history[-1]["step"] == 30
    assert after > before + 100  # nats per image: from ~543 (coin flips) to far better


def test_resume_matches_an_uninterrupted_run(tiny_mnist_root, tmp_path):
    torch.set_num_threads(1)
    data = _data(tiny_mnist_root)
    common = dict(batch_size=64, seed=3, lr=2e-3)
    hist_a, hist_b = resume_matches_straight(TINY, data, tmp_path, **common)
    assert [r["valid_elbo_nats"] for r in hist_a] == [r["valid_elbo_nats"] for r in hist_b]


def test_checkpoint_folder_rebuilds_the_model_alone(tiny_mnist_root, tmp_path):
    out = tmp_path / "run"
    model, _ = train(TINY, _data(tiny_mnist_root),
                     TrainConfig(out=str(out), epochs=1, max_steps=2), progress=False)
    assert {p.name for p in out.iterdir()} == {  # the files, and the one version behind them
        "config.json", "model.safetensors", "metrics.json", "metrics.csv", "resume.pt", "current",
        "versions"}
    loaded = load_model(out)
    z = torch.randn(4, 2)
    assert torch.equal(loaded.decoder_mean()(z), model.eval().decoder_mean()(z))


def test_existing_run_is_never_overwritten(tiny_mnist_root, tmp_path):
    cfg = TrainConfig(out=str(tmp_path / "run"), epochs=1, max_steps=1)
    train(TINY, _data(tiny_mnist_root), cfg, progress=False)
    with pytest.raises(RunFolderError, match="--resume"):
        train(TINY, _data(tiny_mnist_root), cfg, progress=False)


def test_resume_with_other_model_options_is_refused(tiny_mnist_root, tmp_path):
    out = str(tmp_path / "run")
    train(TINY, _data(tiny_mnist_root), TrainConfig(out=out, epochs=1, max_steps=1), progress=False)
    with pytest.raises(RunFolderError, match="differs"):
        train(VAEConfig(dim=8, latent_dim=3), _data(tiny_mnist_root),
              TrainConfig(out=out, epochs=2, resume=True), progress=False)


def test_cli_fills_model_options_from_the_dataset_preset_then_flags():
    model, data, train_cfg, _ = parse(["--dataset", "celeba", "--latent-dim", "32", "--epochs", "3"])
    assert (model.in_channels, model.image_size, model.likelihood) == (3, 64, "logistic")
    assert model.latent_dim == 32 and train_cfg.epochs == 3 and data.dataset == "celeba"
    model, *_ = parse(["--model", "beta_vae", "--beta", "2.5", "--dim-mults", "1", "2"])
    assert isinstance(model, BetaVAEConfig) and model.beta == 2.5 and model.dim_mults == (1, 2)


@pytest.mark.parametrize("argv", [["--dimm", "3"], ["--beta", "2"], ["--norm", "layer"]])
def test_cli_rejects_unknown_or_invalid_flags(argv, capsys):
    with pytest.raises(SystemExit) as err:
        parse(argv)
    assert err.value.code == 2


@pytest.mark.slow  # a fresh Python process imports torch
def test_cli_reports_a_missing_dataset_without_a_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "vaekit.train", "--data-root", str(tmp_path), "--out",
         str(tmp_path / "run"), "--epochs", "1"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "MNIST not found" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow  # a fresh Python process imports torch
def test_evaluate_cli_prints_elbo_and_importance_bound_last(tiny_mnist_root, tmp_path):
    out = tmp_path / "run"
    train(TINY, _data(tiny_mnist_root), TrainConfig(out=str(out), epochs=1, max_steps=3),
          progress=False)
    proc = subprocess.run(
        [sys.executable, "-m", "vaekit.train.evaluate", str(out), "--samples", "8", "--limit", "16",
         "--save"],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    last = proc.stdout.strip().splitlines()[-1]
    assert "16 images" in last and "ELBO" in last and "IS log-likelihood (K=8)" in last
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["test"]["images"] == 16 and saved["test"]["samples"] == 8
    assert saved["test"]["log_likelihood_nats"] >= saved["test"]["elbo_nats"] - 5  # same ballpark
    assert saved["history"]  # the training history is kept


def test_cosine_schedule_ends_the_run_at_the_final_lr(tiny_mnist_root, tmp_path):
    from vaekit.train.checkpoint import load_resume

    cfg = TrainConfig(out=str(tmp_path / "run"), epochs=1, batch_size=32, max_steps=8, lr=1e-3,
                      lr_schedule="cosine", final_lr_fraction=0.1)
    train(TINY, _data(tiny_mnist_root), cfg, progress=False)
    lr = load_resume(tmp_path / "run")["optimizer"]["param_groups"][0]["lr"]
    # the 8th and last step (step 7 of 8) ran at 0.1 + 0.9 * (1 + cos(7/8 pi)) / 2 of --lr
    assert lr == pytest.approx(1e-3 * (0.1 + 0.45 * (1 + math.cos(7 / 8 * math.pi))))


def test_init_from_starts_at_the_checkpoint_weights(tiny_mnist_root, tmp_path):
    data = _data(tiny_mnist_root)
    source, _ = train(TINY, data, TrainConfig(out=str(tmp_path / "a"), epochs=1, max_steps=20,
                                             lr=3e-3), progress=False)
    test = load_split(data, "test")
    trained = evaluate_elbo(source, test)["elbo_nats"]
    # a tiny lr: the fine-tuned run stays where the source was, far from a fresh model
    tuned, _ = train(TINY, data, TrainConfig(out=str(tmp_path / "b"), epochs=1, max_steps=1,
                                            lr=1e-9, init_from=str(tmp_path / "a")),
                     progress=False)
    assert evaluate_elbo(tuned, test)["elbo_nats"] == pytest.approx(trained, abs=0.5)
    assert json.loads((tmp_path / "b" / "config.json").read_text())["train"]["init_from"] == \
        str(tmp_path / "a")


def test_init_from_a_different_model_names_the_flags_to_match(tiny_mnist_root, tmp_path):
    data = _data(tiny_mnist_root)
    train(TINY, data, TrainConfig(out=str(tmp_path / "a"), epochs=1, max_steps=1), progress=False)
    with pytest.raises(RunFolderError, match="--latent-dim 2"):
        train(VAEConfig(dim=8, latent_dim=3), data,
              TrainConfig(out=str(tmp_path / "b"), epochs=1, init_from=str(tmp_path / "a")),
              progress=False)
    with pytest.raises(RunFolderError, match="no checkpoint folder"):
        train(TINY, data, TrainConfig(out=str(tmp_path / "c"), epochs=1,
                                      init_from=str(tmp_path / "missing")), progress=False)


def test_init_from_the_folder_being_overwritten_keeps_its_weights(tiny_mnist_root, tmp_path):
    # --overwrite empties --out before training: weights named by --init-from there are read first
    data = _data(tiny_mnist_root)
    run = str(tmp_path / "run")
    source, _ = train(TINY, data, TrainConfig(out=run, epochs=1, max_steps=20, lr=3e-3),
                      progress=False)
    test = load_split(data, "test")
    trained = evaluate_elbo(source, test)["elbo_nats"]
    tuned, _ = train(TINY, data, TrainConfig(out=run, epochs=1, max_steps=1, lr=1e-9,
                                            init_from=run, overwrite=True), progress=False)
    assert evaluate_elbo(tuned, test)["elbo_nats"] == pytest.approx(trained, abs=0.5)


def test_resuming_a_fine_tune_does_not_need_its_init_folder_any_more(tiny_mnist_root, tmp_path):
    import shutil

    data = _data(tiny_mnist_root)
    src, run = str(tmp_path / "src"), str(tmp_path / "run")
    train(TINY, data, TrainConfig(out=src, epochs=1, max_steps=2), progress=False)
    common = dict(out=run, batch_size=64, init_from=src)
    train(TINY, data, TrainConfig(epochs=1, **common), progress=False)
    shutil.rmtree(src)
    _, history = train(TINY, data, TrainConfig(epochs=2, resume=True, **common), progress=False)
    assert [r["epoch"] for r in history] == [1, 2]


@pytest.mark.skipif(not sys.platform.startswith("linux") or not platform.libc_ver()[0] == "glibc",
                    reason="the malloc tuning applies to glibc Linux only")
def test_cpu_evaluation_keeps_freed_activation_memory_for_reuse():
    # K=1000 on CPU spent half its wall time zeroing fresh mmap pages (2.1 -> 1.1 s per
    # MNIST image on 2 cores once glibc keeps freed blocks); the CLI applies it on CPU
    from vaekit.train.evaluate import keep_freed_memory_for_reuse

    assert keep_freed_memory_for_reuse() is True
