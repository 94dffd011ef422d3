"""python -m vaekit.train.fit_prior: a fit on a checkpoint's training posteriors, saved without
pickle, the same bytes for the same command, and bad input refused in one line."""

import json

import numpy as np
import pytest
from support import assert_clear, refusals, run_main
from vaekit.format import WEIGHTS
from vaekit.train.fit_prior import encode_split, main
from vaekit.train.prior_file import load_fitted_prior, prior_path


def test_a_tiny_fit_records_what_it_was_fitted_on(unexported_ckpt, capsys):
    code = main([str(unexported_ckpt), "--sampler", "gmm", "--components", "3", "--seed", "1", "--quiet"])
    out = capsys.readouterr().out
    assert code == 0 and "gmm (3 x full) fitted on" in out and "python -m vaekit.export" in out
    fitted = load_fitted_prior(unexported_ckpt, "gmm", latent_dim=2)
    r = fitted.record
    assert r["options"]["components"] == 3 and r["seed"] == 1 and r["covariance"] == "full"
    on = r["fitted_on"]
    assert on["split"] == "train" and on["count"] == on["split_size"] > 0
    from vaekit.format import sha256_file

    assert on["checkpoint_sha256"] == sha256_file(unexported_ckpt / WEIGHTS)
    # the state is a mixture of the training means: its weighted mean is theirs
    means, _ = encode_split(unexported_ckpt, "train")
    centre = (fitted.state.weights[:, None] * fitted.state.means).sum(0)
    np.testing.assert_allclose(centre, means.mean(0), atol=1e-3)
    # no pickle: a plain safetensors file whose metadata holds the record as JSON
    from safetensors import safe_open

    with safe_open(prior_path(unexported_ckpt, "gmm"), "numpy") as f:
        assert set(f.keys()) == {"weights", "means", "scale_tril"}
        assert json.loads(f.metadata()["vaekit_prior"])["sampler"] == "gmm"


def test_the_same_command_writes_the_same_bytes(unexported_ckpt, capsys):
    def argv(seed):
        return [str(unexported_ckpt), "--sampler", "gmm", "--components", "2", "--seed", seed, "--count", "200",
                "--quiet"]

    assert main(argv("5")) == 0
    first = prior_path(unexported_ckpt, "gmm").read_bytes()
    assert main(argv("5")) == 0
    assert prior_path(unexported_ckpt, "gmm").read_bytes() == first
    assert main(argv("6")) == 0  # another seed: another subset and start
    assert prior_path(unexported_ckpt, "gmm").read_bytes() != first
    assert load_fitted_prior(unexported_ckpt, "gmm").record["fitted_on"]["count"] == 200


BAD = [
    (["--sampler", "flow"], "invalid choice: 'flow'", "--help"),
    (["--sampler", "gaussian", "--components", "3"], "--sampler gaussian takes no --components", "drop it"),
    (["--components", "0"], "--components must be a whole number in [1, 256], got 0", ""),
    (["--seed", "-1"], "--seed must be a whole number in [0, 4294967295], got -1", ""),
    (["--count", "-5"], "--count must be a whole number >= 0", "0: every training image"),
    (["--threads", "-1"], "--threads must be >= 0", ""),
]


@refusals(BAD)
def test_bad_options_are_refused_in_one_line(unexported_ckpt, capsys, argv, problem, fix):
    code, err = run_main(main, [str(unexported_ckpt), *argv, "--quiet"], capsys)
    assert_clear(code, err, problem, fix)


def test_a_missing_checkpoint_is_refused_in_one_line(tmp_path, capsys):
    code, err = run_main(main, [str(tmp_path / "nope"), "--quiet"], capsys)
    assert_clear(code, err, "nope")


def test_a_fit_of_older_weights_is_refused_with_the_command_that_refits(unexported_ckpt, tmp_path):
    import shutil

    ckpt = tmp_path / "ckpt"
    shutil.copytree(unexported_ckpt, ckpt)
    assert main([str(ckpt), "--sampler", "gaussian", "--quiet"]) == 0
    data = bytearray((ckpt / WEIGHTS).read_bytes())
    data[-1] ^= 1  # "retrained": other weights
    (ckpt / WEIGHTS).write_bytes(bytes(data))
    with pytest.raises(ValueError, match="fitted to other weights.*fit_prior .* --sampler gaussian"):
        load_fitted_prior(ckpt, "gaussian")


def test_training_can_end_with_a_fit(tiny_mnist_root, tmp_path, capsys):
    from vaekit.train.cli import main as train_main

    out = tmp_path / "run"
    code = train_main(["--dim", "8", "--latent-dim", "2", "--val-size", "64", "--epochs", "1", "--device", "cpu",
                       "--data-root", str(tiny_mnist_root), "--max-steps", "1", "--threads", "1",
                       "--out", str(out), "--fit-prior", "gaussian", "gmm"])
    assert code == 0, capsys.readouterr().err
    for name in ("gaussian", "gmm"):
        record = load_fitted_prior(out, name, latent_dim=2).record
        assert record["seed"] == 0 and record["fitted_on"]["split"] == "train"
    # the same as the separate step with its defaults: the same bytes
    before = prior_path(out, "gmm").read_bytes()
    assert main([str(out), "--sampler", "gmm", "--quiet"]) == 0
    assert prior_path(out, "gmm").read_bytes() == before
