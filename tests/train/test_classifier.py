"""The feature classifiers: a few training steps, saved and loaded without pickle, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from support import assert_clear, run_main
from vaekit.format import CONFIG, WEIGHTS
from vaekit.train.classifier import (
    ClassifierError,
    ClassifierTraining,
    celeba_split_names,
    feature_batches,
    load_classifier,
    main,
    save_classifier,
    train_classifier,
)
from vaekit.train.config import DataConfig

STEPS = ClassifierTraining(epochs=1, batch_size=32, max_steps=6, seed=3)


@pytest.fixture(scope="module")
def trained(tiny_mnist_root):
    return train_classifier(DataConfig(dataset="mnist", data_root=str(tiny_mnist_root)), STEPS)


def test_a_trained_classifier_saves_and_loads_with_the_same_features(trained, tmp_path):
    folder = save_classifier(tmp_path / "clf", trained)
    assert sorted(p.name for p in folder.iterdir()) == sorted([CONFIG, WEIGHTS])
    assert (folder / WEIGHTS).stat().st_size < 2_000_000
    loaded = load_classifier(folder)
    x = torch.rand(5, 1, 28, 28)
    assert torch.equal(feature_batches(loaded.model, x), feature_batches(trained.model, x))
    assert feature_batches(loaded.model, x).shape == (5, loaded.model.config.feature_dim)
    saved = json.loads((folder / CONFIG).read_text())
    assert 0 <= saved["metrics"]["test_accuracy"] <= 1 and saved["metrics"]["test_images"] == 64
    assert saved["metrics"]["steps"] == 6 and saved["training"]["seed"] == 3


def test_the_same_seed_gives_the_same_weight_bytes(trained, tiny_mnist_root, tmp_path):
    again = train_classifier(DataConfig(dataset="mnist", data_root=str(tiny_mnist_root)), STEPS)
    a = save_classifier(tmp_path / "a", trained) / WEIGHTS
    b = save_classifier(tmp_path / "b", again) / WEIGHTS
    assert a.read_bytes() == b.read_bytes()


def test_a_replaced_weights_file_or_a_missing_folder_is_refused(trained, tmp_path):
    folder = save_classifier(tmp_path / "clf", trained)
    (folder / WEIGHTS).write_bytes((folder / WEIGHTS).read_bytes()[:-4] + b"\0\0\0\0")
    with pytest.raises(ClassifierError, match="sha256 differs"):
        load_classifier(folder)
    with pytest.raises(ClassifierError, match="python -m vaekit.train.classifier"):
        load_classifier(tmp_path / "nowhere")


def write_fake_celeba(root: Path, attributes: np.ndarray, partition: list[int]) -> Path:
    """``root/celeba`` with one 20x24 JPEG per row of ``attributes`` (+1/-1, [N, 40]); image
    ``i``'s brightness is ``20 * i`` so the loaded order can be checked."""
    from PIL import Image

    folder = root / "celeba" / "img_align_celeba"
    folder.mkdir(parents=True)
    names = [f"{i + 1:06d}.jpg" for i in range(len(attributes))]
    for i, name in enumerate(names):
        Image.new("RGB", (20, 24), (20 * i,) * 3).save(folder / name, quality=95)
    (root / "celeba" / "list_eval_partition.txt").write_text(
        "".join(f"{n} {s}\n" for n, s in zip(names, partition)))
    header = " ".join(f"attr{j}" for j in range(attributes.shape[1]))
    rows = "".join(f"{n} " + " ".join(f"{v:2d}" for v in row) + "\n" for n, row in zip(names, attributes))
    (root / "celeba" / "list_attr_celeba.txt").write_text(f"{len(names)}\n{header}\n{rows}")
    return root


def test_celeba_attributes_follow_the_loaders_image_order(tmp_path):
    from vaekit.train.classifier import TASKS
    from vaekit.train.data import load_split

    attributes = np.where(np.random.default_rng(0).random((8, 40)) > 0.5, 1, -1)
    partition = [0, 2, 0, 0, 2, 1, 0, 2]
    root = write_fake_celeba(tmp_path, attributes, partition)
    cfg = DataConfig(dataset="celeba", data_root=str(root))
    test = load_split(cfg, "test")
    assert celeba_split_names(cfg, "test") == ["000002.jpg", "000005.jpg", "000008.jpg"]
    targets = TASKS["celeba"].targets(cfg, "test", test)
    assert targets.tolist() == (attributes[[1, 4, 7]] > 0).astype(np.float32).tolist()
    # the images are in the same order: brightness 20 * index
    assert [int(round(float(im.float().mean()) / 20)) for im in test.images] == [1, 4, 7]


def test_the_command_refuses_a_bad_option_in_one_line(capsys, tiny_mnist_root, tmp_path):
    code, err = run_main(main, ["--dataset", "mnist", "--out", str(tmp_path / "c"), "--epochs", "0",
                                "--data-root", str(tiny_mnist_root)], capsys)
    assert_clear(code, err, "epochs must be >= 1", "--epochs")
    assert not (tmp_path / "c").exists()


def test_the_celeba_classifier_learns_all_40_attributes_and_reports_each(tmp_path):
    attributes = np.where(np.random.default_rng(1).random((8, 40)) > 0.5, 1, -1)
    root = write_fake_celeba(tmp_path, attributes, [0, 2, 0, 0, 2, 1, 0, 2])
    trained = train_classifier(DataConfig(dataset="celeba", data_root=str(root)),
                               ClassifierTraining(epochs=1, batch_size=2, max_steps=1, limit=3))
    m = trained.metrics
    assert (m["train_images"], m["test_images"], len(m["attribute_accuracy"])) == (3, 3, 40)
    assert m["test_accuracy"] == pytest.approx(np.mean(m["attribute_accuracy"]), abs=1e-3)
    assert trained.label_names == tuple(f"attr{j}" for j in range(40))
    assert feature_batches(trained.model, torch.rand(2, 3, 64, 64)).shape == (2, 64)
