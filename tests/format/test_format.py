"""vaekit.format: the names, the image shape and the file writes every package relies on."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys

import pytest
from vaekit import format as fmt


def test_graph_file_names_every_graph_and_precision():
    assert fmt.graph_files() == ("encoder.onnx", "decoder.onnx")
    assert fmt.graph_file("decoder", "fp16") == "decoder.fp16.onnx"
    assert fmt.graph_file("encoder", "int8") == "encoder.int8.onnx"
    with pytest.raises(ValueError, match="choose one of"):
        fmt.graph_file("decoder", "bf16")
    with pytest.raises(ValueError, match="unknown graph"):
        fmt.graph_file("generator")


@pytest.mark.parametrize("facts", [
    {"channels": 3, "height": 64, "width": 48},  # vaekit.json
    {"channels": "3", "height": "64", "width": "48"},  # a graph's metadata_props
    {"in_channels": 3, "height": 64, "width": 48},  # a model config with both sides
])
def test_image_shape_from_a_contract_or_config(facts):
    assert fmt.image_shape(facts) == (3, 64, 48)


def test_image_shape_of_a_square_model_config_and_its_errors():
    class Config:  # a config object, as train's VAEConfig
        in_channels, image_size = 1, 28

    assert fmt.image_shape(Config()) == (1, 28, 28)
    assert fmt.image_shape({"in_channels": 1, "image_size": [32, 16]}) == (1, 32, 16)
    with pytest.raises(ValueError, match="in_channels and image_size"):
        fmt.image_shape({"latent_dim": 2})
    with pytest.raises(ValueError, match="positive"):
        fmt.image_shape({"channels": 1, "height": 0, "width": 28})


def test_graph_shapes_follow_the_contract():
    contract = {"channels": 1, "height": 28, "width": 28, "latent_dim": 2}
    assert fmt.graph_shapes(contract, "encoder") == {
        "image": ["N", 1, 28, 28], "mean": ["N", 2], "logvar": ["N", 2]}
    assert fmt.graph_shapes(contract, "decoder") == {"z": ["N", 2], "image": ["N", 1, 28, 28]}


def test_atomic_write_leaves_an_ordinary_file_and_no_temporary(tmp_path):
    path = tmp_path / "new" / "folder" / fmt.CONFIG
    fmt.atomic_write_text(path, json.dumps({"a": "ü"}))
    assert json.loads(path.read_text(encoding="utf-8")) == {"a": "ü"}
    # readable by others as any new file (umask applied), not mkstemp's private 0o600
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~_umask()  # 0o644 under umask 022
    fmt.atomic_write_bytes(path, b"second")
    assert path.read_bytes() == b"second"
    assert [p.name for p in path.parent.iterdir()] == [fmt.CONFIG]


def test_a_failed_write_keeps_the_old_file(tmp_path):
    path = tmp_path / fmt.METRICS
    fmt.atomic_write_text(path, "old")
    with pytest.raises(TypeError):
        fmt.atomic_write_bytes(path, "not bytes")  # type: ignore[arg-type]
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == [fmt.METRICS]


def test_sha256_file_matches_hashlib(tmp_path):
    data = os.urandom(3 * fmt.files.BLOCK // 2)  # more than one block
    path = fmt.atomic_write_bytes(tmp_path / fmt.WEIGHTS, data)
    assert fmt.sha256_file(path) == hashlib.sha256(data).hexdigest()


def test_format_imports_neither_torch_nor_numpy():
    code = ("import sys; import vaekit.format; "
            "print(sorted(m for m in ('torch', 'numpy', 'onnxruntime') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "[]"


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@pytest.mark.parametrize("text, problem", [("{not json", "is not valid JSON"),
                                           ("[1, 2]", "holds a JSON list, not an object")])
def test_a_damaged_json_file_is_one_line_naming_the_file_and_the_fix(tmp_path, text, problem):
    from vaekit.format import read_json_object

    path = tmp_path / "config.json"
    path.write_text(text)
    with pytest.raises(LookupError, match=f"config.json {problem}.*: train it again") as info:
        read_json_object(path, fix="train it again", error=LookupError)
    assert "\n" not in str(info.value)
    path.write_text('{"model": {}}')
    assert read_json_object(path, fix="train it again") == {"model": {}}
