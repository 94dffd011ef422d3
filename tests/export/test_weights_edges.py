"""Weights that cannot be exported are blamed on the weights, not on the exporter."""

from __future__ import annotations

import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file
from support import assert_clear, run_main
from vaekit.export.__main__ import main
from vaekit.format import WEIGHTS


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_weights_are_named_before_the_export(value, unexported_ckpt, tmp_path, capsys):
    folder = tmp_path / "diverged"
    shutil.copytree(unexported_ckpt, folder)
    state = load_file(folder / WEIGHTS)
    name = next(k for k in state if k.startswith("decoder") and state[k].is_floating_point())
    state[name] = torch.full_like(state[name], value)
    save_file(state, folder / WEIGHTS)
    code, err = run_main(main, [str(folder), "--quiet"], capsys)
    assert_clear(code, err, f"{folder / WEIGHTS} holds non-finite weights", name,
                 "the run diverged before it was saved", "lower --lr")
    assert "ONNX Runtime and PyTorch disagree" not in err and "report it" not in err
    assert not (folder / "onnx").exists()
