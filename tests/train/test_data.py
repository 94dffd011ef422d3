import numpy as np
import pytest
import torch
from PIL import Image
from vaekit.train.config import DataConfig
from vaekit.train.data import DatasetNotFoundError, batches, celeba_frame, load_split


def test_mnist_splits_from_idx_files(tiny_mnist_root):
    cfg = DataConfig(dataset="mnist", data_root=str(tiny_mnist_root), val_size=64)
    train, valid, test = (load_split(cfg, s) for s in ("train", "valid", "test"))
    assert (len(train), len(valid), len(test)) == (256, 64, 64)
    assert train.images.dtype == torch.uint8 and train.images.shape[1:] == (1, 28, 28)
    assert train.classes[3] == "3"
    # the hold-out is seeded: the same images every time, and disjoint from training
    again = load_split(cfg, "valid")
    assert torch.equal(again.images, valid.images)
    flat = {bytes(im.numpy()) for im in train.images}
    assert not any(bytes(im.numpy()) in flat for im in valid.images)


def test_limit_keeps_the_first_training_images(tiny_mnist_root):
    cfg = DataConfig(dataset="mnist", data_root=str(tiny_mnist_root), val_size=64, limit=10)
    assert len(load_split(cfg, "train")) == 10


def test_batches_cover_every_image_once_in_unit_range(tiny_mnist_root):
    data = load_split(DataConfig(dataset="mnist", data_root=str(tiny_mnist_root)), "test")
    seen = 0
    for x, y in batches(data, 10, shuffle=True, generator=torch.Generator().manual_seed(0)):
        assert x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1
        seen += len(y)
    assert seen == len(data)


@pytest.mark.parametrize("dataset,expected", [("mnist", "MNIST/raw/train-images-idx3-ubyte"),
                                              ("fashion-mnist", "FashionMNIST/raw"),
                                              ("celeba", "celeba/list_eval_partition.txt")])
def test_missing_dataset_names_the_files_and_both_ways_to_get_them(tmp_path, dataset, expected):
    with pytest.raises(DatasetNotFoundError) as err:
        load_split(DataConfig(dataset=dataset, data_root=str(tmp_path)), "train")
    msg = str(err.value)
    assert expected in msg and "--download" in msg and "--data-root" in msg


def _face(width: int, height: int) -> Image.Image:
    """A synthetic 'face': a centred disc on a gradient, drawn at any resolution."""
    yy, xx = np.mgrid[0:height, 0:width] / np.array([height, width]).reshape(2, 1, 1)
    disc = ((xx - 0.5) ** 2 + (yy - 0.5) ** 2 < 0.08).astype(float)
    rgb = np.stack([xx, yy, disc], -1) * 255
    return Image.fromarray(rgb.astype(np.uint8))


def test_celeba_loader_reads_the_official_layout_and_skips_absent_rows(tmp_path):
    folder = tmp_path / "celeba" / "img_align_celeba"
    folder.mkdir(parents=True)
    rows = []
    for i in range(1, 9):
        name = f"{i:06d}.jpg"
        rows.append(f"{name} {0 if i <= 4 else 2}")
        if i not in (3, 7):  # rows whose image is absent are skipped
            _face(89, 109).save(folder / name, quality=95)
    (tmp_path / "celeba" / "list_eval_partition.txt").write_text("\n".join(rows) + "\n")
    cfg = DataConfig(dataset="celeba", data_root=str(tmp_path))
    train, test = load_split(cfg, "train"), load_split(cfg, "test")
    assert train.images.shape == (3, 3, 64, 64) and len(test) == 3
    assert train.images.dtype == torch.uint8


def test_celeba_crop_is_a_fraction_of_the_width_so_both_resolutions_frame_alike():
    full = np.asarray(celeba_frame(_face(178, 218), 140 / 178, 64), dtype=float)
    half = np.asarray(celeba_frame(_face(89, 109), 140 / 178, 64), dtype=float)
    assert full.shape == half.shape == (64, 64, 3)
    assert np.abs(full - half).mean() < 6  # same framing, up to resampling


@pytest.mark.realdata
def test_real_mnist_and_celeba_subset(shared_data):
    cfg = DataConfig(dataset="mnist", data_root=str(shared_data))
    assert [len(load_split(cfg, s)) for s in ("train", "valid", "test")] == [55000, 5000, 10000]
    if (shared_data / "celeba" / "list_eval_partition.txt").is_file():
        celeba = load_split(DataConfig(dataset="celeba", data_root=str(shared_data)), "test")
        assert celeba.images.shape == (660, 3, 64, 64)
