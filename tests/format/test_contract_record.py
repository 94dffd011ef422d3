"""The typed contract: what Contract.load refuses (one line naming the key and the fix), what an
older export may lack, and that saving writes what loading reads."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from vaekit.format import Contract, Framing, PriorRecord
from vaekit.format.schema import contract_schema

SHIPPED = Path(__file__).resolve().parents[2] / "checkpoints"
CVAE = json.loads((SHIPPED / "mnist-cvae" / "onnx" / "vaekit.json").read_text())
Z2 = json.loads((SHIPPED / "mnist-z2" / "onnx" / "vaekit.json").read_text())
#: what an export must have had since format_version 1 (the rest came later)
OLDEST_KEYS = ("format", "format_version", "channels", "height", "width", "latent_dim", "likelihood",
               "dataset", "checkpoint_sha256", "vaekit_version", "opset")


def changed(base: dict, path: str, value) -> dict:
    """A deep copy of ``base`` with ``a.b.c`` set to ``value`` (``...`` deletes it)."""
    out = json.loads(json.dumps(base))
    *parents, key = path.split(".")
    node = out
    for p in parents:
        node = node[p]
    if value is ...:
        del node[key]
    else:
        node[key] = value
    return out


def test_an_older_export_without_the_later_keys_loads_with_their_defaults():
    oldest = {k: CVAE[k] for k in OLDEST_KEYS}
    contract = Contract.load(oldest)
    assert contract.num_classes == 0 and contract.class_names == () and not contract.conditional
    assert contract.default_prior == PriorRecord() and contract.precisions == ("fp32",)
    assert contract.graph("decoder") is None and contract.framing is None and contract.fast_decoder is None
    older_prior = Contract.load({**oldest, "prior": {"kind": "normal"}})
    assert older_prior.default_prior.is_normal
    assert Contract.load(changed(CVAE, "decoder.sha256", ...)).graph("decoder").sha256 is None


def test_the_earliest_shipped_shape_still_loads():
    """celeba64's first export: no classes, prior, presentation, requires, nor graph ir_version."""
    earliest = {k: json.loads(json.dumps(v)) for k, v in CVAE.items() if k in (
        *OLDEST_KEYS, "batch_axis", "checkpoint", "decoder", "encoder", "examples", "exported_with",
        "image_range", "model_config", "parity", "variants")}
    earliest.update(num_classes=0, class_names=[])  # dropped together below
    for graph in (earliest["encoder"], earliest["decoder"], *(v[g] for v in earliest["variants"].values()
                                                             for g in ("encoder", "decoder"))):
        graph.pop("ir_version")
        graph["inputs"].pop("label")
    for v in earliest["variants"].values():
        for key in ("fp16_computed", "int16_pair_sum_max", "kernel_paths"):
            v.pop(key, None)
    del earliest["num_classes"], earliest["class_names"]
    contract = Contract.load(earliest)
    assert contract.to_dict() == earliest and contract.graph("encoder", "int8").ir_version is None


@pytest.mark.parametrize("path, value, words", [
    ("added_later", 1, r"unknown keys \['added_later'\]"),
    ("variants.int8.added_later", 1, r"variants.int8 has unknown keys \['added_later'\]"),
    ("fast_decoder.variants.fp16.added_later", 1, r"fast_decoder.variants.fp16 has unknown keys"),
    ("variants.bf16", {}, "bf16"),
    ("num_classes", 3, r"class_names must list 3 names \(num_classes\), got 10"),
    ("decoder_inputs", ["z"], r"decoder_inputs \['z'\] disagree with num_classes 10"),
    ("prior.latent_dim", 3, "belongs to another model"),
    ("latent_dim", 0, "latent_dim must be a positive integer"),
    ("background", "grey", "background must be one of"),
    ("framing.method", "zoom", "framing method must be one of"),
    ("decoder.inputs.z", ["N", 17], r"decoder \(decoder.onnx\) declares .* come from different exports"),
    ("variants.int8.int16_pair_sum_max", "32640", "int16_pair_sum_max must be int"),
    ("variants.fp16.encoder.file", "../encoder.onnx", "must be a .onnx file name in the export folder"),
    ("examples.count", True, "examples.count must be int"),
    ("format_version", 2, "has format_version 2, this vaekit reads 1"),
    ("dataset", ..., r"lacks \['dataset'\]"),
])
def test_a_bad_field_is_one_line_naming_it_and_the_fix(path, value, words):
    base = Z2 if path.startswith("fast_decoder") else CVAE
    with pytest.raises(ValueError, match=words) as info:
        Contract.load(changed(base, path, value))
    message = str(info.value)
    assert "\n" not in message and ("python -m vaekit.export" in message or "vaekit export contract" in message)


def test_the_file_is_named_in_every_message(tmp_path):
    path = tmp_path / "vaekit.json"
    path.write_text(json.dumps(changed(CVAE, "added_later", 1)))
    with pytest.raises(ValueError, match=f"^{tmp_path}/vaekit.json: the contract has unknown keys"):
        Contract.load(tmp_path)
    path.write_text("{ not json")
    with pytest.raises(ValueError, match="vaekit.json is not valid JSON"):
        Contract.load(path)
    with pytest.raises(FileNotFoundError, match="no vaekit.json in"):
        Contract.load(tmp_path / "nowhere")


def test_save_writes_atomically_what_load_reads(tmp_path):
    contract = Contract.load(CVAE)
    written = contract.save(tmp_path)
    assert written == tmp_path / "vaekit.json" and oct(written.stat().st_mode & 0o777) != oct(0o600)
    assert Contract.load(tmp_path) == contract and json.loads(written.read_text()) == CVAE
    assert [p.name for p in tmp_path.iterdir()] == ["vaekit.json"], "no temporary file left behind"
    assert os.access(written, os.R_OK)


def test_the_typed_facts_are_what_the_file_says():
    contract = Contract.load(CVAE)
    assert contract.class_names == tuple(CVAE["class_names"]) and contract.conditional
    assert contract.graph("decoder", "int8").file == "decoder.int8.onnx"
    assert contract.variant("int8").int16_pair_sum_max == CVAE["variants"]["int8"]["int16_pair_sum_max"]
    assert contract.framing == Framing(method="ink-box", box=20 / 28, centre="mass")
    assert contract.graph_inputs("decoder") == ("z", "label")
    assert contract.metadata_props(graph="decoder", precision="fp32")["num_classes"] == "10"
    fast = Contract.load(Z2).fast_decoder
    assert fast.at("fp16").file == "decoder.fast.fp16.onnx" and fast.at("int8") is None
    assert "int8" in fast.not_written


def test_the_schema_states_every_key_and_refuses_others():
    schema = contract_schema()
    assert set(schema["properties"]) == set(CVAE) | {"fast_decoder"}
    assert schema["additionalProperties"] is False and set(schema["required"]) == set(OLDEST_KEYS)
    assert schema["properties"]["format"]["const"] == "vaekit-onnx"
    graph = schema["$defs"]["GraphRecord"]
    assert set(graph["required"]) == {"file", "inputs", "outputs", "opset", "bytes"}
