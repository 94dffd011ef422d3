"""The static page in web/ decodes in Chromium with onnxruntime-web, matching Python ORT.

Served by a plain static file server (any host works); the page reads the shape from
vaekit.json, loads decoder.onnx once, and then decodes seeded samples and a dragged 2-D
point without a single request to the server.
"""

from __future__ import annotations

from urllib.parse import urlparse

import numpy as np
import onnxruntime as ort
import pytest
from embed_support import REPO, SHIPPED

pytestmark = pytest.mark.slow  # drives Chromium

MODEL = SHIPPED / "mnist-z2" / "onnx"
TOLERANCE = 1e-4
ARTIFACTS = REPO / "test-artifacts"


@pytest.fixture(scope="module")
def page(browser, static_site):
    assert (MODEL / "decoder.onnx").is_file(), f"{MODEL} has no decoder.onnx: the shipped export is in git"
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    pg.requests, pg.errors = [], []
    pg.on("request", lambda r: pg.requests.append(r.url))
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    pg.goto(f"{static_site}web/index.html?model=/checkpoints/mnist-z2/onnx/&ep=wasm")
    pg.evaluate("() => window.vaekit.ready")
    yield pg
    context.close()


def python_decode(z: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(MODEL / "decoder.onnx"), providers=["CPUExecutionProvider"])
    return session.run(None, {"z": z.astype(np.float32)})[0]


def canvas_gray(page, selector: str) -> np.ndarray:
    """The canvas's own pixels (red channel of a grey picture), as the page drew them."""
    rgba = page.evaluate("""sel => { const c = document.querySelector(sel);
        return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data); }""", selector)
    w, h = page.evaluate("sel => [document.querySelector(sel).width, document.querySelector(sel).height]", selector)
    return np.asarray(rgba, dtype=np.int16).reshape(h, w, 4)[..., 0]


def test_decode_matches_python_onnxruntime(page):
    z = np.random.default_rng(0).standard_normal((5, 2)).astype(np.float32)
    before = len(page.requests)
    got = page.evaluate("z => window.vaekit.decode(z, 5).then(a => Array.from(a))", z.ravel().tolist())
    got = np.asarray(got, dtype=np.float32).reshape(5, 1, 28, 28)
    assert np.abs(got - python_decode(z)).max() <= TOLERANCE
    assert page.requests[before:] == [], "decoding must not ask the server for anything"


def test_seeded_samples_are_painted_as_python_decodes_them(page):
    before = len(page.requests)
    page.fill("#seed", "7")
    page.fill("#count", "9")
    page.click("#sample-button")
    page.wait_for_function("() => document.querySelector('#sample-timing').textContent.includes('seed 7')")
    z = np.asarray(page.evaluate("() => window.vaekit.lastZ"), dtype=np.float32).reshape(9, 2)
    expected = np.round(python_decode(z) * 255)
    painted = canvas_gray(page, "#samples")
    assert painted.shape == (3 * 28 + 2 * 2, 3 * 28 + 2 * 2), "a 3x3 grid of 28-px tiles, 2-px gaps"
    tile = painted[30:58, 60:88]  # the sixth sample: row 1, column 2
    assert np.abs(tile - expected[5, 0]).max() <= 1, "canvas pixels = round(255 * Python ORT image)"
    # the same seed gives the same z (a page reload shows the same samples)
    page.click("#sample-button")
    page.wait_for_timeout(200)
    assert np.allclose(page.evaluate("() => window.vaekit.lastZ"), z.ravel())
    assert "ms on wasm" in page.text_content("#sample-timing")
    assert page.requests[before:] == [], "sampling must not ask the server for anything"


def test_dragging_the_point_decodes_where_it_is_dropped(page):
    before = len(page.requests)
    box = page.locator("#pad").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    for k in range(1, 11):
        page.mouse.move(box["x"] + box["width"] * (0.5 + 0.025 * k), box["y"] + box["height"] * (0.5 - 0.025 * k))
    page.mouse.up()
    page.wait_for_function("() => window.vaekit.lastZ.length === 2 && window.vaekit.lastZ[0] > 1.2")
    page.wait_for_timeout(300)  # the drop's own decode
    z = np.asarray(page.evaluate("() => window.vaekit.lastZ"), dtype=np.float32)
    assert z[0] == pytest.approx(1.5, abs=0.1) and z[1] == pytest.approx(1.5, abs=0.1)
    painted = canvas_gray(page, "#decoded")
    assert np.abs(painted - np.round(python_decode(z[None]) * 255)[0, 0]).max() <= 1
    assert page.requests[before:] == [], "dragging must not ask the server for anything"
    assert page.errors == [], f"JavaScript errors: {page.errors}"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-page.png"), full_page=True)


def test_everything_the_page_loaded_came_from_its_own_host(page, static_site):
    host = urlparse(static_site).netloc
    assert {urlparse(u).netloc for u in page.requests if urlparse(u).scheme.startswith("http")} == {host}


@pytest.fixture(scope="module")
def cvae_export(tmp_path_factory):
    """A tiny conditional model exported under test-artifacts/ (the static site serves the repository)."""
    import shutil

    import torch
    from vaekit.export import export_checkpoint
    from vaekit.train import CVAEConfig, build_model, save_checkpoint

    torch.manual_seed(0)
    model = build_model(CVAEConfig(dim=8, dim_mults=(1, 2), latent_dim=3, num_classes=4))
    torch.nn.init.normal_(model.decoder.label_embedding.weight)  # classes decode visibly apart
    ckpt = save_checkpoint(tmp_path_factory.mktemp("cvae") / "ckpt", model)
    out = ARTIFACTS / "web-cvae"
    shutil.rmtree(out, ignore_errors=True)
    export_checkpoint(ckpt, out=out, examples=0, progress=False)
    yield out
    shutil.rmtree(out, ignore_errors=True)


