"""The demo's endpoints through gradio_client against a live server on a free localhost port.

Sizes follow from the tiny models: 28x28 MNIST tiles are shown 4x (112 px), 16x16 colour
tiles 7x (112 px); grids have 2-pixel gaps before upscaling.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from PIL import Image

pytestmark = [
    pytest.mark.slow,  # starts the demo server
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]


def load(path) -> np.ndarray:
    return np.asarray(Image.open(path))


def numbers(text: str) -> list[float]:
    return [float(v) for v in re.findall(r"-?\d+\.\d+|-?\d+", text)]


@pytest.fixture(scope="module")
def digit_png(tmp_path_factory):
    """A dark vertical stroke on light paper, 300x200 (as a phone photo of a '1' would be)."""
    paper = np.full((300, 200), 245, np.uint8)
    paper[60:240, 90:112] = 15
    path = tmp_path_factory.mktemp("uploads") / "one.png"
    Image.fromarray(paper).save(path)
    return str(path)


def test_sample_returns_a_grid_of_the_asked_size_deterministically(client):
    path, text = client.predict("mnist-tiny", 7, 6, 1.0, api_name="/sample")
    grid = load(path)
    assert grid.shape == (4 * (2 * 28 + 2), 4 * (3 * 28 + 2 * 2)), "6 samples: 2 rows x 3 columns"
    assert grid.std() > 1, "the samples are not a blank picture"
    assert re.search(r"decode \d+\.\d ms", text) and "6 samples" in text
    again = load(client.predict("mnist-tiny", 7, 6, 1.0, api_name="/sample")[0])
    other = load(client.predict("mnist-tiny", 8, 6, 1.0, api_name="/sample")[0])
    assert np.array_equal(grid, again), "the same seed gives the same samples"
    assert not np.array_equal(grid, other), "another seed gives other samples"


def test_sample_of_a_colour_model_is_rgb(client):
    path, _ = client.predict("rgb-tiny", 0, 4, 0.5, api_name="/sample")
    grid = load(path)
    assert grid.shape == (7 * (2 * 16 + 2), 7 * (2 * 16 + 2), 3)


def test_reconstruct_an_upload_shows_input_reconstruction_and_latent(client, digit_png, served):
    seen, recon, details = client.predict("mnist-tiny", handle_file(digit_png), api_name="/reconstruct")
    seen, recon = load(seen), load(recon)
    assert seen.shape == recon.shape == (112, 112)
    assert seen[0, 0] < 30 and seen[56, 56] > 200, "dark-on-light upload is shown inverted, MNIST-style"
    assert "latent mean" in details and re.search(r"decode \d+\.\d ms", details)
    mean_line = details.splitlines()[1]
    z = numbers(mean_line)
    assert len(z) == 2, f"a 2-D latent mean is printed: {mean_line!r}"
    # the printed mean is what the runtime computes for the input the model saw
    _, models = served
    expected, _ = models["mnist-tiny"].vae.encode(seen[::4, ::4])
    assert z == pytest.approx(expected.tolist(), abs=2e-3)


def test_a_16_bit_upload_keeps_its_picture(client, tmp_path):
    """A 16-bit PNG (a scanner's output) is scaled by its bit depth, not turned black; a
    float TIFF beyond [0, 1] is refused with a message."""
    paper = np.full((300, 200), 62000, np.uint16)  # light paper, 16-bit
    paper[60:240, 90:112] = 4000  # a dark stroke
    Image.fromarray(paper).save(tmp_path / "scan16.png")
    seen, _, _ = client.predict("mnist-tiny", handle_file(str(tmp_path / "scan16.png")),
                                api_name="/reconstruct")
    seen = load(seen)
    assert seen[0, 0] < 30 and seen[56, 56] > 200, "the stroke shows, inverted MNIST-style"
    Image.fromarray(np.full((40, 40), 7.5, np.float32)).save(tmp_path / "hdr.tif")
    with pytest.raises(AppError, match=r"values from 7.5 to 7.5.*\[0, 1\]"):
        client.predict("mnist-tiny", handle_file(str(tmp_path / "hdr.tif")), api_name="/reconstruct")


def test_reconstruct_a_colour_upload(client, digit_png):
    seen, recon, _ = client.predict("rgb-tiny", handle_file(digit_png), api_name="/reconstruct")
    assert load(seen).shape == load(recon).shape == (112, 112, 3)


def test_reconstruct_a_builtin_example(client, served):
    _, models = served
    ex = models["mnist-tiny"].examples
    seen, recon, details = client.predict("mnist-tiny", 3, api_name="/reconstruct_example")
    seen = load(seen)
    assert seen.shape == load(recon).shape == (112, 112)
    assert np.array_equal(seen[::4, ::4], ex.images[3, 0]), "the example is shown as stored"
    assert f"example #3 ({ex.label_name(3)})" in details


def test_reconstruct_a_sketch(client, tmp_path):
    canvas = np.zeros((280, 280, 4), np.uint8)  # transparent canvas, as the sketchpad sends it
    canvas[40:240, 120:145] = (0, 0, 0, 255)
    path = tmp_path / "sketch.png"
    Image.fromarray(canvas, "RGBA").save(path)
    value = {"background": None, "layers": [], "composite": handle_file(str(path))}
    seen, recon, details = client.predict("mnist-tiny", value, api_name="/reconstruct_sketch")
    seen = load(seen)
    assert seen.shape == load(recon).shape == (112, 112)
    ys, _ = np.nonzero(seen > 100)
    assert 13 * 4 <= (ys.max() - ys.min()) <= 21 * 4, "the stroke fills MNIST's 20-pixel box"
    assert details.startswith("sketch")


def test_interpolate_examples_and_uploads(client, digit_png):
    strip, text = client.predict("mnist-tiny", 0, None, 1, None, 7, "spherical",
                                 api_name="/interpolate")
    strip = load(strip)
    assert strip.shape == (112, 4 * (9 * 28 + 8 * 2)), "A, 7 steps and B in one row"
    assert "7 steps, spherical (A and B themselves at the ends)" in text
    assert re.search(r"decode \d+\.\d ms", text)
    # the ends are the chosen pictures themselves, as the model sees them
    seen_a, _, _ = client.predict("mnist-tiny", 0, api_name="/reconstruct_example")
    assert np.array_equal(strip[:, :112], load(seen_a)[:112, :112])
    # an upload overrides the example of its side
    strip2, text2 = client.predict("mnist-tiny", 0, handle_file(digit_png), 1, None, 3, "linear",
                                   api_name="/interpolate")
    assert load(strip2).shape == (112, 4 * (5 * 28 + 4 * 2))
    assert text2.startswith("A: upload")


def test_latent_explorer_marks_the_point_and_decodes_it(client):
    plot_a, decoded, text = client.predict("mnist-tiny", 1.0, -0.5, api_name="/explore")
    plot_b, _, _ = client.predict("mnist-tiny", -1.0, 0.5, api_name="/explore")
    plot_a, plot_b = load(plot_a), load(plot_b)
    assert plot_a.shape == (480, 480, 3)
    assert load(decoded).shape == (224, 224)
    assert "z = (1.00, -0.50)" in text and re.search(r"decode \d+\.\d ms", text)
    red = np.all(plot_a == (220, 20, 60), axis=-1)
    assert red.sum() > 20, "the chosen point is ringed in red"
    assert not np.array_equal(plot_a, plot_b), "moving the point moves the marker"


BAD_INPUTS = [
    ("not an image", "/reconstruct", lambda f: ("mnist-tiny", handle_file(f["text"])),
     "not an image this demo can read"),
    ("empty file", "/reconstruct", lambda f: ("mnist-tiny", handle_file(f["empty"])),
     "not an image this demo can read"),
    ("no upload", "/reconstruct", lambda f: ("mnist-tiny", None), "no image uploaded"),
    ("huge image", "/reconstruct", lambda f: ("mnist-tiny", handle_file(f["huge"])),
     r"8000x6000 pixels .*scale it down"),
    ("unknown model", "/sample", lambda f: ("nope", 0, 4, 1.0), "nope"),
    ("example out of range", "/reconstruct_example", lambda f: ("mnist-tiny", 10_000),
     "example index must be a whole number from 0 to 299"),
    ("model without examples", "/reconstruct_example", lambda f: ("rgb-tiny", 0),
     "exported without examples.npz"),
    ("empty sketch", "/reconstruct_sketch",
     lambda f: ("mnist-tiny", {"background": None, "layers": [], "composite": handle_file(f["blank"])}),
     "sketch is empty"),
    ("sketch on a colour model", "/reconstruct_sketch",
     lambda f: ("rgb-tiny", {"background": None, "layers": [], "composite": handle_file(f["blank"])}),
     "drawing needs a greyscale model"),
    ("interpolate without B", "/interpolate",
     lambda f: ("mnist-tiny", 0, None, None, None, 5, "linear"), "image B is missing"),
    ("interpolate with a typed-in example", "/interpolate",
     lambda f: ("mnist-tiny", "seven", None, 1, None, 5, "linear"),
     "example index for A must be a whole number"),
    ("explorer on a 3-D model", "/explore", lambda f: ("rgb-tiny", 0.0, 0.0),
     "needs a model with a 2-D latent; rgb-tiny has 3"),
    ("too many samples", "/sample", lambda f: ("mnist-tiny", 0, 65, 1.0),
     r"count_value \(Count\) must be a whole number from 1 to 64, got 65"),
    ("negative seed", "/sample", lambda f: ("mnist-tiny", -1, 4, 1.0),
     r"seed_value \(Seed\) must be a whole number from 0 to 2147483647, got -1"),
    ("temperature too high", "/sample", lambda f: ("mnist-tiny", 0, 4, 50.0),
     r"temperature_value \(Temperature\) must be a number from 0 to 2, got 50.0"),
    ("a class for an unconditional model", "/sample",
     lambda f: ("mnist-tiny", 0, 4, 1.0, "cat"), "mnist-tiny is not conditional: leave the class at -1"),
    ("too many steps", "/interpolate", lambda f: ("mnist-tiny", 0, None, 1, None, 99, "linear"),
     r"steps_value \(Steps\) must be a whole number from 2 to 24, got 99"),
    ("unknown method", "/interpolate", lambda f: ("mnist-tiny", 0, None, 1, None, 5, "cubic"),
     "method_value .* must be one of 'linear', 'spherical', got 'cubic'"),
    ("explorer far off the plane", "/explore", lambda f: ("mnist-tiny", 1e9, 0.0),
     r"a \(z1\) must be a number from -\d+(\.\d+)? to \d+(\.\d+)?, got 1000000000.0"),
    ("float picture beyond [0, 1]", "/reconstruct", lambda f: ("mnist-tiny", handle_file(f["hdr"])),
     r"values from 0 to 1000.*\[0, 1\]"),
    ("32-bit integer picture", "/reconstruct", lambda f: ("mnist-tiny", handle_file(f["int32"])),
     "32-bit integer pixels.*8- or 16-bit PNG"),
    ("truncated picture", "/reconstruct", lambda f: ("mnist-tiny", handle_file(f["cut"])),
     "damaged and cannot be decoded.*upload it again"),
]


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    (d / "notes.png").write_text("this is a text file with an image name")
    (d / "empty.png").write_bytes(b"")
    Image.new("L", (8000, 6000)).save(d / "huge.png")  # 48 MP, ~50 KB on disk
    Image.new("RGBA", (280, 280)).save(d / "blank.png")
    Image.fromarray(np.linspace(0, 1000, 64 * 64, dtype=np.float32).reshape(64, 64)).save(d / "hdr.tif")
    Image.fromarray(np.arange(64 * 64, dtype=np.int32).reshape(64, 64) * 9999).save(d / "int32.tif")
    photo = np.random.default_rng(0).integers(0, 255, (200, 200, 3), dtype=np.uint8)
    Image.fromarray(photo).save(d / "full.png")
    data = (d / "full.png").read_bytes()
    (d / "cut.png").write_bytes(data[: len(data) // 3])
    return {"text": str(d / "notes.png"), "empty": str(d / "empty.png"),
            "huge": str(d / "huge.png"), "blank": str(d / "blank.png"), "hdr": str(d / "hdr.tif"),
            "int32": str(d / "int32.tif"), "cut": str(d / "cut.png")}


@pytest.mark.parametrize("case, endpoint, args, message", BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_gets_a_readable_message(client, bad_files, case, endpoint, args, message):
    with pytest.raises(AppError) as info:
        client.predict(*args(bad_files), api_name=endpoint)
    text = str(info.value)
    assert re.search(message, text), f"{case}: {text!r}"
    assert "Traceback" not in text and 'File "' not in text, "no stack trace reaches the visitor"


def test_the_app_does_not_import_torch():
    import subprocess

    code = ("import sys, vaekit.demo.app, vaekit.demo.__main__; "
            "print('torch' in sys.modules, 'vaekit.train' in sys.modules, 'vaekit.export' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False", "False"], out.stdout + out.stderr
    import vaekit.demo

    package = Path(vaekit.demo.__file__).parent
    assert not list(package.glob("*.pyi")), "importing the app must not write files (Gradio .pyi stubs)"


def test_the_demo_imports_only_its_stated_dependencies():
    """runtime + gradio (and its server, starlette) + pillow + matplotlib + numpy: what
    `pip install .[cpu,demo]` brings; everything else must be the standard library."""
    import ast

    import vaekit.demo

    allowed = {"vaekit", "gradio", "starlette", "PIL", "matplotlib", "numpy"}
    package = Path(vaekit.demo.__file__).parent
    found = set()
    for file in package.glob("*.py"):
        for node in ast.walk(ast.parse(file.read_text())):
            if isinstance(node, ast.Import):
                found |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                found.add(node.module.split(".")[0])
                if node.module.startswith("vaekit."):
                    assert node.module.split(".")[1] in ("runtime", "format", "demo"), node.module
    outside = {m for m in found - allowed if m not in sys.stdlib_module_names}
    assert not outside, f"the demo imports {outside}: not in the `demo` extra"


def test_build_app_takes_runtime_vaes_by_name(exported):
    """``build_app({name: VAE})``: the runtime object is enough, examples come from its folder."""
    import gradio as gr
    from vaekit.demo.app import Handlers, build_app, wrap_models
    from vaekit.runtime import VAE

    vaes = {"digits": VAE.load(exported["mnist-tiny"], providers="cpu")}
    assert isinstance(build_app(vaes), gr.Blocks)
    models = wrap_models(vaes)
    assert models["digits"].examples is not None and len(models["digits"].examples.images) == 300
    picture = Handlers(models).sample("digits", 0, 4, 1.0)
    assert picture.image.shape == (4 * (2 * 28 + 2), 4 * (2 * 28 + 2)) and "4 samples" in picture.details
    with pytest.raises(ValueError, match="unknown model 'mnist-tiny'"):
        Handlers(models).sample("mnist-tiny", 0, 4, 1.0)
