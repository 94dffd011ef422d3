"""Checkpoint folders: one atomic unit per epoch, deterministic bytes, no pickle, resume policy."""

from __future__ import annotations

import json
import os

import pytest
import torch
from support import checkpoint_epochs
from vaekit.train import VAEConfig, build_model, load_model, save_checkpoint, versions
from vaekit.train import checkpoint as ckpt_mod
from vaekit.train.checkpoint import STAGING_PREFIX, load_resume
from vaekit.train.config import DataConfig, TrainConfig
from vaekit.train.runfolder import RunFolderError, prepare_run

TINY = VAEConfig(dim=8, latent_dim=2)
DEAD_PID = 2**30  # above Linux's pid_max: no process has it


def _save_epoch(folder, epoch: int, *, lr: float = 1e-3, seed: int = 0):
    """What the loop writes after ``epoch`` (1-based): weights differ per epoch."""
    torch.manual_seed(seed * 100 + epoch)
    model = build_model(TINY)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    history = [{"epoch": e, "step": 4 * e, "valid_elbo_nats": -500.0 + e} for e in range(1, epoch + 1)]
    save_checkpoint(folder, model, data=DataConfig(data_root="data", val_size=64),
                    train=TrainConfig(out=str(folder), epochs=5, lr=lr),
                    metrics={"epochs": epoch, "steps": 4 * epoch, "history": history},
                    resume={"model": model.state_dict(), "optimizer": opt.state_dict(),
                            "epoch": epoch, "step": 4 * epoch, "rng": torch.get_rng_state(),
                            "history": history})
    return model


def test_identical_models_give_identical_files(tmp_path):
    for name in ("a", "b"):
        _save_epoch(tmp_path / name, 2)
    for file in ("model.safetensors", "config.json", "metrics.json", "metrics.csv", "resume.pt"):
        a, b = (tmp_path / n / file for n in ("a", "b"))
        assert a.read_bytes().replace(b"/a", b"/b") == b.read_bytes(), file
    raw = (tmp_path / "a" / "model.safetensors").read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + n])
    assert n % 8 == 0 and list(header) == sorted(header)
    assert list(header["__metadata__"]) == sorted(header["__metadata__"])


