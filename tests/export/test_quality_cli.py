"""python -m vaekit.export.quality end to end on the tiny exported checkpoint, its rows, its refusals."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from support import assert_clear, refusals, run_main
from vaekit.export.quality import QUALITY_FILE, main, plan
from vaekit.format import CONFIG
from vaekit.train.classifier import (
    ClassifierConfig,
    ClassifierTraining,
    FeatureClassifier,
    TrainedClassifier,
    save_classifier,
    train_classifier,
)
from vaekit.train.config import DataConfig


def data_root_of(ckpt: Path) -> str:
    return json.loads((ckpt / CONFIG).read_text())["data"]["data_root"]


@pytest.fixture(scope="module")
def classifiers(tiny_ckpt, tmp_path_factory) -> Path:
    """``classifiers/mnist``: a classifier trained a few steps on the tiny checkpoint's data."""
    root = tmp_path_factory.mktemp("classifiers")
    data = DataConfig(dataset="mnist", data_root=data_root_of(tiny_ckpt))
    save_classifier(root / "mnist", train_classifier(data, ClassifierTraining(epochs=1, max_steps=2)))
    return root


def run(tiny_ckpt, classifiers, tmp_path, capsys, *extra: str) -> tuple[int, dict, str]:
    out = tmp_path / "q.json"
    code = main([str(tiny_ckpt), "--classifiers", str(classifiers), "--count", "24", "--out", str(out),
                 *extra])
    printed = capsys.readouterr().out
    return code, (json.loads(out.read_text()) if out.is_file() else {}), printed


def test_the_command_writes_every_row_and_prints_the_table(tiny_ckpt, classifiers, tmp_path, capsys):
    code, result, printed = run(tiny_ckpt, classifiers, tmp_path, capsys)
    assert code == 0
    names = [r["row"] for r in result["rows"]]
    assert names == ["test vs test", "reconstructions", "normal T=1", "normal T=0.8"]
    for row in result["rows"]:
        assert row["count"] == 24 and row["fd"] >= 0
        assert 0 <= row["precision"] <= 1 and 0 <= row["recall"] <= 1
        assert f"| {result['model']} | {row['row']} | 24 | {row['fd']:.3f} |" in printed
    assert result["count"] == 24 and result["k"] == 3 and result["priors"] == ["normal"]
    assert result["classifier"]["test_accuracy"] is not None
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically


def test_the_same_seed_gives_the_same_table_and_another_seed_another(tiny_ckpt, classifiers, tmp_path, capsys):
    strip = lambda res: [{k: v for k, v in r.items() if k != "seconds"} for r in res["rows"]]  # noqa: E731
    first = strip(run(tiny_ckpt, classifiers, tmp_path, capsys)[1])
    assert strip(run(tiny_ckpt, classifiers, tmp_path, capsys)[1]) == first
    assert strip(run(tiny_ckpt, classifiers, tmp_path, capsys, "--seed", "1")[1]) != first


def test_without_out_the_json_goes_beside_the_checkpoint(tiny_ckpt, classifiers, tmp_path, capsys):
    import shutil

    ckpt = shutil.copytree(tiny_ckpt, tmp_path / "copy")
    assert main([str(ckpt), "--classifiers", str(classifiers), "--count", "8", "--temperatures", "1"]) == 0
    rows = json.loads((ckpt / QUALITY_FILE).read_text())["rows"]
    assert [r["row"] for r in rows] == ["test vs test", "reconstructions", "normal T=1"]


def test_every_prior_the_runtime_offers_gets_a_row_per_temperature():
    offered = SimpleNamespace(priors=("normal", "gaussian", "mixture"))
    assert [r.name for r in plan(offered, (1.0, 0.8))] == [
        "test vs test", "reconstructions", "normal T=1", "normal T=0.8",
        "gaussian T=1", "gaussian T=0.8", "mixture T=1", "mixture T=0.8"]
    # a runtime without vae.priors: the learned mixture an export ships (a VampPrior)
    legacy = SimpleNamespace(prior=SimpleNamespace(kind="mixture"))
    assert [r.name for r in plan(legacy, (1.0,))][2:] == ["normal T=1", "vamp T=1"]


