"""The CelebA frame cache goes to the user's cache folder, never into the data folder
unless asked (``VAEKIT_CACHE``); a cache an older vaekit left beside the images is still read."""

from __future__ import annotations

import numpy as np
import pytest
from support import write_fake_celeba
from vaekit.train.config import DataConfig
from vaekit.train.data import cache_folder, load_split


@pytest.fixture
def faces(tmp_path):
    """A data root with 4 CelebA-layout training faces."""
    return write_fake_celeba(tmp_path / "data", splits=(4,))


def files_under(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_the_cache_goes_to_the_user_cache_folder_not_the_data(faces, tmp_path, monkeypatch):
    monkeypatch.delenv("VAEKIT_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    data_before = files_under(faces)
    first = load_split(DataConfig(dataset="celeba", data_root=str(faces)), "train")
    assert files_under(faces) == data_before, "nothing is written into the data folder"
    assert cache_folder() == tmp_path / "xdg" / "vaekit"
    (cached,) = (tmp_path / "xdg" / "vaekit").glob("celeba-v*.npy")
    assert np.array_equal(np.load(cached), first.images.numpy())


def test_vaekit_cache_names_the_folder_when_asked(faces, tmp_path, monkeypatch):
    monkeypatch.setenv("VAEKIT_CACHE", str(faces / "celeba" / ".vaekit-cache"))
    load_split(DataConfig(dataset="celeba", data_root=str(faces)), "train")
    assert list((faces / "celeba" / ".vaekit-cache").glob("celeba-v*.npy")), "asked: beside the data"


def test_an_old_cache_beside_the_images_is_still_read(faces, tmp_path, monkeypatch):
    monkeypatch.delenv("VAEKIT_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    cfg = DataConfig(dataset="celeba", data_root=str(faces))
    fresh = load_split(cfg, "train")
    (cached,) = (tmp_path / "xdg" / "vaekit").glob("celeba-v*.npy")
    old = faces / "celeba" / ".vaekit-cache"
    old.mkdir()
    marked = np.full_like(fresh.images.numpy(), 7)
    np.save(old / cached.name, marked)
    cached.unlink()
    assert np.array_equal(load_split(cfg, "train").images.numpy(), marked), "the old layout is used"
    assert not list((tmp_path / "xdg" / "vaekit").glob("celeba-v*.npy")), "and not copied"


def test_an_unwritable_cache_folder_costs_only_the_cache(faces, tmp_path, monkeypatch, capsys):
    (tmp_path / "a-file").write_text("x")
    monkeypatch.setenv("VAEKIT_CACHE", str(tmp_path / "a-file" / "cache"))
    split = load_split(DataConfig(dataset="celeba", data_root=str(faces)), "train")
    assert split.images.shape == (4, 3, 64, 64)
    out = capsys.readouterr().out
    assert "the CelebA frames were not cached in" in out and "set VAEKIT_CACHE to a writable folder" in out
