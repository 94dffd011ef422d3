"""A real browser: Playwright drives Debian's Chromium against the live demo.

Each test opens its own page (no test depends on another's clicks): clicks "Sample" and
checks the grid rendered (non-blank pixels), a built-in example and a drawing, a click on
the latent plot, a model switch, and saves screenshots under test-artifacts/. Skipped with a message only when
/usr/bin/chromium is missing (``make test`` installs it with apt-get where it can).
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
from PIL import Image

pytestmark = [
    pytest.mark.slow,  # starts the demo and drives Chromium
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]

CHROMIUM = Path(os.environ.get("VAEKIT_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",  # root in a container
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def browser(served):
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (`apt-get install chromium`, "
                    "done by `make test` when apt is available) to run the browser test")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, served, capfd):
    """A fresh page for each test (no test depends on what another clicked), recording
    requests that leave the demo's host, failed requests and JavaScript errors; a server
    traceback while the page was open fails the test at teardown."""
    url, _ = served
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    pg.outside_requests = []  # every request to a host other than the demo's
    pg.failed_requests = []  # pictures cut short (ERR_CONTENT_LENGTH_MISMATCH) or missing
    pg.errors = []
    host = urlparse(url).netloc
    pg.on("request", lambda r: urlparse(r.url).netloc not in ("", host)
          and urlparse(r.url).scheme in ("http", "https", "ws", "wss")
          and pg.outside_requests.append(r.url))
    # pictures only (event streams end by an abort), and not the browser cancelling a picture
    # that a newer one replaced before it loaded (net::ERR_ABORTED)
    pg.on("requestfailed", lambda r: "/file=" in r.url and "ERR_ABORTED" not in (r.failure or "")
          and pg.failed_requests.append(f"{r.url}: {r.failure}"))
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    pg.goto(url, wait_until="networkidle")
    yield pg
    context.close()
    err = capfd.readouterr().err  # the server runs in this process
    assert "Traceback" not in err, f"the server failed while the page was open:\n{err[-2000:]}"


def rendered_pixels(element) -> np.ndarray:
    """The element as the browser painted it (a screenshot of just that element)."""
    return np.asarray(Image.open(io.BytesIO(element.screenshot())).convert("L"), dtype=np.float32)


def test_click_sample_and_see_the_grid(page):
    page.get_by_role("tab", name="Sample").click()
    page.locator("#sample-button").click()
    img = page.locator("#sample-output img")
    img.wait_for(state="visible")
    page.wait_for_function(
        "() => { const i = document.querySelector('#sample-output img');"
        " return i && i.complete && i.naturalWidth > 0; }"
    )
    natural = page.evaluate(
        "() => { const i = document.querySelector('#sample-output img');"
        " return [i.naturalWidth, i.naturalHeight]; }"
    )
    assert natural == [4 * (4 * 28 + 3 * 2)] * 2, "16 samples: a 4x4 grid of 28-px tiles, 4x"
    pixels = rendered_pixels(img)
    page.screenshot(path=str(ARTIFACTS / "demo-sample.png"), full_page=True)
    assert pixels.size > 100 * 100, f"the image is painted at a visible size, got {pixels.shape}"
    assert pixels.std() > 5, "the painted samples are not a blank (single-colour) picture"
    assert (pixels < 128).mean() > 0.05 and (pixels > 128).mean() > 0.02, "dark and light pixels"
    timing = page.locator("#sample-details textarea").input_value()
    assert "16 samples" in timing and " ms " in timing
    assert page.errors == [], f"JavaScript errors on the page: {page.errors}"


def test_bad_input_shows_a_readable_message_not_a_trace(page):
    """Clicking Reconstruct with nothing uploaded: an error toast in words, no trace."""
    page.get_by_role("tab", name="Reconstruct").click()
    page.get_by_role("tab", name="Upload").click()
    page.locator("#reconstruct-button").click()
    toast = page.get_by_text("no image uploaded: upload a picture")
    toast.first.wait_for(state="visible")
    page.screenshot(path=str(ARTIFACTS / "demo-error.png"), full_page=True)
    assert "Traceback" not in page.content()


def wait_for_details(page, prefix: str) -> str:
    page.wait_for_function(
        "p => { const t = document.querySelector('#rec-details textarea');"
        " return t && t.value.startsWith(p); }", arg=prefix)
    return page.locator("#rec-details textarea").input_value()


def test_click_a_builtin_example_and_draw_a_digit(page):
    """A first-time visitor's two clicks: a built-in example, then a drawn stroke."""
    page.get_by_role("tab", name="Reconstruct").click()
    page.get_by_role("tab", name="Examples").click()
    page.locator("#example-gallery button").nth(2).click()
    assert "latent mean" in wait_for_details(page, "example #")

    page.get_by_role("tab", name="Draw").click()
    # no tool to find first: the brush is chosen when the canvas appears
    page.wait_for_function("() => document.querySelector('#sketchpad')?.dataset.vaekitBrush === '1'")
    box = page.locator("#sketchpad canvas").first.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.2
    page.mouse.move(x, y)
    page.mouse.down()
    for k in range(1, 21):
        page.mouse.move(x, y + box["height"] * 0.6 * k / 20)
    page.mouse.up()
    page.locator("#sketch-button").click()
    assert "decode" in wait_for_details(page, "sketch")
    seen = rendered_pixels(page.locator("#rec-input img"))
    assert seen.std() > 5, "the drawn stroke reaches the model as a visible digit"
    page.screenshot(path=str(ARTIFACTS / "demo-draw.png"), full_page=True)