def test_weights_load_without_pickle_and_resume_state_with_weights_only(tmp_path):
    model = _save_epoch(tmp_path, 1)
    assert not (tmp_path / "model.safetensors").read_bytes().startswith(b"PK")  # not a torch zip
    loaded = load_model(tmp_path)
    for (k, a), b in zip(model.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(a, b), k
    state = load_resume(tmp_path)  # torch.load(weights_only=True) inside
    assert state["epoch"] == 1 and state["history"][0]["epoch"] == 1


@pytest.mark.parametrize("links", [True, False], ids=["versions", "plain-files"])
def test_a_kill_before_the_seal_leaves_the_previous_epoch_whole(links, tmp_path, monkeypatch):
    if not links:
        monkeypatch.setattr(ckpt_mod, "symlinks_work", lambda _: False)
    _save_epoch(tmp_path, 1)
    writer = versions if links else ckpt_mod
    real = writer.write_synced

    def dies_on_resume(path, data):
        if path.name == "resume.pt":
            raise KeyboardInterrupt  # the process stops while staging epoch 2
        real(path, data)

    monkeypatch.setattr(writer, "write_synced", dies_on_resume)
    with pytest.raises(KeyboardInterrupt):
        _save_epoch(tmp_path, 2)
    assert set(checkpoint_epochs(tmp_path).values()) == {1}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    if links:
        assert sorted(p.name for p in (tmp_path / "versions").iterdir()) == ["000001"]


def test_without_links_a_kill_while_switching_is_finished_by_the_next_reader(tmp_path, monkeypatch):
    """The plain-file scheme (no symbolic links): vaekit readers roll the sealed write forward."""
    monkeypatch.setattr(ckpt_mod, "symlinks_work", lambda _: False)
    _save_epoch(tmp_path, 1)
    real, moved = ckpt_mod._move_staged, []

    def dies_after_two(staging, folder, name):
        if len(moved) == 2:
            raise SystemExit("killed")  # two of epoch 2's files are in place, three are not
        moved.append(name)
        real(staging, folder, name)

    monkeypatch.setattr(ckpt_mod, "_move_staged", dies_after_two)
    with pytest.raises(SystemExit):
        _save_epoch(tmp_path, 2)
    monkeypatch.setattr(ckpt_mod, "_move_staged", real)
    assert len(set(checkpoint_epochs(tmp_path).values())) == 2  # what a reader without vaekit would see
    load_model(tmp_path)  # any vaekit reader first finishes the sealed write
    assert set(checkpoint_epochs(tmp_path).values()) == {2}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_the_next_run_removes_what_killed_writes_left(tmp_path):
    _save_epoch(tmp_path, 1)
    unsealed = tmp_path / f"{STAGING_PREFIX}{DEAD_PID}-x1"
    unsealed.mkdir()
    (unsealed / "model.safetensors").write_bytes(b"half")
    live = tmp_path / f"{STAGING_PREFIX}{os.getpid()}-x2"  # a writer still at work: kept
    live.mkdir()
    (tmp_path / ".resume.pt.k2j4h5x1.tmp").write_bytes(b"old atomic-write debris")
    half_version = tmp_path / "versions" / f"{STAGING_PREFIX}{DEAD_PID}-x3"  # a killed save's staging
    half_version.mkdir()
    os.symlink("versions/000001", tmp_path / f".current.tmp-{DEAD_PID}-x4")  # a killed switch's link
    (tmp_path / "notes.tmp").write_text("the user's")
    load_model(tmp_path)  # a reader removes nothing unsealed
    assert unsealed.is_dir()
    state = prepare_run(tmp_path, TINY, DataConfig(data_root="data", val_size=64),
                        TrainConfig(out=str(tmp_path), epochs=5, resume=True))
    assert state["epoch"] == 1
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == [live.name]
    assert sorted(p.name for p in (tmp_path / "versions").iterdir()) == ["000001"]
    assert (tmp_path / "notes.tmp").is_file()


def test_a_resumed_lr_applies_and_is_recorded_with_its_epoch(tmp_path, capsys):
    _save_epoch(tmp_path, 2, lr=1e-3)
    state = prepare_run(tmp_path, TINY, DataConfig(data_root="data", val_size=64),
                        TrainConfig(out=str(tmp_path), epochs=5, lr=5e-4, resume=True))
    assert "--resume: lr 0.001 -> 0.0005 applies from epoch 3" in capsys.readouterr().out
    assert {g["lr"] for g in state["optimizer"]["param_groups"]} == {5e-4}
    model = build_model(TINY)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    opt.load_state_dict(state["optimizer"])
    assert opt.param_groups[0]["lr"] == 5e-4  # what the loop's restore will train with
    _save_epoch(tmp_path, 3, lr=5e-4)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["changes"] == [{"from_epoch": 3, "key": "train.lr", "old": 1e-3, "new": 5e-4}]
    assert config["train"]["lr"] == 5e-4
    _save_epoch(tmp_path, 4, lr=5e-4)  # no new change: the record is kept as it was
    assert json.loads((tmp_path / "config.json").read_text())["changes"] == config["changes"]


def test_overwrite_replaces_the_previous_run(tmp_path, capsys):
    _save_epoch(tmp_path, 2)
    (tmp_path / "figures").mkdir()
    args = (TINY, DataConfig(data_root="data", val_size=64))
    with pytest.raises(RunFolderError, match="already holds a checkpoint"):
        prepare_run(tmp_path, *args, TrainConfig(out=str(tmp_path)))
    assert prepare_run(tmp_path, *args, TrainConfig(out=str(tmp_path), overwrite=True)) is None
    assert "--overwrite: removed the previous checkpoint" in capsys.readouterr().out
    assert [p.name for p in tmp_path.iterdir()] == ["figures"]  # not a checkpoint file: kept
