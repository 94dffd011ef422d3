"""The distilled fast decoder in an export: its graph, its record, parity, and what is refused."""

from __future__ import annotations

import json
import shutil

import numpy as np
import onnx
import pytest
import torch
from support import tiny_checkpoint, tiny_student, write_fake_mnist
from vaekit.export import export_checkpoint
from vaekit.export.fast_metrics import psnr, ssim
from vaekit.export.onnx_checks import check_portable
from vaekit.runtime import build_session
from vaekit.train.student_folder import load_student

pytestmark = pytest.mark.slow  # distils and exports tiny students


def contract_of(ckpt):
    return json.loads((ckpt / "onnx" / "vaekit.json").read_text())


def test_the_export_ships_the_student_as_a_third_graph_with_its_record(fast_ckpt):
    c = contract_of(fast_ckpt)
    fast = c["fast_decoder"]
    out = fast_ckpt / "onnx"
    assert fast["file"] == "decoder.fast.onnx" and (out / fast["file"]).is_file()
    assert fast["inputs"] == c["decoder"]["inputs"] and fast["outputs"] == c["decoder"]["outputs"]
    for where in ("posterior", "prior"):
        q = fast["quality"][where]
        assert 0 < q["psnr_db"] <= 200 and -1 <= q["ssim"] <= 1
    cost = fast["cost"]
    assert 0 < cost["parameters"] < cost["teacher_parameters"]
    assert 0 < cost["flops_per_image"] < cost["teacher_flops_per_image"]
    assert fast["latency"]["fast_ms"] > 0 and fast["latency"]["teacher_ms"] > 0
    assert fast["variants"] == {} and "int8" in fast["not_written"]  # an int8 student did not pay
    assert not (out / "decoder.fast.int8.onnx").exists()
    assert fast["trained_steps"] == 4
    model = onnx.load(str(out / fast["file"]))
    check_portable(model, fast["file"])  # the same checks as the other graphs
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["decoder_kind"] == "fast" and meta["latent_dim"] == "2"
    assert not any("Norm" in n.op_type for n in model.graph.node)


def test_fast_graph_matches_the_torch_student(fast_ckpt):
    student, _ = load_student(fast_ckpt / "student")
    z = np.random.default_rng(0).standard_normal((7, 2)).astype(np.float32)
    got = build_session(fast_ckpt / "onnx" / "decoder.fast.onnx").run(None, {"z": z})[0]
    with torch.no_grad():
        want = student(torch.from_numpy(z)).numpy()
    assert np.abs(got - want).max() <= contract_of(fast_ckpt)["fast_decoder"]["parity"]["tolerance"]


def test_an_export_without_a_student_has_no_fast_decoder(tiny_ckpt):
    assert "fast_decoder" not in contract_of(tiny_ckpt)
    assert not (tiny_ckpt / "onnx" / "decoder.fast.onnx").exists()


def test_a_student_of_another_latent_size_is_refused_and_nothing_is_written(tmp_path, fast_ckpt):
    data = write_fake_mnist(tmp_path / "data", train=16, test=8)
    other = tiny_checkpoint(tmp_path / "z3", data, latent_dim=3)
    tiny_student(other, steps=1)
    target = tiny_checkpoint(tmp_path / "z2", data, latent_dim=2)
    shutil.copytree(other / "student", target / "student")
    with pytest.raises(ValueError, match="does not fit its teacher: it maps latent_dim 3"):
        export_checkpoint(target, progress=False, examples=0)
    assert not (target / "onnx").exists()


def test_a_student_of_other_weights_is_refused(tmp_path):
    data = write_fake_mnist(tmp_path / "data", train=16, test=8)
    a = tiny_checkpoint(tmp_path / "a", data, seed=0)
    tiny_student(a, steps=1)
    b = tiny_checkpoint(tmp_path / "b", data, seed=1)  # same shapes, other weights
    shutil.copytree(a / "student", b / "student")
    with pytest.raises(ValueError, match="distilled from other weights"):
        export_checkpoint(b, progress=False, examples=0)


def test_psnr_and_ssim_of_identical_and_different_images():
    a = np.random.default_rng(0).random((2, 3, 16, 16)).astype(np.float32)
    assert psnr(a, a) == 200.0 and ssim(a, a) == 1.0
    noisy = np.clip(a + 0.1, 0, 1)
    assert 15 < psnr(a, noisy) < 25 and ssim(a, noisy) < 1.0


def test_triton_serves_the_fast_decoder_beside_the_others(fast_ckpt, tmp_path, capsys):
    from vaekit.export.triton import TritonConfig, write_triton_repo

    repo = tmp_path / "repo"
    folders = write_triton_repo(fast_ckpt / "onnx", repo, name="tiny", config=TritonConfig(max_batch_size=8))
    assert [f.name for f in folders] == ["tiny_encoder", "tiny_decoder", "tiny_decoder_fast"]
    fast = repo / "tiny_decoder_fast"
    assert (fast / "1" / "model.onnx").read_bytes() == (fast_ckpt / "onnx" / "decoder.fast.onnx").read_bytes()
    text = (fast / "config.pbtxt").read_text()
    assert 'name: "tiny_decoder_fast"' in text and "# vaekit fast decoder" in text
    assert text.split("max_batch_size")[1] == (repo / "tiny_decoder" / "config.pbtxt").read_text().split(
        "max_batch_size")[1], "the same tensors, batching and instances as the decoder"
    # the export leaves the int8 fast decoder out by design: the int8 repository serves the rest
    folders = write_triton_repo(fast_ckpt / "onnx", tmp_path / "r2", name="tiny", config=TritonConfig(precision="int8"))
    assert [f.name for f in folders] == ["tiny_encoder", "tiny_decoder"]
    assert "note: tiny_decoder_fast not written: the export has no int8 fast decoder (not written: static int8" in capsys.readouterr().out


def test_if_missing_re_exports_when_the_student_changes(fast_ckpt, tmp_path):
    from vaekit.export import is_up_to_date

    ckpt = shutil.copytree(fast_ckpt, tmp_path / "ckpt")
    assert is_up_to_date(ckpt, int8=True)
    weights = ckpt / "student" / "model.safetensors"
    student, _ = load_student(ckpt / "student")
    with torch.no_grad():
        student.input_projection.bias.add_(0.1)  # distilled again: other weights
    from safetensors.torch import save_file
    save_file(student.state_dict(), str(weights))
    assert not is_up_to_date(ckpt, int8=True), "a new student must reach the export"
    shutil.rmtree(ckpt / "student")
    assert not is_up_to_date(ckpt, int8=True), "a removed student must leave the export"
