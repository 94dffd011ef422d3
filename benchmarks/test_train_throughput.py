"""The training-throughput benchmark end to end on a tiny case: the training command's own step
code (``Trainer``), warmed up and timed, one JSON record per case."""

from __future__ import annotations

import json

import pytest

from . import train_throughput as tt

pytestmark = pytest.mark.slow  # trains a tiny model

#: 24 images in batches of 8: three steps an epoch
TINY = tt.Case("tiny", dict(dim=8, latent_dim=2), batch_size=8, images=24)


def test_a_tiny_case_is_timed_and_recorded(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(tt.CASES, TINY.name, TINY)
    monkeypatch.setattr(tt, "WARMUP_STEPS", 2)
    out = tmp_path / "throughput.json"
    assert tt.main(["--device", "cpu", "--cases", "tiny", "--epochs", "2", "--out", str(out)]) == 0
    (record,) = json.loads(out.read_text())
    assert "error" not in record, record["error"]
    assert record["case"] == "tiny" and record["images_per_epoch"] == 24
    assert record["epochs_timed"] == 2 and len(record["images_per_second_all"]) == 2
    assert record["images_per_second_median"] > 0 and record["warmup_seconds"] >= 0
    assert record["model"]["dim"] == 8 and record["model"]["latent_dim"] == 2
    printed = capsys.readouterr().out
    assert printed.startswith("tiny: ") and printed.rstrip().endswith("images/s"), printed


def test_a_device_name_that_means_nothing_is_refused_before_any_work(capsys):
    with pytest.raises(SystemExit) as e:
        tt.main(["--device", "gpu", "--cases", "mnist-preset-b128"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "Traceback" not in err
    assert "--device must be auto, cpu, cuda, cuda:N or mps, got 'gpu'" in err