def test_a_conditional_model_decodes_the_chosen_class(browser, static_site, cvae_export):
    page = browser.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{static_site}web/index.html?model=/test-artifacts/web-cvae/&ep=wasm")
    page.evaluate("() => window.vaekit.ready")
    assert page.locator("#label option").count() == 4 and page.is_visible("#label-box")
    assert not page.is_visible("#explorer"), "a 3-D latent has no 2-D pad"
    z = np.random.default_rng(1).standard_normal((4, 3)).astype(np.float32)
    labels = [0, 1, 2, 3]
    got = page.evaluate("([z, l]) => window.vaekit.decode(z, 4, l).then(a => Array.from(a))", [z.ravel().tolist(), labels])
    session = ort.InferenceSession(str(cvae_export / "decoder.onnx"), providers=["CPUExecutionProvider"])
    expected = session.run(None, {"z": z, "label": np.array(labels, dtype=np.int64)})[0]
    assert np.abs(np.asarray(got, dtype=np.float32).reshape(expected.shape) - expected).max() <= TOLERANCE
    page.close()


# ----------------------------------------------------------------------- the pad's scatter


def test_the_pad_shows_where_the_test_images_lie_coloured_by_class(page):
    """examples.npz is encoded in the page: the same means as Python ORT, one colour per class."""
    scatter = page.evaluate("() => ({means: Array.from(window.vaekit.scatter.means), "
                            "labels: window.vaekit.scatter.labels, names: window.vaekit.scatter.names})")
    with np.load(MODEL / "examples.npz") as f:
        images, labels = f["images"], f["labels"]
    encoder = ort.InferenceSession(str(MODEL / "encoder.onnx"), providers=["CPUExecutionProvider"])
    means = encoder.run(["mean"], {"image": images.astype(np.float32) / 255})[0]
    got = np.asarray(scatter["means"], dtype=np.float32).reshape(-1, 2)
    assert got.shape == means.shape and np.abs(got - means).max() <= TOLERANCE
    assert scatter["labels"] == labels.tolist() and scatter["names"] == [str(i) for i in range(10)]
    assert page.locator("#legend span").count() == 10
    rgba = page.evaluate("""() => { const c = document.querySelector('#pad');
        return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data); }""")
    rgb = np.asarray(rgba, dtype=np.int16).reshape(-1, 4)[:, :3]
    coloured = (rgb.max(axis=1) - rgb.min(axis=1)) > 60  # the dots (the grid and text are grey)
    assert coloured.mean() > 0.02, "the class-coloured dots are painted on the pad"


def test_a_static_host_without_a_model_says_how_to_name_one(browser, static_site):
    pg = browser.new_page()
    pg.goto(f"{static_site}web/index.html")
    pg.evaluate("() => window.vaekit.ready")
    assert "?model=URL of an export folder" in pg.text_content("#status")
    assert not pg.is_visible("#model-list") and not pg.is_visible("#sampler")
    pg.close()


# ----------------------------------------------------------------------- served by the demo


@pytest.fixture(scope="module")
def demo_site():
    """The page as ``python -m vaekit.demo`` serves it: web/ at /web, two shipped models under
    /web/models/, and their list at /web/models/index.json."""
    import socket
    import threading
    import time

    import uvicorn
    from fastapi import FastAPI
    from vaekit.demo.server import mount_web

    app = FastAPI()
    mount_web(app, REPO / "web", {name: SHIPPED / name / "onnx" for name in ("mnist-z2", "celeba64")})
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_without_a_model_the_page_lists_the_demos_models_and_links_back(browser, demo_site):
    pg = browser.new_page()
    pg.set_default_timeout(60_000)
    pg.goto(f"{demo_site}/web/")
    pg.evaluate("() => window.vaekit.ready")
    assert pg.locator("#models li").count() == 2
    assert "precisions fp32/fp16/int8" in pg.text_content("#models li:has-text('mnist-z2')")
    assert pg.is_visible("#model-picker") and pg.is_visible("#demo-link")
    assert pg.get_attribute("#demo-link", "href") == "../"  # /web/ -> the demo at /
    pg.click("#models a:has-text('mnist-z2')")
    pg.wait_for_url("**model=%2Fweb%2Fmodels%2Fmnist-z2%2F**")
    pg.evaluate("() => window.vaekit.ready")
    options = pg.locator("#precision-picker option").all_text_contents()
    assert options == ["fp32", "fp16", "int8"] and pg.input_value("#model-picker") == "/web/models/mnist-z2/"
    pg.close()


def test_a_precision_the_model_does_not_ship_is_named_as_such(browser, demo_site):
    pg = browser.new_page()
    pg.set_default_timeout(60_000)
    pg.goto(f"{demo_site}/web/?model=/web/models/celeba64/&precision=fp16&ep=wasm")
    pg.evaluate("() => window.vaekit.ready.catch(() => false)")
    status = pg.text_content("#status")
    assert "celeba64 has no fp16 graphs: it ships fp32" in status, status
    assert "external data" not in status
    assert pg.locator("#precision-picker option").all_text_contents() == ["fp32"]
    pg.close()
