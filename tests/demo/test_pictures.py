"""The demo's pure numpy/PIL steps (reading, framing, display): what a visitor's picture becomes
before the model sees it, and how decoded images are shown."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from vaekit.demo import display, framing, reading
from vaekit.demo.facts import Framing
from vaekit.demo.plot import render_scatter

# the framings the exporter records for MNIST (20-px box, centred by mass) and CelebA
MNIST = framing.InputSpec(channels=1, height=28, width=28, dark_background=True,
                     framing=Framing(method="ink-box", box=20 / 28, centre="mass"))
FACES = framing.InputSpec(channels=3, height=64, width=64, framing=Framing(crop_fraction=140 / 178))
PLAIN = framing.InputSpec(channels=1, height=28, width=28, dark_background=True)


def test_spec_checks_its_channels():
    assert MNIST.ink_box == pytest.approx(20 / 28) and FACES.ink_box == 1.0
    with pytest.raises(ValueError, match="1- or 3-channel"):
        framing.InputSpec(channels=2, height=8, width=8)


def test_dark_digit_on_paper_is_inverted_to_mnist_style(tmp_path):
    """A black stroke photographed on white paper becomes a white stroke on black."""
    paper = np.full((300, 200), 250, np.uint8)
    paper[60:240, 90:110] = 10  # a vertical bar, centred
    path = tmp_path / "digit.png"
    Image.fromarray(paper).save(path)
    x = framing.photo_to_input(reading.open_image(path), MNIST)
    assert x.shape == (1, 28, 28) and x.dtype == np.uint8
    assert x[0, 0, 0] < 20, "the background must be dark, as in MNIST"
    assert x[0, 14, 14] > 200, "the stroke at the centre must be bright"
    ys, _ = np.nonzero(x[0] > 60)
    assert 19 <= ys.max() - ys.min() + 1 <= 21, "framed as MNIST: the stroke fills the 20-px box"


def test_light_on_dark_upload_is_kept_and_colour_models_get_rgb():
    dark = np.zeros((50, 80, 3), np.uint8)
    dark[20:30, 35:45] = 255
    x = framing.photo_to_input(dark, PLAIN)
    assert x[0, 14, 14] > 200 and x[0, 0, 0] < 20
    red = np.zeros((120, 90, 3), np.uint8)
    red[..., 0] = 200
    y = framing.photo_to_input(red, FACES)
    assert y.shape == (3, 64, 64)
    assert y[0].min() > 190 and y[1].max() < 10, "colour must survive (R stays R)"


def test_transparent_png_goes_onto_white_then_inverted(tmp_path):
    rgba = np.zeros((40, 40, 4), np.uint8)  # fully transparent...
    rgba[10:30, 18:22] = (0, 0, 0, 255)  # ...except an opaque black bar
    path = tmp_path / "t.png"
    Image.fromarray(rgba, "RGBA").save(path)
    x = framing.photo_to_input(reading.open_image(path), MNIST)
    assert x[0, 0, 0] < 20 and x[0, 14, 14] > 200


def test_centre_crop_keeps_the_middle():
    wide = np.zeros((10, 30), np.uint8)
    wide[:, 10:20] = 255  # the middle third is white
    out = framing.centre_crop(Image.fromarray(wide), aspect=1.0)
    assert out.size == (10, 10) and np.asarray(out).min() == 255


def test_upload_is_cropped_as_training_framed_celeba():
    """CelebA training keeps the centred 140/178 of the width: so must an upload of a face."""
    photo = np.zeros((218, 178, 3), np.uint8)  # the aligned-CelebA size
    photo[:, :, 1] = 255  # green ...
    photo[40:178, 20:158] = (255, 0, 0)  # ... around a red centred 138x138 square
    x = framing.photo_to_input(photo, FACES)
    assert x.shape == (3, 64, 64)
    assert x[0, 2:-2, 2:-2].min() > 200 and x[1, 2:-2, 2:-2].max() < 40, "only the centred 140 px are kept"
    whole = framing.photo_to_input(photo, framing.InputSpec(channels=3, height=64, width=64))
    assert whole[1, 0, 0] > 200, "without that framing the green border would show"


def test_sixteen_bit_png_is_scaled_by_its_bit_depth(tmp_path):
    """A 16-bit greyscale PNG keeps its picture (65535 is white), not clipped to black or white."""
    ramp = np.tile(np.linspace(0, 65535, 64), (64, 1)).astype(np.uint16)
    path = tmp_path / "ramp16.png"
    Image.fromarray(ramp).save(path)
    assert Image.open(path).mode == "I;16"
    img = np.asarray(reading.open_image(path))
    assert img.dtype == np.uint8 and img[0, 0] == 0 and img[0, -1] == 255
    assert abs(float(img.mean()) - 127.5) < 2, "mid-grey on average, as the 16-bit ramp"


def test_float_tiff_in_unit_range_is_scaled_and_other_floats_refused(tmp_path):
    ramp = np.tile(np.linspace(0, 1, 64, dtype=np.float32), (64, 1))
    Image.fromarray(ramp).save(tmp_path / "ramp.tif")
    img = np.asarray(reading.open_image(tmp_path / "ramp.tif"))
    assert img[0, 0] == 0 and img[0, -1] == 255 and abs(float(img.mean()) - 127.5) < 2
    Image.fromarray(ramp * 1000).save(tmp_path / "hdr.tif")
    with pytest.raises(ValueError, match=r"values from 0 to 1000.*rescale it to \[0, 1\]"):
        reading.open_image(tmp_path / "hdr.tif")
    Image.fromarray((ramp * 1e6).astype(np.int32)).save(tmp_path / "i32.tif")
    with pytest.raises(ValueError, match="32-bit integer pixels.*8- or 16-bit PNG"):
        reading.open_image(tmp_path / "i32.tif")


def test_arrays_of_other_depths():
    assert np.asarray(reading.array_to_image(np.full((4, 4), 65535, np.uint16))).max() == 255
    assert np.asarray(reading.array_to_image(np.full((4, 4), 0.5, np.float32))).max() == 128
    with pytest.raises(ValueError, match=r"float image must lie in \[0, 1\]"):
        reading.array_to_image(np.full((4, 4), 300.0))


def test_sketch_becomes_a_centred_mnist_digit():
    """Black ink drawn off-centre on a transparent canvas ends up white, centred, 20px box."""
    canvas = np.zeros((280, 280, 4), np.uint8)
    canvas[20:120, 200:215] = (0, 0, 0, 255)  # a short bar in the top-right corner
    x = framing.sketch_to_input(canvas, MNIST)
    assert x.shape == (1, 28, 28)
    fashion = framing.InputSpec(channels=1, height=28, width=28, dark_background=True,
                           framing=Framing(method="ink-box", box=1.0, centre="box"))
    ys2, _ = np.nonzero(framing.sketch_to_input(canvas, fashion)[0] > 60)
    assert ys2.max() - ys2.min() + 1 >= 27, "a box of 1.0 fills the frame (Fashion-MNIST)"
    ys, xs = np.nonzero(x[0] > 60)
    assert ys.max() - ys.min() + 1 <= 21, "ink fits the 20-pixel MNIST box"
    assert abs(ys.mean() - 13.5) < 1.5 and abs(xs.mean() - 13.5) < 1.5, "centred by mass"
    assert x[0, 0, 0] == 0


def test_empty_sketch_is_a_readable_error():
    with pytest.raises(ValueError, match="sketch is empty"):
        framing.sketch_to_input(np.zeros((280, 280, 4), np.uint8), MNIST)
    with pytest.raises(ValueError, match="sketch is empty"):
        framing.sketch_to_input(np.full((280, 280, 3), 255, np.uint8), MNIST)


def test_open_image_rejects_what_is_not_an_image(tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("this is not a picture")
    with pytest.raises(ValueError, match="not an image this demo can read"):
        reading.open_image(text)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        reading.open_image(empty)
    with pytest.raises(ValueError, match="no image was given"):
        reading.open_image(None)


def test_open_image_rejects_a_huge_image_before_decoding(tmp_path):
    path = tmp_path / "big.png"
    Image.new("L", (3000, 2000)).save(path)  # 6 MP: over a 5 MP limit, tiny on disk
    with pytest.raises(ValueError, match="3000x2000 pixels.*scale it down"):
        reading.open_image(path, max_pixels=5_000_000)
    assert reading.open_image(path).size == (3000, 2000)  # fine under the default limit


def test_tile_and_display_sizes():
    imgs = np.random.default_rng(0).random((5, 1, 28, 28)).astype(np.float32)
    grid = display.tile(imgs)  # 3 columns, 2 rows, 2-pixel gaps
    assert grid.shape == (1, 2 * 28 + 2, 3 * 28 + 2 * 2)
    assert grid[0, 28:30].min() == 255, "the gap row is white"
    strip = display.tile(imgs, cols=5)
    assert strip.shape == (1, 28, 5 * 28 + 4 * 2)
    shown = display.to_display(grid, scale=display.display_scale(28))
    assert display.display_scale(28) == 4 and display.display_scale(64) == 2
    assert shown.shape == (4 * 58, 4 * 88) and shown.dtype == np.uint8
    assert np.array_equal(shown[::4, ::4], grid[0]), "nearest-neighbour upscale keeps pixels"
    rgb = display.to_display(np.zeros((3, 8, 8), np.float32), scale=2)
    assert rgb.shape == (16, 16, 3)
    with pytest.raises(ValueError, match="N >= 1"):
        display.tile(np.zeros((0, 1, 4, 4)))


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
