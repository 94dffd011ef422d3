"""Bad input to ``python -m vaekit.export``: one clear line, exit 2, no traceback, nothing written.

Also: Ctrl-C leaves the previous export untouched, and what killed exports left beside the
folder is cleaned by the next one.
"""

from __future__ import annotations

import hashlib
import os
import shutil

import pytest
from support import BAD_CHECKPOINTS, assert_clear, damaged_checkpoint, refusals, run_main
from vaekit.export import pipeline
from vaekit.export.__main__ import main
from vaekit.export.stale import clean_stale

DEAD_PID = 2**30  # above Linux's pid_max: no process has it


def run(argv, capsys) -> tuple[int, str]:
    return run_main(main, argv, capsys)


OPTIONS = [
    (["--examples", "-1"], "--examples must be >= 0, got -1", "0: no examples.npz"),
    (["--examples", "many"], "invalid int value: 'many'", "--help"),
    (["--fp17"], "unrecognized arguments: --fp17", "--help"),
]


@refusals(OPTIONS)
def test_export_refuses_a_bad_option(argv, problem, fix, unexported_ckpt, capsys):
    code, err = run([str(unexported_ckpt), *argv], capsys)
    assert_clear(code, err, problem, fix)
    assert not (unexported_ckpt / "onnx").exists()


@pytest.mark.parametrize("kind", sorted(BAD_CHECKPOINTS))
def test_export_reports_a_damaged_checkpoint_and_writes_nothing(kind, unexported_ckpt, tmp_path, capsys):
    folder = damaged_checkpoint(tmp_path / "bad", unexported_ckpt, kind)
    code, err = run([str(folder), "--quiet"], capsys)
    assert_clear(code, err, BAD_CHECKPOINTS[kind][1], str(folder))
    assert not (folder / "onnx").exists()
    assert not [p for p in folder.iterdir() if p.name.startswith(".onnx")]


def test_export_reports_bad_folders(unexported_ckpt, tmp_path, capsys):
    code, err = run([str(tmp_path / "nothing")], capsys)
    assert_clear(code, err, "no checkpoint folder at", "python -m vaekit.train --out")
    (tmp_path / "f.txt").write_text("x")
    code, err = run([str(tmp_path / "f.txt")], capsys)
    assert_clear(code, err, "is a file, not a checkpoint folder", "pass the folder")
    code, err = run([str(unexported_ckpt), "--out", str(tmp_path / "f.txt")], capsys)
    assert_clear(code, err, "is a file", "pass a folder path")
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "cat.jpg").write_bytes(b"\xff\xd8")
    code, err = run([str(unexported_ckpt), "--out", str(tmp_path / "photos")], capsys)
    assert_clear(code, err, "is not a vaekit export folder", "choose another --out")
    assert [p.name for p in (tmp_path / "photos").iterdir()] == ["cat.jpg"]


def _snapshot(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_ctrl_c_prints_one_line_and_leaves_the_previous_export(tiny_ckpt, tmp_path, capsys,
                                                                monkeypatch):
    folder = tmp_path / "ckpt"
    shutil.copytree(tiny_ckpt, folder)
    before = _snapshot(folder / "onnx")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "onnx_parity", interrupted)  # Ctrl-C while checking parity
    code = main([str(folder), "--quiet"])
    err = capsys.readouterr().err
    assert code == 130 and "Traceback" not in err
    assert err.strip() == f"interrupted: nothing was written; {folder / 'onnx'} is as it was"
    assert _snapshot(folder / "onnx") == before
    assert not [p.name for p in folder.iterdir() if p.name.startswith(".")]


def test_the_next_export_cleans_what_killed_exports_left(tmp_path):
    ckpt = tmp_path / "ckpt"
    (ckpt / "onnx").mkdir(parents=True)
    (ckpt / "onnx" / "vaekit.json").write_text("{}")
    legacy = ckpt / ".onnx.tmp-k2j4h5x1"  # an older vaekit's name (no process id)
    dead = ckpt / f".onnx.tmp-{DEAD_PID}-abcd"
    running = ckpt / f".onnx.tmp-{os.getpid()}-efgh"  # a live writer's folder stays
    for f in (legacy, dead, running):
        (f / "sub").mkdir(parents=True)
        (f / "sub" / "encoder.onnx").write_bytes(b"x" * 1000)
    (ckpt / "notes.onnx.tmp-1").mkdir()  # not ours: other name
    assert sorted(clean_stale(ckpt / "onnx")) == sorted([legacy.name, dead.name])
    assert sorted(p.name for p in ckpt.iterdir()) == sorted(["onnx", running.name, "notes.onnx.tmp-1"])


def test_a_previous_export_parked_by_a_killed_swap_is_put_back(tmp_path):
    ckpt = tmp_path / "ckpt"
    parked = ckpt / f".onnx.old-{DEAD_PID}-abcd" / "onnx"
    parked.mkdir(parents=True)
    (parked / "vaekit.json").write_text('{"previous": true}')
    clean_stale(ckpt / "onnx")
    assert (ckpt / "onnx" / "vaekit.json").read_text() == '{"previous": true}'
    assert [p.name for p in ckpt.iterdir()] == ["onnx"]


def test_a_live_exports_folder_is_kept_when_the_export_name_holds_dashes(tmp_path):
    out = tmp_path / "mnist-z2"  # `--out mnist-z2`: the name itself holds a dash
    running = tmp_path / f".mnist-z2.tmp-{os.getpid()}-efgh"
    dead = tmp_path / f".mnist-z2.tmp-{DEAD_PID}-abcd"
    running.mkdir()
    dead.mkdir()
    assert clean_stale(out) == [dead.name]
    assert running.is_dir()