BAD_OPTIONS = [
    (["--count", "41"], "--count 41 does not fit", "between 4 and 40"),
    (["--count", "2"], "--count must be in 4..", "omit it"),
    (["--temperatures", "0"], "--temperatures must each be in (0, 10]", "1.0 samples the prior"),
    (["--k", "0"], "--k must be in 1..100", "usual value is 3"),
]


@refusals(BAD_OPTIONS)
def test_bad_options_are_refused_in_one_line(tiny_ckpt, classifiers, tmp_path, capsys, argv, problem, fix):
    code, err = run_main(main, [str(tiny_ckpt), "--classifiers", str(classifiers),
                                "--out", str(tmp_path / "q.json"), *argv], capsys)
    assert_clear(code, err, problem, fix)
    assert not (tmp_path / "q.json").exists()


def test_a_missing_classifier_names_the_command_that_trains_it(tiny_ckpt, tmp_path, capsys):
    code, err = run_main(main, [str(tiny_ckpt), "--classifiers", str(tmp_path)], capsys)
    assert_clear(code, err, f"no feature classifier at {tmp_path / 'mnist'}",
                 f"python -m vaekit.train.classifier --dataset mnist --out {tmp_path / 'mnist'}")


def test_a_classifier_of_another_image_shape_is_refused(tiny_ckpt, tmp_path, capsys):
    wrong = FeatureClassifier(ClassifierConfig(in_channels=3, image_size=32))
    save_classifier(tmp_path / "c", TrainedClassifier(wrong, DataConfig(dataset="mnist"),
                                                      ClassifierTraining(), ()))
    code, err = run_main(main, [str(tiny_ckpt), "--classifier", str(tmp_path / "c")], capsys)
    assert_clear(code, err, "takes 3x32x32 images, the model makes 1x28x28",
                 "--dataset mnist --out checkpoints/classifiers/mnist")


def test_a_checkpoint_without_graphs_names_the_export_command(unexported_ckpt, classifiers, capsys):
    code, err = run_main(main, [str(unexported_ckpt), "--classifiers", str(classifiers)], capsys)
    assert_clear(code, err, "python -m vaekit.export")


class WithPriors:
    """A runtime VAE that offers a second prior by name, as ``vae.priors`` / ``sample(prior=)`` do."""

    def __init__(self, vae):
        self.vae, self.priors, self.calls = vae, ("normal", "shifted"), []

    def __getattr__(self, name):
        return getattr(self.vae, name)

    def sample(self, n, *, seed=None, temperature=1.0, labels=None, prior=None):
        import numpy as np

        self.calls.append((prior, temperature))
        z = np.random.default_rng(seed).standard_normal((n, self.vae.latent_dim), dtype=np.float32)
        return self.vae.decode(z * temperature + 3.0, labels=labels)


def test_a_prior_the_runtime_names_is_sampled_by_name_at_each_temperature(tiny_ckpt, classifiers):
    from vaekit.export.quality import Settings, load_subject, measure

    subject = load_subject(tiny_ckpt, classifier=None, classifiers=classifiers, data_root=None, threads=1)
    subject.vae = WithPriors(subject.vae)
    result = measure(subject, Settings(count=12, temperatures=(1.0, 0.5)))
    rows = {r["row"]: r for r in result["rows"]}
    assert list(rows)[-2:] == ["shifted T=1", "shifted T=0.5"] and result["priors"] == ["normal", "shifted"]
    assert set(subject.vae.calls) == {("shifted", 1.0), ("shifted", 0.5)}  # N(0, I) is drawn here
    assert rows["shifted T=1"]["fd"] != rows["normal T=1"]["fd"]
