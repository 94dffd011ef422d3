"""Where an export writes: options that need ``--triton`` are refused without it, every
destination is checked before any work, and a Triton repository is written in full before
it replaces anything."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support import assert_clear, refusals, run_main
from vaekit.export import triton
from vaekit.export.__main__ import main
from vaekit.export.destinations import destination_problem

#: a folder nobody may create files in, root included (sysfs); Linux only
READ_ONLY = Path("/sys")
needs_read_only = pytest.mark.skipif(
    not READ_ONLY.is_dir() or destination_problem(READ_ONLY) == "",
    reason="needs a folder that refuses new files even for root (/sys on Linux)")


def run(argv, capsys) -> tuple[int, str]:
    return run_main(main, argv, capsys)


def fingerprint(folder: Path) -> dict[str, tuple[int, int]]:
    """name -> (size, mtime_ns) of every file under ``folder``."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


@refusals([
    (["--triton-max-batch", "8"], "--triton-max-batch only shape the Triton repository",
     "add --triton REPO, or drop it"),
    (["--triton-gpu"], "--triton-gpu only shape the Triton repository", "add --triton REPO"),
    (["--triton-precision", "fp16"], "--triton-precision only shape the Triton repository",
     "add --triton REPO"),
    (["--triton-gpu", "--triton-max-batch", "8"], "--triton-max-batch --triton-gpu only shape",
     "or drop them"),
    (["--triton", ""], "--triton '' is empty", "pass a folder you can write to"),
    (["--out", ""], "--out '' is empty", "default: CHECKPOINT/onnx"),
    (["--triton", "REPO", "--triton-precision", "fp16"], "--triton-precision fp16 serves the fp16 graphs",
     "add --fp16"),
    (["--triton", "REPO", "--triton-precision", "int8", "--fp16"], "--triton-precision int8",
     "add --int8"),
])
def test_an_option_without_the_one_it_needs_is_refused(argv, problem, fix, unexported_ckpt, tmp_path, capsys):
    argv = [str(tmp_path / "repo") if a == "REPO" else a for a in argv]
    code, err = run([str(unexported_ckpt), *argv], capsys)
    assert_clear(code, err, problem, fix)
    assert not (unexported_ckpt / "onnx").exists(), "refused before any export"
    assert not (tmp_path / "repo").exists()


def test_triton_under_a_file_is_refused_up_front(unexported_ckpt, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("x")
    code, err = run([str(unexported_ckpt), "--triton", str(tmp_path / "notes.txt" / "repo")], capsys)
    assert_clear(code, err, "notes.txt, which is a file, not a folder", "nothing was written")
    assert not (unexported_ckpt / "onnx").exists()


@needs_read_only
def test_triton_into_a_read_only_folder_fails_before_the_export_is_replaced(tiny_ckpt, capsys):
    """The previous export stays byte for byte and file for file: nothing was swapped in."""
    before = fingerprint(tiny_ckpt / "onnx")
    code, err = run([str(tiny_ckpt), "--triton", str(READ_ONLY / "vaekit-repo")], capsys)
    assert_clear(code, err, f"--triton '{READ_ONLY / 'vaekit-repo'}' cannot be written: its parent "
                 f"{READ_ONLY} refuses new files", "pass a folder you can write to")
    assert fingerprint(tiny_ckpt / "onnx") == before


@needs_read_only
def test_out_under_a_read_only_parent_is_one_line(unexported_ckpt, capsys):
    out = READ_ONLY / "vaekit-export" / "onnx"
    code, err = run([str(unexported_ckpt), "--out", str(out), "--quiet"], capsys)
    assert_clear(code, err, f"--out '{out}' cannot be written: its parent {READ_ONLY} refuses new files")


def test_a_triton_write_that_fails_midway_replaces_nothing(tiny_ckpt, tmp_path, monkeypatch):
    """Both model folders are written in full before either replaces the old one; a failure
    leaves the old repository as it was, without staging debris."""
    repo = tmp_path / "repo"
    triton.write_triton_repo(tiny_ckpt / "onnx", repo, name="m")
    before = fingerprint(repo)
    writes = []
    real = triton.atomic_write_text

    def fail_on_the_decoder(path, text):
        writes.append(path)
        if "decoder" in text.splitlines()[0]:
            raise OSError(28, "No space left on device")
        return real(path, text)

    monkeypatch.setattr(triton, "atomic_write_text", fail_on_the_decoder)
    with pytest.raises(OSError, match="No space left"):
        triton.write_triton_repo(tiny_ckpt / "onnx", repo, name="m",
                                 config=triton.TritonConfig(max_batch_size=8))
    assert len(writes) == 2, "the encoder's config was written (staged) before the decoder failed"
    assert fingerprint(repo) == before, "the encoder's old folder was not replaced"
    assert sorted(os.listdir(repo)) == ["m_decoder", "m_encoder"], "no staging folder is left"


def test_destination_problems_name_the_cause(tmp_path):
    (tmp_path / "f").write_text("x")
    assert destination_problem(tmp_path / "new" / "deeper") == ""
    assert destination_problem(tmp_path / "f") == "is a file, not a folder"
    assert destination_problem(tmp_path / "f" / "x") == f"lies under {tmp_path / 'f'}, which is a file, not a folder"
    assert destination_problem("") == "is empty"
    assert not list(tmp_path.glob(".vaekit-probe-*")), "the probe file is removed"


@pytest.mark.parametrize("kind", ["file", "foreign folder"])
def test_a_triton_target_that_no_export_made_is_not_replaced(kind, tiny_ckpt, tmp_path):
    repo = tmp_path / "repo"
    target = repo / "m_decoder"
    if kind == "file":
        repo.mkdir()
        target.write_text("mine")
    else:
        (target / "photos").mkdir(parents=True)
        (target / "photos" / "cat.jpg").write_bytes(b"\xff\xd8")
    before = fingerprint(repo)
    what = "a file" if kind == "file" else "a folder without config.pbtxt"
    with pytest.raises(ValueError, match=f"m_decoder is {what}, not a Triton model of a previous export: "
                                         "move it away or choose another --triton"):
        triton.write_triton_repo(tiny_ckpt / "onnx", repo, name="m")
    assert fingerprint(repo) == before and not (repo / "m_encoder").exists()
