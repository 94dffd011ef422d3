"""`make demo` installs only what the demo needs (a light venv, no torch); `make test` the full set.

Checked with `make -n` (what make would run), so nothing is installed here; the install itself
is what `make runtime-only` (.ci/run) does in a fresh venv.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def dry_run(*args: str) -> str:
    run = subprocess.run(["make", "-n", "-B", *args], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return run.stdout


def installed_extras(output: str, venv: str) -> set[str]:
    found = re.findall(rf"{re.escape(venv)}/bin/python -m pip install -q -e '\.\[([a-z0-9,]+)\]'", output)
    assert len(found) == 1, output
    return set(found[0].split(","))


def test_make_demo_installs_the_runtime_and_the_demo_only_into_its_own_venv():
    out = dry_run("demo")
    extras = installed_extras(out, ".venv-demo")
    assert extras in ({"cpu", "demo"}, {"gpu", "demo"}), extras
    assert ".venv-demo/bin/python -m vaekit.demo" in out
    assert "'.[train" not in out and ".venv/bin/python -m pip" not in out, "no torch, no full venv"


def test_make_demo_picks_onnxruntime_where_onnxruntime_gpu_has_no_wheel():
    """A Mac (or a machine without an NVIDIA GPU) gets the cpu extra; the choice can be forced."""
    assert installed_extras(dry_run("demo-setup", "ORT_EXTRA=cpu"), ".venv-demo") == {"cpu", "demo"}
    uname = subprocess.run(["uname", "-s"], capture_output=True, text=True).stdout.strip()
    has_gpu = shutil.which("nvidia-smi") is not None and subprocess.run(
        ["nvidia-smi", "-L"], capture_output=True).returncode == 0
    expected = "gpu" if uname == "Linux" and has_gpu else "cpu"
    assert expected in installed_extras(dry_run("demo-setup"), ".venv-demo")


def test_make_demo_exports_missing_graphs_only_with_torch_and_otherwise_serves_the_committed_ones():
    out = dry_run("demo")
    assert 'import torch' in out and '-m vaekit.export "$c" --if-missing' in out
    assert "no exported graphs and no torch to export them" in out
    # every shipped checkpoint has committed graphs, so a venv without torch serves them all
    for ckpt in (REPO / "checkpoints").iterdir():
        if (ckpt / "model.safetensors").is_file():
            assert (ckpt / "onnx" / "vaekit.json").is_file(), f"{ckpt.name} ships no onnx/"


def test_make_test_keeps_the_full_set_in_its_own_venv():
    extras = installed_extras(dry_run("setup"), ".venv")
    assert {"train", "demo", "dev"} <= extras and extras & {"cpu", "gpu"}
