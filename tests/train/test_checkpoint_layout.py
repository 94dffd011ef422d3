"""The versioned checkpoint layout, as readers that are not vaekit see it.

Every save is a complete ``versions/NNNNNN/`` folder switched in by one rename of the
``current`` link; ``CKPT/model.safetensors`` and the other names are links through
``current/``. At every point of a save (and of adopting a folder of plain files), and after
a write stopped at any of them, ``safetensors.safe_open(CKPT/model.safetensors)``,
``CKPT/metrics.json``, ``CKPT/metrics.csv`` and ``CKPT/resume.pt`` belong to one epoch.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import torch
from support import checkpoint_epochs
from vaekit.train import VAEConfig, build_model, load_model, save_checkpoint, versions
from vaekit.train import checkpoint as ckpt_mod
from vaekit.train.checkpoint import clean_stale_files, load_resume
from vaekit.train.config import DataConfig, TrainConfig
from vaekit.train.runfolder import prepare_run

pytestmark = pytest.mark.slow  # saves and kills checkpoints at every switch point

TINY = VAEConfig(dim=8, latent_dim=2)
FILES = ("model.safetensors", "config.json", "metrics.json", "metrics.csv", "resume.pt")
#: every point of a save into a folder that already has the layout
SAVE_POINTS = ("staged", "sealed", "switched", "tidied")
#: the points of adopting a folder of plain files, before that save's own points
ADOPT_POINTS = ("adopted", "adopt-switched", *(f"adopt-linked {n}" for n in FILES))


def save_epoch(folder: Path, epoch: int) -> None:
    """What the training loop writes after ``epoch``: weights and state differ per epoch."""
    torch.manual_seed(epoch)
    model = build_model(TINY)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    history = [{"epoch": e, "step": 4 * e, "valid_elbo_nats": -500.0 + e} for e in range(1, epoch + 1)]
    save_checkpoint(folder, model, data=DataConfig(data_root="data", val_size=64),
                    train=TrainConfig(out=str(folder), epochs=5),
                    metrics={"epochs": epoch, "steps": 4 * epoch, "history": history},
                    resume={"model": model.state_dict(), "optimizer": opt.state_dict(),
                            "epoch": epoch, "step": 4 * epoch, "rng": torch.get_rng_state(),
                            "history": history})


def one_epoch(folder: Path) -> int:
    """The epoch an outside reader sees in ``folder``; fails when the files disagree."""
    seen = checkpoint_epochs(folder)
    assert len(set(seen.values())) == 1, f"mixed epochs on disk: {seen}"
    return seen["model.safetensors"]


def plain_folder(folder: Path, epoch: int, monkeypatch) -> Path:
    """A folder of plain files, as an older vaekit (or one without symbolic links) wrote it."""
    with monkeypatch.context() as m:
        m.setattr(ckpt_mod, "symlinks_work", lambda _: False)
        save_epoch(folder, epoch)
    assert not any((folder / n).is_symlink() for n in FILES)
    return folder


def hidden(folder: Path) -> list[str]:
    spots = [folder, folder / versions.VERSIONS]
    return sorted(str(p.relative_to(folder)) for d in spots if d.is_dir()
                  for p in d.iterdir() if p.name.startswith("."))


def test_a_first_save_shows_nothing_until_its_switch(tmp_path, monkeypatch):
    folder = tmp_path / "ckpt"
    seen: list[tuple[str, int | None]] = []

    def look(point, f):
        present = [n for n in FILES if (f / n).is_file()]
        assert present in ([], list(FILES)), f"part of a save is visible at {point}: {present}"
        seen.append((point, one_epoch(f) if present else None))

    monkeypatch.setattr(versions, "reached", look)
    save_epoch(folder, 1)
    links = [f"linked {n}" for n in FILES]
    assert seen == [("staged", None), ("sealed", None), *((p, None) for p in links),
                    ("switched", 1), ("tidied", 1)]


def test_a_folder_named_current_that_vaekit_did_not_write_is_refused(tmp_path, monkeypatch):
    folder = plain_folder(tmp_path / "old", 1, monkeypatch)
    (folder / "current").mkdir()
    (folder / "current" / "photo.jpg").write_bytes(b"the user's")
    with pytest.raises(FileExistsError, match="a folder that vaekit did not write.*move it elsewhere"):
        save_epoch(folder, 2)
    assert (folder / "current" / "photo.jpg").read_bytes() == b"the user's"
    assert one_epoch(folder) == 1


def test_each_save_is_a_version_behind_stable_links(tmp_path):
    (tmp_path / "onnx").mkdir()
    (tmp_path / "onnx" / "vaekit.json").write_text("{}")
    (tmp_path / "notes.txt").write_text("the user's")
    for epoch in (1, 2, 3):
        save_epoch(tmp_path, epoch)
        assert one_epoch(tmp_path) == epoch
    assert os.readlink(tmp_path / "current") == os.path.join("versions", "000003")
    for name in FILES:
        assert os.readlink(tmp_path / name) == os.path.join("current", name), name
    # the save before stays for readers that resolved `current` a moment ago; older ones go
    assert sorted(p.name for p in (tmp_path / "versions").iterdir()) == ["000002", "000003"]
    assert (tmp_path / "onnx" / "vaekit.json").read_text() == "{}"
    assert (tmp_path / "notes.txt").read_text() == "the user's"
    assert hidden(tmp_path) == []
    assert load_resume(tmp_path)["epoch"] == 3 and load_model(tmp_path) is not None


@pytest.mark.parametrize("start", ["versions", "plain"])
def test_an_outside_reader_sees_one_epoch_at_every_point_of_a_save(start, tmp_path, monkeypatch):
    folder = tmp_path / "ckpt"
    if start == "plain":
        plain_folder(folder, 1, monkeypatch)
    else:
        save_epoch(folder, 1)
    seen: list[tuple[str, int]] = []
    monkeypatch.setattr(versions, "reached", lambda point, f: seen.append((point, one_epoch(f))))
    save_epoch(folder, 2)
    points = [p for p, _ in seen]
    expected_adoption = list(ADOPT_POINTS) if start == "plain" else []
    assert points == [*expected_adoption, *SAVE_POINTS]
    # epoch 1 until the one rename of `current`, epoch 2 from it on
    assert [e for _, e in seen] == [1] * (len(points) - 2) + [2, 2]
    assert one_epoch(folder) == 2 and hidden(folder) == []


class Killed(BaseException):
    """Stands for the process dying at a point of the write."""


@pytest.mark.parametrize("start,point", [("versions", p) for p in SAVE_POINTS]
                         + [("plain", p) for p in ADOPT_POINTS])
def test_a_save_stopped_at_any_point_leaves_one_epoch_and_the_next_save_goes_on(
        start, point, tmp_path, monkeypatch):
    folder = tmp_path / "ckpt"
    if start == "plain":
        plain_folder(folder, 1, monkeypatch)
    else:
        save_epoch(folder, 1)

    def stop(at, _):
        if at == point:
            raise Killed(at)

    with monkeypatch.context() as m:
        m.setattr(versions, "reached", stop)
        with pytest.raises(Killed):
            save_epoch(folder, 2)
    assert one_epoch(folder) == (2 if point in ("switched", "tidied") else 1)
    assert load_resume(folder)["epoch"] == one_epoch(folder)
    clean_stale_files(folder)  # what the next training run does first
    save_epoch(folder, 3)
    assert one_epoch(folder) == 3 and hidden(folder) == []
    assert len(list((folder / "versions").iterdir())) == 2


def test_the_layout_survives_copies(tmp_path):
    source = tmp_path / "source"
    for epoch in (1, 2):
        save_epoch(source, epoch)
    (source / "onnx").mkdir()
    copies = {"cp-r": tmp_path / "cp-r", "cp-a": tmp_path / "cp-a", "copytree": tmp_path / "copytree"}
    subprocess.run(["cp", "-r", str(source), str(copies["cp-r"])], check=True)
    subprocess.run(["cp", "-a", str(source), str(copies["cp-a"])], check=True)
    shutil.copytree(source, copies["copytree"])  # follows the links: plain files
    copies["cp-L"] = tmp_path / "cp-L"  # the files alone, as docs/training.md ships a run in git
    subprocess.run(f"mkdir {copies['cp-L']} && cp -L {source}/*.json {source}/*.csv "
                   f"{source}/*.safetensors {source}/*.pt {copies['cp-L']}/", shell=True, check=True)
    assert sorted(p.name for p in copies["cp-L"].iterdir()) == sorted(FILES)
    assert not any(p.is_symlink() for p in copies["cp-L"].iterdir())
    shutil.rmtree(source)  # the copies stand alone
    for how, copy in copies.items():
        assert one_epoch(copy) == 2, how
        assert load_resume(copy)["epoch"] == 2 and load_model(copy) is not None
        save_epoch(copy, 3)  # a run resumed in the copy
        assert one_epoch(copy) == 3 and hidden(copy) == [], how
        assert (copy / "current").is_symlink(), how


def test_a_folder_of_plain_files_is_read_in_place_and_adopted_by_the_next_save(tmp_path, monkeypatch):
    folder = plain_folder(tmp_path / "old", 1, monkeypatch)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    load_model(folder)
    load_resume(folder)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # reading changes nothing
    save_epoch(folder, 2)
    assert one_epoch(folder) == 2
    assert all((folder / n).is_symlink() for n in FILES)
    adopted = folder / "versions" / "000001"
    assert {n: (adopted / n).read_bytes() for n in FILES} == {n: before[n] for n in FILES}


def test_an_interrupted_sealed_write_of_the_plain_scheme_is_finished_then_adopted(tmp_path, monkeypatch):
    folder = plain_folder(tmp_path / "old", 1, monkeypatch)
    real, moved = ckpt_mod._move_staged, []

    def dies_after_two(staging, target, name):
        if len(moved) == 2:
            raise Killed("mid-switch")
        moved.append(name)
        real(staging, target, name)

    with monkeypatch.context() as m:
        m.setattr(ckpt_mod, "symlinks_work", lambda _: False)
        m.setattr(ckpt_mod, "_move_staged", dies_after_two)
        with pytest.raises(Killed):
            save_epoch(folder, 2)
    save_epoch(folder, 3)  # rolls epoch 2 forward, adopts it, then writes epoch 3
    assert one_epoch(folder) == 3 and hidden(folder) == []


def test_overwrite_removes_every_version(tmp_path, capsys):
    for epoch in (1, 2):
        save_epoch(tmp_path, epoch)
    (tmp_path / "onnx").mkdir()
    prepare_run(tmp_path, TINY, DataConfig(data_root="data", val_size=64),
                TrainConfig(out=str(tmp_path), overwrite=True))
    assert "--overwrite: removed the previous checkpoint" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["onnx"]


def test_without_symbolic_links_the_folder_holds_plain_files(tmp_path, monkeypatch):
    monkeypatch.setattr(ckpt_mod, "symlinks_work", lambda _: False)
    for epoch in (1, 2):
        save_epoch(tmp_path, epoch)
    assert one_epoch(tmp_path) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(FILES)
    assert not any(p.is_symlink() for p in tmp_path.iterdir())


def test_a_shipped_checkpoint_loads_as_plain_files_and_stays_unchanged():
    folder = Path(__file__).resolve().parents[2] / "checkpoints" / "mnist-z2"
    if not (folder / "model.safetensors").is_file():
        pytest.skip("no shipped checkpoints/mnist-z2 in this checkout")
    before = {p.name: (p.stat().st_mtime_ns, p.is_symlink()) for p in folder.iterdir()}
    load_model(folder)
    load_resume(folder)
    assert not (folder / "current").exists() and not (folder / "versions").exists()
    assert {p.name: (p.stat().st_mtime_ns, p.is_symlink()) for p in folder.iterdir()} == before
