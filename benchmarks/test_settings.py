"""The settings record ``benchmarks.run`` writes for its pytest child, and the one backend table
both harnesses read."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from . import gpu_runtime
from .backends import BACKENDS, backend_names, summary_columns
from .run import REPO, build_parser, settings_from
from .settings import BenchSettings


def test_settings_survive_a_round_trip_through_their_file(tmp_path):
    settings = BenchSettings(mode="full", models=("mnist-z2",), backends=("ort-all", "torch-eager"),
                             batches=(1, 64), threads=2, target_s=0.1, compile_budget_s=30.0,
                             deadline=1.7e9, notes=str(tmp_path / "notes.json"))
    settings.save(tmp_path / "s.json")
    assert BenchSettings.load(tmp_path / "s.json") == settings
    assert not list(tmp_path.glob("*.tmp*")), "written atomically, no temporary file left"


def test_an_unknown_key_is_refused_and_the_known_ones_listed(tmp_path):
    (tmp_path / "s.json").write_text(json.dumps({"mode": "full", "batchs": [1]}))
    with pytest.raises(ValueError, match=r"unknown benchmark settings \['batchs'\]; known: .*'batches'"):
        BenchSettings.load(tmp_path / "s.json")


@pytest.mark.parametrize("field, value, message", [
    ("target_s", 0, r"target_s must be a number in \[0.001, 3600\], got 0"),
    ("threads", 0, r"threads must be an integer in \[1, 4096\], got 0"),
    ("batches", [1, 0], r"batches must be integers in \[1, 1048576\], got \[1, 0\]"),
    ("compile_budget_s", -1.0, r"compile_budget_s must be a number in \[0, 86400\], got -1.0"),
    ("mode", "fast", r"mode must be one of \('smoke', 'full'\), got 'fast'"),
    ("backends", ["ort-all", "tensorrt"], r"backends must name some of ort-basic, .*; got \['ort-all', 'tensorrt'\]"),
])
def test_an_out_of_range_value_is_refused_with_the_range(tmp_path, field, value, message):
    (tmp_path / "s.json").write_text(json.dumps({field: value}))
    with pytest.raises(ValueError, match=message) as err:
        BenchSettings.load(tmp_path / "s.json")
    assert str(err.value).startswith(f"{tmp_path / 's.json'}: "), "the message names the file"


def test_the_command_line_becomes_the_settings_and_bad_options_one_line_errors(tmp_path):
    args = build_parser().parse_args(["--models", "mnist-z2", "--backends", "ort-all,runtime", "--batches", "1,8",
                                      "--threads", "1", "--target-s", "0.2", "--compile-budget-s", "5"])
    settings = settings_from(args, tmp_path, start=1000.0)
    assert (settings.mode, settings.models, settings.backends, settings.batches, settings.threads) == (
        "full", ("mnist-z2",), ("ort-all", "runtime"), (1, 8), 1)
    assert (settings.target_s, settings.compile_budget_s, settings.notes) == (0.2, 5.0, str(tmp_path / "notes.json"))
    for argv, message in ((["--models", "nope"], r"error: unknown models \['nope'\]"),
                          (["--backends", "ort-cuda-graph"], r"error: backends must name some of"),
                          (["--batches", "1,x"], r"error: --batches must be a comma list"),
                          (["--target-s", "0"], r"error: target_s must be a number")):
        with pytest.raises(SystemExit, match=message):
            settings_from(build_parser().parse_args(argv), tmp_path, start=0.0)


def test_the_pytest_child_collects_the_cases_its_settings_name(tmp_path):
    BenchSettings(mode="full", models=("mnist-z2",), backends=("ort-all", "torch-eager"), batches=(3,),
                  threads=1).save(tmp_path / "s.json")
    cmd = [sys.executable, "-m", "pytest", "benchmarks/test_latency.py", "--collect-only", "-q",
           "-p", "no:cacheprovider", f"--bench-settings={tmp_path / 's.json'}"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    ids = {line.split("[", 1)[1].rstrip("]") for line in proc.stdout.splitlines() if "::test_latency[" in line}
    assert ids == {f"mnist-z2-{part}-b3-{backend}" for part in ("encoder", "decoder")
                   for backend in ("ort-all", "torch-eager")}

    (tmp_path / "s.json").write_text(json.dumps({"mode": "full", "threads": 0}))
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode != 0 and "threads must be an integer in [1, 4096], got 0" in proc.stderr
    assert "Traceback" not in proc.stderr, "a bad settings file is a one-line error"


def test_the_cpu_and_gpu_harnesses_list_their_backends_from_the_one_table():
    bench, gpu = backend_names("bench"), backend_names("gpu")
    assert BenchSettings().backends == bench, "make bench times every bench backend by default"
    assert gpu_runtime.CASES == gpu and "ort-cuda-graph" in gpu and "ort-cuda-graph" not in bench
    assert {"ort-cuda", "torch-eager", "torch-compile"} <= set(bench) & set(gpu), "shared rows, built once"
    assert set(bench) | set(gpu) == set(BACKENDS)
    assert summary_columns() == ("torch-eager", "torch-compile", "ort-basic", "ort-all", "ort-int8", "ort-fp16",
                                 "runtime", "openvino", "openvino-int8")
    with pytest.raises(SystemExit):
        gpu_runtime.parse_args(["--out", "x.json", "--cases", "openvino"])  # a CPU-only backend