def test_latent_explorer_click_moves_the_point(page):
    page.get_by_role("tab", name="Latent explorer").click()
    plot = page.locator("#explorer-plot img")
    plot.wait_for(state="visible")
    box = plot.bounding_box()
    plot.click(position={"x": box["width"] * 0.75, "y": box["height"] * 0.3})
    page.wait_for_function(
        "() => { const t = document.querySelector('#explorer-details textarea');"
        " return t && t.value.startsWith('z = ') && !t.value.startsWith('z = (0.00, 0.00)'); }"
    )
    text = page.locator("#explorer-details textarea").input_value()
    z1, z2 = (float(v) for v in text.split("(")[1].split(")")[0].split(","))
    assert z1 > 0.5 and z2 > 0.5, f"a click right of and above the centre gives z1, z2 > 0: {text}"
    decoded = page.locator("#explorer-output img")
    decoded.wait_for(state="visible")
    # both pictures finish loading whole (a picture cut short never gets a natural width)
    page.wait_for_function(
        "() => { const i = [...document.querySelectorAll('#explorer-plot img, #explorer-output img')];"
        " return i.length == 2 && i.every(x => x.complete && x.naturalWidth > 0); }", timeout=15_000)
    assert page.failed_requests == [], f"requests cut short: {page.failed_requests}"
    page.screenshot(path=str(ARTIFACTS / "demo-explorer.png"), full_page=True)


def test_switching_models_resets_the_explorer(page):
    """A model without a 2-D latent hides the explorer's plot and sliders; switching back
    shows them at the origin, with that model's own timing."""
    page.get_by_role("tab", name="Latent explorer").click()
    page.locator("#z1 input[type='number']").fill("1.5")
    page.locator("#z1 input[type='number']").press("Enter")
    page.wait_for_function(
        "() => document.querySelector('#explorer-details textarea').value.startsWith('z = (1.50')")
    pick_model(page, "rgb-tiny")
    page.wait_for_function(
        "() => document.querySelector('#explorer-note').innerText.includes('rgb-tiny has a 3-D')")
    assert not page.locator("#explorer-plot").is_visible(), "no plot for a 3-D latent"
    assert not page.locator("#z1").is_visible(), "no sliders that would do nothing"
    page.wait_for_timeout(500)  # the sliders' reset reaches the server (a traceback fails the test)
    pick_model(page, "mnist-tiny")
    page.wait_for_function(
        "() => { const t = document.querySelector('#explorer-details textarea');"
        " return t && t.value.startsWith('z = (0.00, 0.00)'); }")
    assert page.locator("#z1 input[type='number']").input_value() in ("0", "0.0", "0.00")
    assert page.errors == [], f"JavaScript errors on the page: {page.errors}"


def pick_model(page, name: str) -> None:
    page.locator("#model-picker input").click()
    page.get_by_role("option", name=name).first.click()


def test_the_page_never_reaches_outside(page):
    for tab in ("Reconstruct", "Sample", "Interpolate", "Latent explorer"):
        page.get_by_role("tab", name=tab).click()
    page.wait_for_load_state("networkidle")
    assert page.outside_requests == [], f"requests left localhost: {page.outside_requests}"


def test_opening_the_page_computes_nothing(browser, served, monkeypatch):
    """The first view is computed once, when the app is built: a visitor opening the page
    runs no model (a page-load handler or a slider's first change would)."""
    url, models = served
    calls = []
    for m in models.values():
        for method in ("encode", "decode", "sample"):
            real = getattr(m.vae, method)

            def counted(*args, _real=real, _key=f"{m.name}.{method}", **kwargs):
                calls.append(_key)
                return _real(*args, **kwargs)

            monkeypatch.setattr(m.vae, method, counted)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        pg = context.new_page()
        pg.goto(url, wait_until="networkidle")
        pg.get_by_role("tab", name="Latent explorer").click()  # tabs are drawn when shown
        text = pg.locator("#explorer-details textarea").input_value()
        assert text.startswith("z = (0.00, 0.00)"), f"the explorer opens on its first point: {text!r}"
        pg.wait_for_timeout(500)
    finally:
        context.close()
    assert calls == [], f"opening the page ran the models: {calls}"
