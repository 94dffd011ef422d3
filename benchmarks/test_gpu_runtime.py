"""``gpu_runtime.py``, the standalone CUDA timing script: which models it times, on the CPU."""

from __future__ import annotations

import json
import subprocess
import sys

from . import gpu_runtime, models


def test_it_times_the_shipped_models_the_cpu_benchmarks_time_and_says_why_not_the_others():
    timed, skipped = gpu_runtime.shipped_models(None)
    assert {m.name for m in timed} == {p.name for p in models.shipped_checkpoints()}  # one rule
    assert "mnist-cvae" in skipped, "checkpoints/mnist-cvae (a conditional model) ships in git"
    assert skipped["mnist-cvae"] == ("its decoder takes ['z', 'label'] (a conditional model) "
                                     "and the timed cases feed z alone")
    assert "mnist-cvae" not in {m.name for m in timed}


def test_a_cpu_dry_run_skips_a_conditional_model_instead_of_recording_errors(tmp_path, capsys):
    timed, skipped = gpu_runtime.shipped_models(["mnist-cvae", "mnist-z2"])
    assert "mnist-cvae" in skipped and [m.name for m in timed] == ["mnist-z2"], \
        "checkpoints/mnist-cvae and checkpoints/mnist-z2 ship in git"
    out = tmp_path / "gpu.json"
    assert gpu_runtime.main(["--device", "cpu", "--models", "mnist-cvae,mnist-z2", "--batches", "1",
                             "--calls", "1", "--warmup", "0", "--cases", "ort-cuda", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "mnist-cvae skipped: its decoder takes ['z', 'label']" in printed
    report = json.loads(out.read_text())
    assert report["skipped_models"] == skipped and "errors" not in report
    assert [(r["model"], r["case"], "error" in r) for r in report["results"]] == [("mnist-z2", "ort-cuda", False)]


def test_a_failing_cpu_reference_is_recorded_and_the_run_goes_on(tmp_path, monkeypatch):
    def broken(model, z):
        raise RuntimeError("no session (test)")

    monkeypatch.setattr(gpu_runtime, "cpu_reference", broken)
    out = tmp_path / "gpu.json"
    assert gpu_runtime.main(["--device", "cpu", "--models", "mnist-z2", "--batches", "1", "--calls", "1",
                             "--warmup", "0", "--cases", "ort-cuda", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["results"], "checkpoints/mnist-z2 ships in git"
    assert report["errors"] == ["mnist-z2 b1 cpu reference: no session (test)"]
    row = report["results"][0]
    assert "median_ms" in row and "max_abs_diff" not in row, "timed, without a parity figure"


def test_it_runs_as_a_script_from_any_folder(tmp_path):
    proc = subprocess.run([sys.executable, str(gpu_runtime.REPO / "benchmarks" / "gpu_runtime.py"), "--help"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "--device" in proc.stdout
