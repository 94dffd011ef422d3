"""Every contract variant reaches every Python consumer intact: the runtime, the demo and the
Triton writer each honour the classes, the prior, the precisions and the fast decoder that the
typed :class:`~vaekit.format.Contract` of each shipped export says (a consumer that ignored
``prior`` or ``num_classes`` would fail here). The same exports drive Node and the browser page
in ``tests/embed/test_contract_clients.py``. Also: every shipped ``vaekit.json`` round-trips
exactly, and the JavaScript clients' schema is the one the record generates."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from support import CONTRACT_VARIANTS, shipped_contract_variants
from vaekit.format import Contract
from vaekit.format.schema import schema_module

pytestmark = pytest.mark.slow  # loads every shipped model in each consumer

REPO = Path(__file__).resolve().parents[2]
VARIANTS = shipped_contract_variants()


def test_the_shipped_exports_cover_every_contract_variant():
    """A variant no shipped export has would go untested: name a model that has it."""
    covered = {kind for kinds in VARIANTS.values() for kind in kinds}
    assert covered == set(CONTRACT_VARIANTS), f"no shipped export is {sorted(set(CONTRACT_VARIANTS) - covered)}"


@pytest.mark.parametrize("folder", list(VARIANTS), ids=lambda p: p.parent.name)
def test_every_shipped_contract_round_trips_exactly(folder):
    path = folder / "vaekit.json"
    contract = Contract.load(folder)
    assert contract.to_dict() == json.loads(path.read_text())
    assert contract.to_json() == path.read_text(), "saving it again would rewrite the file"
    assert Contract.load(contract.to_dict()) == contract


def test_the_js_schema_is_the_one_the_record_generates():
    committed = (REPO / "web" / "contract_schema.js").read_text()
    assert committed == schema_module(), ("web/contract_schema.js is stale: regenerate it with "
                                          "`python -m vaekit.format.schema web/contract_schema.js`")


# ----------------------------------------------------------------------------- consumers


@pytest.fixture(scope="module")
def vaes():
    from vaekit.runtime import VAE

    return {folder: VAE.load(folder, providers="cpu") for folder in VARIANTS}


@pytest.mark.parametrize("folder", list(VARIANTS), ids=lambda p: p.parent.name)
def test_the_runtime_honours_each_field(vaes, folder):
    from vaekit.runtime import VAE

    contract, vae = Contract.load(folder), vaes[folder]
    assert vae.contract == contract and vae.metadata == contract.to_dict()
    assert vae.image_shape == contract.image_shape and vae.latent_dim == contract.latent_dim
    assert vae.class_names == contract.class_names and vae.conditional == (contract.num_classes > 0)
    assert vae.default_prior == contract.default_prior.name and vae.priors[-1] == contract.default_prior.name
    labels = np.arange(2) % max(contract.num_classes, 1) if contract.conditional else None
    drawn = vae.sample(2, seed=4, labels=labels)
    if not contract.default_prior.is_normal:  # the exported prior, not N(0, I), is the default
        assert not np.allclose(drawn, vae.sample(2, seed=4, labels=labels, prior="normal"))
    z = np.zeros((2, contract.latent_dim), np.float32)
    if contract.conditional:  # the label reaches the graph: two classes, two pictures
        with pytest.raises(ValueError, match="label"):
            vae.decode(z)
        a, b = vae.decode(z, labels=np.array([0, 1]))
        assert not np.allclose(a, b)
    for precision in contract.precisions[1:]:  # every precision the contract lists opens
        assert VAE.load(folder, providers="cpu", precision=precision).decode(z[:1], labels=None if labels is None
                                                                              else labels[:1]).shape[0] == 1
    if contract.fast_decoder is not None:
        assert VAE.load(folder, providers="cpu", decoder="fast").decoder_kind == "fast"
    else:
        with pytest.raises(FileNotFoundError, match="no fast decoder"):
            VAE.load(folder, providers="cpu", decoder="fast")


@pytest.mark.parametrize("folder", list(VARIANTS), ids=lambda p: p.parent.name)
def test_the_demo_honours_each_field(vaes, folder):
    from vaekit.demo.models import wrap_models
    from vaekit.demo.server import model_index

    contract = Contract.load(folder)
    model = next(iter(wrap_models({"m": vaes[folder]}).values()))
    facts = model.facts
    # an unconditional model's [] class_names is filled from its examples' labels, nothing else
    allowed = () if contract.conditional else ("class_names",)
    assert set(facts.derived) <= set(allowed), f"the demo derived {facts.derived} though the contract states them"
    assert facts.num_classes == contract.num_classes and facts.conditional == contract.conditional
    if contract.class_names:
        assert facts.class_names == contract.class_names
    assert facts.background == contract.background and facts.framing == contract.framing
    assert facts.plottable == contract.plottable and facts.dataset == contract.dataset
    (entry,) = model_index({"m": folder})
    assert entry["precisions"] == list(contract.precisions) and entry["num_classes"] == contract.num_classes
    assert (entry["channels"], entry["height"], entry["width"]) == contract.image_shape


@pytest.mark.parametrize("folder", list(VARIANTS), ids=lambda p: p.parent.name)
def test_the_triton_writer_honours_each_field(folder, tmp_path):
    from vaekit.export.triton import TritonConfig, write_triton_repo

    contract = Contract.load(folder)
    for precision in contract.precisions:
        repo, config = tmp_path / precision, TritonConfig(precision=precision)
        fast = contract.fast_decoder
        left_out = fast is not None and precision in (fast.not_written or {})  # by the export's design
        written = {p.name for p in write_triton_repo(folder, repo, name="m", config=config)}
        want = {"m_encoder", "m_decoder"}
        want |= set() if contract.default_prior.is_normal else {"m_prior"}
        want |= set() if fast is None or left_out else {"m_decoder_fast"}
        assert written == want, precision
        decoder = (repo / "m_decoder" / "config.pbtxt").read_text()
        assert ('name: "label"' in decoder) == contract.conditional
        assert f"({precision})" in decoder.splitlines()[0]
        assert (repo / "m_decoder" / "1" / "model.onnx").read_bytes() == \
            (folder / contract.graph("decoder", precision).file).read_bytes()
