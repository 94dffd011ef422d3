"""Re-take the README screenshots of the demo in a real (headless) Chromium.

    .venv/bin/python docs/screenshots/capture.py [--models checkpoints/mnist-z2] [--out docs/screenshots]

Serves the given export folders on a free localhost port, opens the page with Playwright
driving /usr/bin/chromium and writes ``demo.png`` (the latent explorer after a click on the
plot) and ``demo-sample.png`` (the Sample tab). Needs a 2-D model for the explorer shot.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=[str(REPO / "checkpoints" / "mnist-z2")])
    p.add_argument("--out", default=str(REPO / "docs" / "screenshots"))
    p.add_argument("--chromium", default="/usr/bin/chromium")
    p.add_argument("--point", nargs=2, type=float, default=None, metavar=("Z1", "Z2"),
                   help="latent point to click on the scatter (default: the median latent of "
                        "the test images labelled --label)")
    p.add_argument("--label", type=int, default=0, help="class whose median latent is clicked")
    args = p.parse_args(argv)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    if not Path(args.chromium).is_file():
        print(f"error: {args.chromium} not found: apt-get install chromium", file=sys.stderr)
        return 2

    import numpy as np
    from playwright.sync_api import sync_playwright
    from vaekit.demo.app import build_app, launch, load_models

    models = load_models(args.models)
    two_d = [m for m in models.values() if m.latent_dim == 2]
    if not two_d:
        print("error: the explorer screenshot needs a model with a 2-D latent", file=sys.stderr)
        return 2
    model = two_d[0]
    if args.point is None:
        ex = model.examples
        if ex is None or not np.any(ex.labels == args.label):
            point = (0.0, 0.0)
        else:
            mean, _ = model.vae.encode(ex.images[ex.labels == args.label][:512])
            point = tuple(float(v) for v in np.median(mean, axis=0))
    else:
        point = tuple(args.point)
    app = build_app(models)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _, url, _ = launch(app, port=port, prevent_thread_lock=True, quiet=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=args.chromium, headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 860}, device_scale_factor=1)
            page.set_default_timeout(60_000)
            page.goto(url, wait_until="networkidle")

            page.get_by_role("tab", name="Sample").click()
            page.locator("#sample-count input[type=number]").fill("36")
            page.locator("#sample-count input[type=number]").press("Enter")
            page.locator("#sample-button").click()
            page.wait_for_function(
                "() => { const t = document.querySelector('#sample-details textarea');"
                " return t && t.value.startsWith('36 samples'); }")
            page.wait_for_timeout(500)
            page.screenshot(path=str(out / "demo-sample.png"))

            page.get_by_role("tab", name="Latent explorer").click()
            plot = page.locator("#explorer-plot img")
            plot.wait_for(state="visible")
            model.prepare_explorer() if model.scatter is None else None
            px, py = model.scatter.to_pixel(*point)
            nw, nh = model.scatter.image.shape[1], model.scatter.image.shape[0]
            box = plot.bounding_box()  # the picture is scaled to fit (object-fit: contain)
            scale = min(box["width"] / nw, box["height"] / nh)
            ox, oy = (box["width"] - nw * scale) / 2, (box["height"] - nh * scale) / 2
            plot.click(position={"x": ox + px * scale, "y": oy + py * scale})
            page.wait_for_function(
                "() => { const t = document.querySelector('#explorer-details textarea');"
                " return t && t.value.startsWith('z = ') && !t.value.startsWith('z = (0.00, 0.00)'); }")
            page.wait_for_timeout(500)
            page.screenshot(path=str(out / "demo.png"))
            browser.close()
    finally:
        app.close()
    print(f"wrote {out / 'demo.png'} and {out / 'demo-sample.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
