"""The export ships a fitted or learned prior as prior.onnx, recorded in vaekit.json, and refuses
one it cannot trust (older weights, another latent size, NaN) with the command that fixes it."""

import json
import shutil

import numpy as np
import pytest
from support import assert_clear, run_main
from vaekit.export.__main__ import main as export_main
from vaekit.export.freshness import is_up_to_date
from vaekit.export.prior_graph import prior_model
from vaekit.format import PriorRecord, sha256_file
from vaekit.runtime.session import build_session
from vaekit.train.prior_file import FittedPrior, load_fitted_prior, prior_path
from vaekit.train.samplers import MixtureState

pytestmark = pytest.mark.slow  # fits and exports priors of tiny models


def contract(folder):
    return json.loads((folder / "vaekit.json").read_text())


@pytest.fixture(scope="module")
def ckpt(priors_exported):
    """The tiny checkpoint holding the fitted gaussian and gmm priors."""
    return priors_exported["gmm"].parent / "ckpt"


@pytest.mark.parametrize("name", ["gaussian", "gmm"])
def test_a_fitted_prior_is_exported_as_a_graph_with_its_record(priors_exported, ckpt, name):
    folder = priors_exported[name]
    c = contract(folder)
    record = PriorRecord.load(c["prior"], latent_dim=3)
    assert record.name == name and record.source == "fitted" and record.covariance == "full"
    assert record.sha256 == sha256_file(folder / "prior.onnx") and record.bytes == (folder / "prior.onnx").stat().st_size
    assert record.fitted_on["checkpoint_sha256"] == c["checkpoint_sha256"]
    assert record.fitted_on["split"] == "train" and record.fitted_on["seed"] == 0
    assert set(c["fitted_priors"]) == {"gaussian", "gmm"}
    # the graph maps noise exactly as the fitted state does, every component included
    state = load_fitted_prior(ckpt, name).state
    rng = np.random.default_rng(4)
    eps, u = rng.standard_normal((300, 3), dtype=np.float32), rng.random(300, dtype=np.float32)
    z = build_session(folder / "prior.onnx").run(None, {"eps": eps, "u": u})[0]
    np.testing.assert_allclose(z, state.transform(eps, u), atol=1e-5)


def test_normal_ships_no_graph_and_vamp_ships_its_learned_mixture(priors_exported):
    assert contract(priors_exported["normal"])["prior"] == {"name": "normal"}
    assert not (priors_exported["normal"] / "prior.onnx").exists()
    vamp = PriorRecord.load(contract(priors_exported["vamp"])["prior"])
    assert (vamp.name, vamp.source, vamp.covariance, vamp.components) == ("vamp", "learned", "diag", 5)


def test_auto_ships_the_fit_with_the_best_held_out_density(ckpt, tmp_path):
    export_main([str(ckpt), "--out", str(tmp_path / "auto"), "--examples", "0", "--quiet"])
    scores = {n: load_fitted_prior(ckpt, n).record["mean_log_density"]["valid"] for n in ("gaussian", "gmm")}
    assert contract(tmp_path / "auto")["prior"]["name"] == max(scores, key=scores.get)


def test_a_new_fit_makes_the_export_out_of_date(ckpt, tmp_path):
    copy = tmp_path / "ckpt"
    shutil.copytree(ckpt, copy)
    shutil.copytree(ckpt.parent / "gmm", copy / "onnx")
    shutil.copy(ckpt.parent / "gmm" / "vaekit.json", copy / "onnx" / "vaekit.json")
    assert is_up_to_date(copy)
    fitted = load_fitted_prior(copy, "gmm")
    FittedPrior(fitted.state, {**fitted.record, "seed": 9}).save(copy)
    assert not is_up_to_date(copy), "--if-missing must re-export to ship the new fit"


def test_triton_serves_the_prior_graph_beside_the_decoder(priors_exported, tmp_path):
    from vaekit.export.triton import write_triton_repo

    folders = write_triton_repo(priors_exported["gmm"], tmp_path, name="tiny")
    assert [f.name for f in folders] == ["tiny_encoder", "tiny_decoder", "tiny_prior"]
    text = (tmp_path / "tiny_prior" / "config.pbtxt").read_text()
    assert 'name: "eps"' in text and "dims: [ 3 ]" in text and 'name: "u"' in text and 'name: "z"' in text
    assert (tmp_path / "tiny_prior" / "1" / "model.onnx").read_bytes() == (priors_exported["gmm"] / "prior.onnx").read_bytes()
    assert [f.name for f in write_triton_repo(priors_exported["normal"], tmp_path / "n", name="n")] == \
        ["n_encoder", "n_decoder"]


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_figures_show_normal_and_the_shipped_prior_side_by_side(ckpt, tmp_path, backend):
    from vaekit.export.figures import FigureSettings, make_figures, open_codec
    from vaekit.train import plots

    copy = tmp_path / "ckpt"
    shutil.copytree(ckpt, copy)
    export_main([str(copy), "--prior", "gmm", "--examples", "0", "--quiet"])
    done = make_figures(copy, tmp_path / "fig", backend=backend, progress=False,
                        settings=FigureSettings(pairs=4, interpolation_rows=2, sample_rows=2, sample_columns=3))
    assert plots.SAMPLES_VS_NORMAL in done.paths and done.paths[plots.SAMPLES_VS_NORMAL].stat().st_size > 0
    codec = open_codec(copy, backend=backend)
    assert codec.default_prior == "gmm"
    state = load_fitted_prior(copy, "gmm").state
    rng = np.random.default_rng(0)  # the noise VAE.sample draws for seed 0
    eps, u = rng.standard_normal((6, 3), dtype=np.float32), rng.random(6, dtype=np.float32)
    np.testing.assert_allclose(codec.sample_latents(6, 0), state.transform(eps, u), atol=1e-5)
    np.testing.assert_array_equal(codec.sample_latents(6, 0, "normal"), eps)


