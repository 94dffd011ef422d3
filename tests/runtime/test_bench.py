"""python -m vaekit.runtime.bench: this machine's decode/encode timings, without torch."""

from __future__ import annotations

import subprocess
import sys

import pytest
from vaekit.runtime.bench import main


def test_bench_prints_one_row_per_model_part_and_batch(tiny_ckpt, capsys):
    assert main([str(tiny_ckpt), "--batches", "1", "4", "--seconds", "1"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ckpt |")]
    assert [r.split("|")[2:4] for r in rows] == [[" decode ", " 1 "], [" encode ", " 1 "],
                                                 [" decode ", " 4 "], [" encode ", " 4 "]]
    for row in rows:
        median, p95, per_second = (float(c.replace(",", "")) for c in row.split("|")[4:7])
        assert 0 < median <= p95 and per_second > 0


def test_bench_runs_without_torch(tiny_ckpt):
    code = ("import sys; sys.modules['torch'] = None\n"
            "from vaekit.runtime.bench import main\n"
            f"sys.exit(main([{str(tiny_ckpt)!r}, '--batches', '2', '--seconds', '1']))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-1500:]
    assert "| ckpt | decode | 2 |" in run.stdout


@pytest.mark.parametrize("argv,problem", [
    (["--batches", "0"], "--batches must each be in 1..1024"),
    (["--seconds", "0"], "--seconds must be in 1..3600"),
    (["--threads", "0"], "--threads must be in 1..1024"),
])
def test_bench_refuses_out_of_range_options_in_one_line(tiny_ckpt, capsys, argv, problem):
    with pytest.raises(SystemExit) as e:
        main([str(tiny_ckpt), *argv])
    assert e.value.code == 2
    assert problem in capsys.readouterr().err


def test_bench_names_a_missing_folder(tmp_path, capsys):
    assert main([str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "does not exist" in err and len(err.splitlines()) == 1
