"""benchmarks.overhead: the runtime's cost over a bare session, interleaved, one row per case."""

from __future__ import annotations

import re

import pytest

from benchmarks.overhead import main


def test_overhead_prints_session_runtime_and_checks_per_case(capsys):
    assert main(["--models", "mnist-z2", "--batches", "2", "--repeats", "3"]) == 0
    rows = [r for r in capsys.readouterr().out.splitlines() if r.startswith("| mnist-z2 |")]
    assert [r.split("|")[2].strip() for r in rows] == ["decoder", "encoder"]
    for row in rows:
        session, runtime, checks = (float(c) for c in row.split("|")[4:7])
        assert session > 0 and runtime > 0 and 0 < checks < runtime
        assert re.search(r"[+-]\d+\.\d%", row.split("|")[7])


def test_overhead_refuses_a_model_that_does_not_ship(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--models", "no-such-model"])
    assert e.value.code == 2 and "no checkpoints/NAME/onnx for ['no-such-model']" in capsys.readouterr().err
