"""The demo's pure numpy/PIL steps: what a visitor's picture becomes before the model sees it."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from vaekit.demo import preprocess as pp
from vaekit.demo.plot import render_scatter

MNIST = pp.InputSpec.for_model(image_shape=(1, 28, 28), dataset="mnist")
FACES = pp.InputSpec.for_model(image_shape=(3, 64, 64), dataset="celeba")


def test_spec_from_model_facts():
    assert (MNIST.channels, MNIST.height, MNIST.width) == (1, 28, 28)
    assert MNIST.dark_background and MNIST.digit_box == pytest.approx(20 / 28)
    assert not FACES.dark_background and FACES.digit_box == 1.0
    with pytest.raises(ValueError, match="1- or 3-channel"):
        pp.InputSpec(channels=2, height=8, width=8)


def test_dark_digit_on_paper_is_inverted_to_mnist_style(tmp_path):
    """A black stroke photographed on white paper becomes a white stroke on black."""
    paper = np.full((300, 200), 250, np.uint8)
    paper[60:240, 90:110] = 10  # a vertical bar, centred
    path = tmp_path / "digit.png"
    Image.fromarray(paper).save(path)
    x = pp.photo_to_input(pp.open_image(path), MNIST)
    assert x.shape == (1, 28, 28) and x.dtype == np.uint8
    assert x[0, 0, 0] < 20, "the background must be dark, as in MNIST"
    assert x[0, 14, 14] > 200, "the stroke at the centre must be bright"


def test_light_on_dark_upload_is_kept_and_colour_models_get_rgb():
    dark = np.zeros((50, 80, 3), np.uint8)
    dark[20:30, 35:45] = 255
    x = pp.photo_to_input(dark, MNIST)
    assert x[0, 14, 14] > 200 and x[0, 0, 0] < 20
    red = np.zeros((120, 90, 3), np.uint8)
    red[..., 0] = 200
    y = pp.photo_to_input(red, FACES)
    assert y.shape == (3, 64, 64)
    assert y[0].min() > 190 and y[1].max() < 10, "colour must survive (R stays R)"


def test_transparent_png_goes_onto_white_then_inverted(tmp_path):
    rgba = np.zeros((40, 40, 4), np.uint8)  # fully transparent...
    rgba[10:30, 18:22] = (0, 0, 0, 255)  # ...except an opaque black bar
    path = tmp_path / "t.png"
    Image.fromarray(rgba, "RGBA").save(path)
    x = pp.photo_to_input(pp.open_image(path), MNIST)
    assert x[0, 0, 0] < 20 and x[0, 14, 14] > 200


def test_centre_crop_keeps_the_middle():
    wide = np.zeros((10, 30), np.uint8)
    wide[:, 10:20] = 255  # the middle third is white
    out = pp.centre_crop(Image.fromarray(wide), aspect=1.0)
    assert out.size == (10, 10) and np.asarray(out).min() == 255


def test_sketch_becomes_a_centred_mnist_digit():
    """Black ink drawn off-centre on a transparent canvas ends up white, centred, 20px box."""
    canvas = np.zeros((280, 280, 4), np.uint8)
    canvas[20:120, 200:215] = (0, 0, 0, 255)  # a short bar in the top-right corner
    x = pp.sketch_to_input(canvas, MNIST)
    assert x.shape == (1, 28, 28)
    ys, xs = np.nonzero(x[0] > 60)
    assert ys.max() - ys.min() + 1 <= 21, "ink fits the 20-pixel MNIST box"
    assert abs(ys.mean() - 13.5) < 1.5 and abs(xs.mean() - 13.5) < 1.5, "centred by mass"
    assert x[0, 0, 0] == 0


def test_empty_sketch_is_a_readable_error():
    with pytest.raises(ValueError, match="sketch is empty"):
        pp.sketch_to_input(np.zeros((280, 280, 4), np.uint8), MNIST)
    with pytest.raises(ValueError, match="sketch is empty"):
        pp.sketch_to_input(np.full((280, 280, 3), 255, np.uint8), MNIST)


def test_open_image_rejects_what_is_not_an_image(tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("this is not a picture")
    with pytest.raises(ValueError, match="not an image this demo can read"):
        pp.open_image(text)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        pp.open_image(empty)
    with pytest.raises(ValueError, match="no image was given"):
        pp.open_image(None)


def test_open_image_rejects_a_huge_image_before_decoding(tmp_path):
    path = tmp_path / "big.png"
    Image.new("L", (3000, 2000)).save(path)  # 6 MP: over a 5 MP limit, tiny on disk
    with pytest.raises(ValueError, match="3000x2000 pixels.*scale it down"):
        pp.open_image(path, max_pixels=5_000_000)
    assert pp.open_image(path).size == (3000, 2000)  # fine under the default limit


def test_tile_and_display_sizes():
    imgs = np.random.default_rng(0).random((5, 1, 28, 28)).astype(np.float32)
    grid = pp.tile(imgs)  # 3 columns, 2 rows, 2-pixel gaps
    assert grid.shape == (1, 2 * 28 + 2, 3 * 28 + 2 * 2)
    assert grid[0, 28:30].min() == 255, "the gap row is white"
    strip = pp.tile(imgs, cols=5)
    assert strip.shape == (1, 28, 5 * 28 + 4 * 2)
    shown = pp.to_display(grid, scale=pp.display_scale(28))
    assert pp.display_scale(28) == 4 and pp.display_scale(64) == 2
    assert shown.shape == (4 * 58, 4 * 88) and shown.dtype == np.uint8
    assert np.array_equal(shown[::4, ::4], grid[0]), "nearest-neighbour upscale keeps pixels"
    rgb = pp.to_display(np.zeros((3, 8, 8), np.float32), scale=2)
    assert rgb.shape == (16, 16, 3)
    with pytest.raises(ValueError, match="N >= 1"):
        pp.tile(np.zeros((0, 1, 4, 4)))


def test_scatter_pixel_and_latent_round_trip():
    rng = np.random.default_rng(0)
    sc = render_scatter(rng.normal(size=(200, 2)), rng.integers(0, 10, 200),
                        [str(i) for i in range(10)], limit=3.0, size_px=300)
    assert sc.image.shape == (300, 300, 3) and sc.image.dtype == np.uint8
    x, y = sc.to_pixel(1.5, -2.0)
    assert sc.to_latent(x, y) == pytest.approx((1.5, -2.0))
    left, top, right, bottom = sc.box
    assert sc.to_latent(left, bottom) == pytest.approx((-3.0, -3.0))
    assert sc.to_latent(right, top) == pytest.approx((3.0, 3.0))
    marked = sc.marked(1.5, -2.0)
    ring = marked[round(y), round(x + 9)]
    assert tuple(ring) == (220, 20, 60), "the chosen point is ringed in red"
    assert np.array_equal(marked[:20], sc.image[:20]), "the rest of the plot is untouched"
