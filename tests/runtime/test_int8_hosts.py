"""int8 exports on CPUs whose int8 kernels differ: exact where the graph is safe, fixed where it is not.

An export records the largest uint8 x int8 pair sum of its int8 graphs; one made before that
record may saturate on x86 CPUs without VNNI. There the runtime runs it on ONNX Runtime's
exact kernels and says once how to get the fast ones back (re-export). The host is pretended
by replacing :func:`vaekit.runtime.session.int8_kernel`, so these hold on any CPU.
"""

from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import pytest
from vaekit.runtime import VAE
from vaekit.runtime import providers as providers_module
from vaekit.runtime import session as session_module
from vaekit.runtime.cpu import INT16_PAIRS, INT32, UNKNOWN, int8_kernel
from vaekit.runtime.session import EXACT_INT8_OPTION


@pytest.fixture
def older_export(tiny_ckpt, tmp_path):
    """A copy of the tiny export whose vaekit.json predates the pair-sum record."""
    folder = tmp_path / "onnx"
    shutil.copytree(tiny_ckpt / "onnx", folder)
    contract = json.loads((folder / "vaekit.json").read_text())
    del contract["variants"]["int8"]["int16_pair_sum_max"]
    (folder / "vaekit.json").write_text(json.dumps(contract))
    return folder


def pretend(monkeypatch, kernel: str) -> None:
    monkeypatch.setattr(session_module, "int8_kernel", lambda: kernel)
    monkeypatch.setattr(providers_module, "_warned", set())


def exact_option(vae: VAE) -> str:
    options = vae._decoder.session.get_session_options()
    try:
        return options.get_session_config_entry(EXACT_INT8_OPTION)
    except Exception:  # noqa: BLE001 - onnxruntime raises when the entry was never set
        return ""


def load_int8(folder, monkeypatch, caplog, kernel, loads: int = 1) -> tuple[str, list[str]]:
    """``(exact-kernel session option, warnings logged)`` of loading ``folder``'s int8 graphs
    ``loads`` times on a host whose int8 kernel path is pretended to be ``kernel``."""
    pretend(monkeypatch, kernel)
    with caplog.at_level(logging.WARNING):
        vaes = [VAE.load(folder, providers="cpu", precision="int8") for _ in range(loads)]
    return exact_option(vaes[0]), [r.getMessage() for r in caplog.records]


@pytest.mark.parametrize("kernel", [INT16_PAIRS, INT32, UNKNOWN])
def test_a_current_export_runs_on_the_fast_kernels_everywhere(tiny_ckpt, monkeypatch, caplog, kernel):
    assert load_int8(tiny_ckpt, monkeypatch, caplog, kernel) == ("", [])


def test_an_older_export_on_a_cpu_without_vnni_runs_exact_and_says_how_to_fix_it(older_export, monkeypatch, caplog):
    option, warnings = load_int8(older_export, monkeypatch, caplog, INT16_PAIRS, loads=2)
    assert option == "1"
    assert len(warnings) == 1, "warned once, not per load"
    assert "no VNNI" in warnings[0] and "python -m vaekit.export CHECKPOINT --int8" in warnings[0]


@pytest.mark.parametrize("kernel, option", [(INT32, ""), (UNKNOWN, "1")],
                         ids=["exact kernels: nothing to do", "unreadable CPU: exact, quietly"])
def test_an_older_export_elsewhere_loads_without_a_word(older_export, monkeypatch, caplog, kernel, option):
    assert load_int8(older_export, monkeypatch, caplog, kernel) == (option, [])


def test_the_exact_kernels_give_the_same_images(older_export, tiny_ckpt, monkeypatch):
    z = np.random.default_rng(3).standard_normal((5, 2)).astype(np.float32)
    pretend(monkeypatch, INT16_PAIRS)
    exact = VAE.load(older_export, providers="cpu", precision="int8").decode(z)
    pretend(monkeypatch, INT32)
    fast = VAE.load(tiny_ckpt, providers="cpu", precision="int8").decode(z)
    np.testing.assert_allclose(exact, fast, atol=2e-2)  # one requantisation step at most


def test_this_host_is_classified():
    assert int8_kernel() in (INT16_PAIRS, INT32, UNKNOWN)
