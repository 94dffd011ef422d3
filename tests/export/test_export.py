"""Export: the contract, parity at batch 1/7/64, metadata round trip, variants, atomicity."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from vaekit.export import (
    OPSET,
    PARITY_BATCHES,
    TOLERANCE,
    ParityError,
    export_checkpoint,
    is_up_to_date,
    pipeline,
    precisions,
)
from vaekit.export.__main__ import main
from vaekit.runtime.contract import CONTRACT_KEYS
from vaekit.train import load_model

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "checkpoints" / "mnist-z2"


def contract_of(ckpt: Path) -> dict:
    return json.loads((ckpt / "onnx" / "vaekit.json").read_text())


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot(folder: Path) -> dict[str, str]:
    return {p.name: sha(p) for p in sorted(folder.iterdir())}


def test_export_writes_both_graphs_and_the_contract(tiny_ckpt):
    out = tiny_ckpt / "onnx"
    c = contract_of(tiny_ckpt)
    assert {"encoder.onnx", "decoder.onnx", "vaekit.json", "examples.npz"} <= {p.name for p in out.iterdir()}
    assert (c["channels"], c["height"], c["width"], c["latent_dim"]) == (1, 28, 28, 2)
    assert (c["likelihood"], c["dataset"], c["opset"]) == ("bernoulli", "mnist", OPSET)
    assert c["checkpoint_sha256"] == sha(tiny_ckpt / "model.safetensors")
    assert c["encoder"]["inputs"] == {"image": ["N", 1, 28, 28]}
    assert c["encoder"]["outputs"] == {"mean": ["N", 2], "logvar": ["N", 2]}
    assert c["decoder"]["inputs"] == {"z": ["N", 2]} and c["decoder"]["outputs"] == {"image": ["N", 1, 28, 28]}
    for graph in ("encoder", "decoder"):
        assert c[graph]["bytes"] == (out / c[graph]["file"]).stat().st_size
        assert c[graph]["sha256"] == sha(out / c[graph]["file"])
    # parity recorded per graph, per batch size, per output, all within tolerance
    assert c["parity"]["tolerance"] == TOLERANCE and c["parity"]["inputs"] == "test images"
    assert set(c["parity"]["encoder"]) == set(c["parity"]["decoder"]) == {str(b) for b in PARITY_BATCHES}
    for b in PARITY_BATCHES:
        assert set(c["parity"]["encoder"][str(b)]) == {"mean", "logvar"}
        assert 0 <= max(c["parity"]["encoder"][str(b)].values()) <= TOLERANCE
        assert 0 <= c["parity"]["decoder"][str(b)]["image"] <= TOLERANCE
    assert not list(tiny_ckpt.glob(".onnx.*")), "temporary folders were left behind"


def test_onnx_runtime_matches_pytorch_at_three_batch_sizes(tiny_ckpt):
    model = load_model(tiny_ckpt)
    enc = ort.InferenceSession(str(tiny_ckpt / "onnx" / "encoder.onnx"), providers=["CPUExecutionProvider"])
    dec = ort.InferenceSession(str(tiny_ckpt / "onnx" / "decoder.onnx"), providers=["CPUExecutionProvider"])
    g = torch.Generator().manual_seed(5)
    for b in PARITY_BATCHES:
        x, z = torch.rand((b, 1, 28, 28), generator=g), torch.randn((b, 2), generator=g)
        with torch.no_grad():
            mean, logvar = model.encoder(x)
            image = model.decoder_mean()(z)
        got_mean, got_logvar = enc.run(None, {"image": x.numpy()})
        (got_image,) = dec.run(None, {"z": z.numpy()})
        assert got_image.shape == (b, 1, 28, 28) and got_mean.shape == (b, 2)
        np.testing.assert_allclose(got_mean, mean.numpy(), atol=TOLERANCE, rtol=0)
        np.testing.assert_allclose(got_logvar, logvar.numpy(), atol=TOLERANCE, rtol=0)
        np.testing.assert_allclose(got_image, image.numpy(), atol=TOLERANCE, rtol=0)


def test_graph_metadata_round_trips_the_contract(tiny_ckpt):
    c = contract_of(tiny_ckpt)
    for file, graph, precision in [("encoder.onnx", "encoder", "fp32"), ("decoder.onnx", "decoder", "fp32"),
                                   ("decoder.fp16.onnx", "decoder", "fp16"), ("encoder.int8.onnx", "encoder", "int8")]:
        model = onnx.load(str(tiny_ckpt / "onnx" / file))
        onnx.checker.check_model(model, full_check=True)
        props = {p.key: p.value for p in model.metadata_props}
        assert {k: props[k] for k in CONTRACT_KEYS} == {k: str(c[k]) for k in CONTRACT_KEYS}
        assert (props["graph"], props["precision"]) == (graph, precision)
        batch_dims = [i.type.tensor_type.shape.dim[0] for i in (*model.graph.input, *model.graph.output)]
        assert all(d.dim_param and not d.dim_value for d in batch_dims), f"{file}: batch axis is not dynamic"
        assert all(i.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
                   for i in (*model.graph.input, *model.graph.output)), f"{file}: interface is not float32"
        assert not any(n.metadata_props for n in model.graph.node), f"{file} ships exporter debug info"
    # and what an app sees through onnxruntime alone
    meta = ort.InferenceSession(str(tiny_ckpt / "onnx" / "decoder.onnx"),
                                providers=["CPUExecutionProvider"]).get_modelmeta().custom_metadata_map
    assert int(meta["latent_dim"]) == 2 and meta["dataset"] == "mnist"


def test_fp16_and_int8_copies_are_recorded_with_parity_and_psnr(tiny_ckpt):
    c = contract_of(tiny_ckpt)
    for precision, min_psnr in (("fp16", 50.0), ("int8", 25.0)):
        v = c["variants"][precision]
        assert v["runs_on_cpu"] is True
        for graph in ("encoder", "decoder"):
            path = tiny_ckpt / "onnx" / f"{graph}.{precision}.onnx"
            assert v[graph]["bytes"] == path.stat().st_size and v[graph]["sha256"] == sha(path)
        assert set(v["parity_vs_torch_fp32"]["decoder"]) == {"1", "7", "64"}
        assert v["decoder_psnr_db_vs_fp32"] >= min_psnr, f"{precision} decoder drifted from fp32"
    # fp16 computed in real float16 (ONNX's reference evaluator), not quietly in float32
    computed = c["variants"]["fp16"]["fp16_computed"]
    assert computed["evaluator"] == "onnx.reference.ReferenceEvaluator"
    assert max(*computed["encoder"].values(), *computed["decoder"].values()) <= computed["tolerance"] == 1e-2


def test_examples_hold_real_test_images(tiny_ckpt):
    with np.load(tiny_ckpt / "onnx" / "examples.npz", allow_pickle=False) as f:
        images, labels, classes = f["images"], f["labels"], f["classes"]
    n = 80  # the fake test split has 80 images; latent_dim 2 asks for up to 2000
    assert images.shape == (n, 1, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (n,) and labels.dtype == np.int64
    assert list(classes) == [str(i) for i in range(10)]
    assert contract_of(tiny_ckpt)["examples"]["count"] == n


def test_if_missing_skips_an_up_to_date_export(tiny_ckpt, capsys, tmp_path):
    before = snapshot(tiny_ckpt / "onnx")
    assert main([str(tiny_ckpt), "--if-missing", "--fp16", "--int8"]) == 0
    assert "up to date" in capsys.readouterr().out
    assert snapshot(tiny_ckpt / "onnx") == before
    # other weights (a copy trained further) are not up to date
    other = tmp_path / "ckpt"
    shutil.copytree(tiny_ckpt, other)
    (other / "model.safetensors").write_bytes((other / "model.safetensors").read_bytes() + b" ")
    assert not is_up_to_date(other)
    assert is_up_to_date(tiny_ckpt, fp16=True, int8=True)
    assert not is_up_to_date(tiny_ckpt, out=tmp_path / "nothing-here")


def test_if_missing_answers_without_torch(tiny_ckpt):
    """`make demo` runs --if-missing on every start: it must not pay for importing torch."""
    code = ("import sys; sys.modules['torch'] = None\n"
            "from vaekit.export.__main__ import main\n"
            f"sys.exit(main([{str(tiny_ckpt)!r}, '--if-missing']))")
    run = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr[-1500:]
    assert "up to date" in run.stdout


@pytest.fixture
def copied_ckpt(tiny_ckpt, tmp_path, monkeypatch) -> Path:
    """A copy of the tiny checkpoint whose 'export' copies the shared graphs (fast, same weights)."""
    ckpt = tmp_path / "ckpt"
    shutil.copytree(tiny_ckpt, ckpt)
    real = tiny_ckpt / "onnx"

    def fake_export_graph(module, example, path, **kw):
        shutil.copyfile(real / path.name, path)
        return onnx.load(str(path))

    monkeypatch.setattr(precisions, "export_graph", fake_export_graph)
    return ckpt


def test_a_re_export_keeps_the_precisions_the_folder_had(copied_ckpt, capsys):
    """--if-missing on a stale export (its weights changed) writes fp16 and int8 again."""
    out = copied_ckpt / "onnx"
    contract = json.loads((out / "vaekit.json").read_text())
    assert set(contract["variants"]) == {"fp16", "int8"}
    contract["checkpoint_sha256"] = "0" * 64  # as after another epoch of training
    (out / "vaekit.json").write_text(json.dumps(contract))
    assert main([str(copied_ckpt), "--if-missing"]) == 0
    assert "keeping the fp16, int8 graphs" in capsys.readouterr().out
    after = contract_of(copied_ckpt)
    assert after["checkpoint_sha256"] == sha(copied_ckpt / "model.safetensors")
    assert set(after["variants"]) == {"fp16", "int8"}
    for name in ("encoder.fp16.onnx", "decoder.fp16.onnx", "encoder.int8.onnx", "decoder.int8.onnx"):
        assert (out / name).is_file()


def test_parity_failure_writes_nothing_and_keeps_the_previous_export(copied_ckpt, monkeypatch):
    before = snapshot(copied_ckpt / "onnx")
    real = pipeline.torch_outputs

    def drifted(*args):
        ref = real(*args)
        ref[7]["image"] = ref[7]["image"] + 1e-3  # as if one op exported differently
        return ref

    monkeypatch.setattr(pipeline, "torch_outputs", drifted)
    with pytest.raises(ParityError, match=r"decoder image at batch 7: 0\.001"):
        export_checkpoint(copied_ckpt, progress=False)
    assert snapshot(copied_ckpt / "onnx") == before
    assert sorted(p.name for p in copied_ckpt.iterdir() if p.name.startswith(".")) == []


def test_crash_midway_leaves_no_half_written_folder(copied_ckpt, monkeypatch, tmp_path):
    def boom(*args, **kwargs):
        raise KeyboardInterrupt  # e.g. Ctrl-C while the decoder exports

    monkeypatch.setattr(pipeline, "onnx_parity", boom)
    out = tmp_path / "fresh-out"
    with pytest.raises(KeyboardInterrupt):
        export_checkpoint(copied_ckpt, out=out, progress=False)
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_reexport_replaces_the_folder_and_skips_examples_without_data(copied_ckpt, tmp_path, capsys):
    (copied_ckpt / "onnx" / "stale.txt").write_text("from an older export")
    c = export_checkpoint(copied_ckpt, data_root=str(tmp_path / "no-data-here"), progress=False)
    assert "examples.npz not written" in capsys.readouterr().out
    assert c["examples"] is None and c["parity"]["inputs"] == "uniform noise"
    assert sorted(p.name for p in (copied_ckpt / "onnx").iterdir()) == ["decoder.onnx", "encoder.onnx", "vaekit.json"]


def test_an_export_reads_the_checkpoint_config_once(copied_ckpt, monkeypatch):
    """The model, its data config and the test images all come from one read of config.json."""
    from vaekit.train import checkpoint

    reads = []
    real = checkpoint.read_config
    monkeypatch.setattr(checkpoint, "read_config", lambda folder: reads.append(folder) or real(folder))
    contract = export_checkpoint(copied_ckpt, progress=False)
    assert len(reads) == 1, f"config.json read {len(reads)} times"
    assert contract["parity"]["inputs"] == "test images"  # the split came from that one read


def test_refuses_to_replace_a_folder_that_is_not_an_export(tiny_ckpt, tmp_path):
    out = tmp_path / "photos"
    out.mkdir()
    (out / "holiday.jpg").write_bytes(b"precious")
    with pytest.raises(ValueError, match="not a vaekit export folder"):
        export_checkpoint(tiny_ckpt, out=out, progress=False)
    assert (out / "holiday.jpg").read_bytes() == b"precious"


def test_cli_reports_a_missing_checkpoint(tmp_path, capsys):
    assert main([str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert "no checkpoint folder" in err and "python -m vaekit.train" in err


@pytest.mark.slow
@pytest.mark.realdata
def test_export_the_shipped_mnist_z2(tmp_path):
    assert (SHIPPED / "model.safetensors").is_file(), f"{SHIPPED} is shipped in git and must be there"
    c = export_checkpoint(SHIPPED, out=tmp_path / "onnx", examples=16, progress=False)
    worst = max(d for g in ("encoder", "decoder") for per_b in c["parity"][g].values() for d in per_b.values())
    assert worst <= TOLERANCE and c["latent_dim"] == 2
    if c["examples"] is None:
        pytest.skip("exported and parity-checked; the MNIST test split is absent, so no reconstruction check")
    from vaekit.runtime import VAE

    vae = VAE.load(tmp_path / "onnx", providers="cpu")
    ex = vae.examples()
    recon = vae.reconstruct(ex.images)
    err = np.abs(recon - ex.images / 255.0).mean()
    assert err < 0.2, f"the shipped model reconstructs test digits poorly (mean abs error {err:.3f})"