def _copy_with_prior(ckpt, tmp_path, state, record):
    copy = tmp_path / "ckpt"
    shutil.copytree(ckpt, copy)
    prior_path(copy, "gmm").write_bytes(FittedPrior(state, record).to_bytes())
    return copy


def test_export_refuses_a_fitted_state_with_nan(ckpt, tmp_path, capsys):
    fitted = load_fitted_prior(ckpt, "gmm")
    means = fitted.state.means.copy()
    means[1, 0] = np.nan
    copy = _copy_with_prior(ckpt, tmp_path, MixtureState(fitted.state.weights, means, fitted.state.scales),
                            fitted.record)
    code, err = run_main(export_main, [str(copy), "--prior", "gmm", "--examples", "0", "--quiet"], capsys)
    assert_clear(code, err, "NaN or inf", "python -m vaekit.train.fit_prior", "--sampler gmm")
    assert not (copy / "onnx").exists(), "nothing is written"


def test_export_refuses_a_prior_of_another_latent_size(ckpt, tmp_path, capsys):
    fitted = load_fitted_prior(ckpt, "gmm")
    s = fitted.state
    other = MixtureState(s.weights, s.means[:, :2].copy(), s.scales[:, :2, :2].copy())
    copy = _copy_with_prior(ckpt, tmp_path, other, fitted.record)
    code, err = run_main(export_main, [str(copy), "--prior", "gmm", "--examples", "0", "--quiet"], capsys)
    assert_clear(code, err, "latents of size 2, the model's are 3", "fit_prior")


@pytest.mark.parametrize("argv,problem,fix", [
    (["--prior", "vamp"], "has no learned prior", "python -m vaekit.train.fit_prior"),
    (["--prior", "learned"], "has no learned prior", "python -m vaekit.train.fit_prior"),
    (["--prior", "flow"], "unknown --prior 'flow'", "choose one of"),
])
def test_export_refuses_a_prior_it_cannot_ship(ckpt, tmp_path, capsys, argv, problem, fix):
    code, err = run_main(export_main, [str(ckpt), "--out", str(tmp_path / "x"), *argv, "--quiet"], capsys)
    assert_clear(code, err, problem, fix)


def test_export_refuses_a_prior_never_fitted(priors_exported, tmp_path, capsys):
    ckpt = priors_exported["vamp"].parent / "vamp-ckpt"
    code, err = run_main(export_main, [str(ckpt), "--out", str(tmp_path / "x"), "--prior", "gmm", "--quiet"], capsys)
    assert_clear(code, err, "no 'gmm' prior was fitted", "python -m vaekit.train.fit_prior")


def test_the_graph_of_a_single_gaussian_ignores_u():
    state = MixtureState(np.ones(1, np.float32), np.array([[1.0, 2.0]], np.float32),
                         np.array([[[2.0, 0.0], [1.0, 1.0]]], np.float32))
    import onnxruntime as ort

    session = ort.InferenceSession(prior_model(state).SerializeToString(), providers=["CPUExecutionProvider"])
    eps = np.array([[1.0, 1.0], [1.0, 1.0]], np.float32)
    z = session.run(None, {"eps": eps, "u": np.array([0.0, 0.99], np.float32)})[0]
    np.testing.assert_allclose(z, [[3.0, 4.0], [3.0, 4.0]])


@pytest.mark.parametrize("wanted", ["learned", "vamp"])
def test_a_learned_prior_ships_under_its_variants_name(priors_exported, tmp_path, wanted):
    ckpt = priors_exported["vamp"].parent / "vamp-ckpt"
    export_main([str(ckpt), "--out", str(tmp_path / "x"), "--prior", wanted, "--examples", "0", "--quiet"])
    record = json.loads((tmp_path / "x" / "vaekit.json").read_text())["prior"]
    assert (record["name"], record["source"], record["components"]) == ("vamp", "learned", 5)
