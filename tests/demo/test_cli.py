"""``python -m vaekit.demo``: which folders it serves and what it says when there are none."""

from __future__ import annotations

import pytest
from vaekit.demo import __main__ as cli


def fake_export(folder):
    folder.mkdir(parents=True)
    (folder / "vaekit.json").write_text("{}")


def test_default_models_are_the_exported_checkpoints_under_the_current_dir(tmp_path):
    fake_export(tmp_path / "checkpoints" / "b-model" / "onnx")
    fake_export(tmp_path / "checkpoints" / "a-model" / "onnx")
    (tmp_path / "checkpoints" / "not-exported").mkdir()
    assert cli.default_model_dirs(tmp_path) == [
        tmp_path / "checkpoints" / "a-model" / "onnx", tmp_path / "checkpoints" / "b-model" / "onnx"]


def test_no_exported_model_says_how_to_export_one(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, "REPO_ROOT", tmp_path)
    assert cli.main([]) == 2
    err = capsys.readouterr().err
    assert "no exported models found" in err
    assert "python -m vaekit.export checkpoints/<name>" in err


def test_a_missing_models_folder_is_a_clear_error(tmp_path, capsys):
    assert cli.main(["--models", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert "nope does not exist" in err and "vaekit.export" in err
    assert "Traceback" not in err


def test_bad_port_is_refused(capsys):
    with pytest.raises(SystemExit):
        cli.parse_args(["--port", "70000"])
    assert "--port must be 1-65535" in capsys.readouterr().err
    args = cli.parse_args([])
    assert (args.host, args.port, args.share) == ("127.0.0.1", 7860, False)
