"""The Gradio app: reconstruct, sample, interpolate and explore exported VAEs in a browser.

Only :mod:`vaekit.runtime` runs the models (ONNX Runtime; torch is never imported). Every
handler checks its input and answers bad input with a readable :class:`gradio.Error`
(a dialog in the browser, an ``AppError`` with the same text in ``gradio_client``), never a
stack trace. Public API endpoints (``api_name``): ``reconstruct``, ``reconstruct_sketch``,
``reconstruct_example``, ``sample``, ``interpolate`` and ``explore``.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
from PIL import Image, UnidentifiedImageError
from vaekit.runtime import VAE, interpolate_latents
from vaekit.runtime.contract import EXAMPLES_FILE

from . import preprocess as pp
from .plot import LatentScatter, render_scatter

log = logging.getLogger("vaekit.demo")

CURATED_EXAMPLES = 20  # built-in examples offered per model (two per class when labelled)
MAX_SAMPLES = 64
MAX_STEPS = 24
MAX_SEED = 2**31 - 1
MAX_TEMPERATURE = 3.0
ENCODE_CHUNK = 256

CSS = """
.pixelated img { image-rendering: pixelated; }
#explorer-plot img { cursor: crosshair; }
"""


@dataclass
class Examples:
    """Built-in test images of a model: ``images`` uint8 [N, C, H, W], ``labels`` int64 [N]."""

    images: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...] = ()

    def label_name(self, i: int) -> str:
        k = int(self.labels[i])
        if k < 0:
            return f"#{i}"
        return self.classes[k] if k < len(self.classes) else str(k)

    def curated(self, count: int = CURATED_EXAMPLES) -> list[int]:
        """Up to ``count`` indices cycling through the labels (0, 1, 2, ..., 0, 1, ...)."""
        n = len(self.images)
        if n == 0:
            return []
        labels = self.labels
        if not np.any(labels >= 0):
            return list(range(min(count, n)))
        by_class = {int(k): list(np.flatnonzero(labels == k)) for k in np.unique(labels)}
        out: list[int] = []
        rank = 0
        while len(out) < min(count, n):
            added = False
            for k in sorted(by_class):
                if rank < len(by_class[k]) and len(out) < count:
                    out.append(int(by_class[k][rank]))
                    added = True
            if not added:
                break
            rank += 1
        return out


def examples_of(vae: VAE) -> Examples | None:
    """The runtime's ``examples.npz`` of ``vae`` (None when it was exported without one),
    checked against the model's image shape."""
    folder = getattr(vae, "folder", None)
    if folder is None or not (Path(folder) / EXAMPLES_FILE).is_file():
        return None
    path = Path(folder) / EXAMPLES_FILE
    try:
        ex = vae.examples()
    except (OSError, ValueError, KeyError) as e:
        raise ValueError(
            f"{path} is not a readable examples file ({e}); re-export the model with "
            "`python -m vaekit.export <checkpoint>` or delete the file to run without examples"
        ) from e
    images, labels = np.asarray(ex.images), np.asarray(ex.labels)
    shape = tuple(int(v) for v in vae.image_shape)
    if images.dtype != np.uint8 or images.ndim != 4 or tuple(images.shape[1:]) != shape:
        raise ValueError(
            f"{path} holds images {images.dtype} {images.shape}, but the model takes uint8 "
            f"[N, {', '.join(map(str, shape))}]; re-export the model"
        )
    if labels.shape != (len(images),):
        raise ValueError(f"{path}: {len(labels)} labels for {len(images)} images; re-export the model")
    return Examples(images=images, labels=labels.astype(np.int64), classes=tuple(ex.classes))


@dataclass
class DemoModel:
    """One served model: the runtime VAE plus what the demo derives from it once."""

    name: str
    vae: VAE
    folder: Path | None = None
    examples: Examples | None = None
    spec: pp.InputSpec = field(init=False)
    curated: list[int] = field(init=False)
    scatter: LatentScatter | None = field(init=False, default=None)
    limit: float = field(init=False, default=3.0)

    def __post_init__(self) -> None:
        self.spec = pp.InputSpec.for_model(image_shape=self.image_shape, dataset=self.dataset)
        self.curated = self.examples.curated() if self.examples is not None else []

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(int(v) for v in self.vae.image_shape)  # type: ignore[return-value]

    @property
    def latent_dim(self) -> int:
        return int(self.vae.latent_dim)

    @property
    def dataset(self) -> str:
        return str(self.vae.metadata.get("dataset") or "unknown")

    @property
    def provider(self) -> str:
        providers = list(self.vae.providers)
        return providers[0] if providers else "unknown"

    @property
    def scale(self) -> int:
        return pp.display_scale(self.image_shape[1])

    def describe(self) -> str:
        c, h, w = self.image_shape
        n = len(self.examples.images) if self.examples is not None else 0
        return (
            f"**{self.name}** — dataset `{self.dataset}`, {w}×{h}×{c} images, "
            f"{self.latent_dim}-D latent, likelihood `{self.vae.metadata.get('likelihood', '?')}`, "
            f"running on `{self.provider}`; {n} built-in examples"
        )

    def choice_label(self) -> str:
        return f"{self.name} · {self.dataset} · z={self.latent_dim} · {self.provider}"

    def prepare_explorer(self) -> None:
        """Encode the examples and render the scatter (2-D models only; once, at start-up)."""
        if self.latent_dim != 2:
            return
        points = np.zeros((0, 2))
        labels = None
        classes: tuple[str, ...] = ()
        if self.examples is not None and len(self.examples.images):
            imgs = self.examples.images
            points = np.concatenate(
                [self.vae.encode(imgs[i : i + ENCODE_CHUNK])[0] for i in range(0, len(imgs), ENCODE_CHUNK)]
            )
            labels, classes = self.examples.labels, self.examples.classes
            finite = np.abs(points[np.all(np.isfinite(points), axis=1)])
            if len(finite):
                self.limit = max(3.0, math.ceil(float(np.percentile(finite, 99.5)) * 2) / 2)
        self.scatter = render_scatter(points, labels, classes, limit=self.limit)


# ----------------------------------------------------------------------------------------
# Loading


def model_name(folder: Path) -> str:
    """``checkpoints/mnist-z2/onnx`` -> ``mnist-z2``; any other folder -> its own name."""
    folder = folder.resolve()
    return folder.parent.name if folder.name == "onnx" else folder.name


def load_models(paths: list[str | os.PathLike], *, providers: Any = "auto") -> dict[str, DemoModel]:
    """Load export folders (or checkpoint folders with ``onnx/``), keyed by a unique name.

    Missing or broken folders raise the runtime's ``FileNotFoundError``/``ValueError``,
    which name the folder and the export command that fixes it.
    """
    return wrap_models({str(p): VAE.load(p, providers=providers) for p in paths}, rename=True)


def wrap_models(models: dict[str, Any], *, rename: bool = False) -> dict[str, DemoModel]:
    """Runtime ``VAE`` objects (or :class:`DemoModel` values) as DemoModels keyed by name.

    ``rename``: name each model after its folder (``checkpoints/mnist-z2/onnx`` -> ``mnist-z2``)
    instead of its key; clashes get a numeric suffix.
    """
    out: dict[str, DemoModel] = {}
    for key, m in models.items():
        if isinstance(m, DemoModel):
            out[m.name] = m
            continue
        folder = Path(m.folder) if getattr(m, "folder", None) is not None else None
        name = model_name(folder) if rename and folder is not None else str(key)
        base, k = name, 2
        while name in out:
            name, k = f"{base}-{k}", k + 1
        out[name] = DemoModel(name=name, vae=m, folder=folder, examples=examples_of(m))
    return out


# ----------------------------------------------------------------------------------------
# Handlers: plain methods, testable without a server. Each returns Gradio output values.


def readable(fn: Callable) -> Callable:
    """Turn any failure of a handler into a readable ``gr.Error`` (no trace in the UI)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except (ValueError, FileNotFoundError, KeyError) as e:
            msg = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
            raise gr.Error(str(msg), print_exception=False) from None
        except Exception as e:  # the server log gets the trace; the visitor a sentence
            log.exception("demo handler %s failed", fn.__name__)
            raise gr.Error(
                f"Something went wrong inside the demo ({type(e).__name__}); the details are in "
                "the server log. Try another input or reload the page.",
                print_exception=False,
            ) from None

    return wrapper


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _int_arg(value: Any, name: str, lo: int, hi: int) -> int:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError(f"{name} is empty: enter a whole number from {lo} to {hi}")
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a whole number from {lo} to {hi}, got {value!r}") from None
    if not math.isfinite(f) or f != int(f) or not lo <= f <= hi:
        raise ValueError(f"{name} must be a whole number from {lo} to {hi}, got {value!r}")
    return int(f)


def _float_arg(value: Any, name: str, lo: float, hi: float) -> float:
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number from {lo} to {hi}, got {value!r}") from None
    if not math.isfinite(f) or not lo <= f <= hi:
        raise ValueError(f"{name} must be a number from {lo} to {hi}, got {value!r}")
    return f


def _format_latent(mean: np.ndarray) -> str:
    return np.array2string(np.asarray(mean, dtype=np.float64), precision=3, suppress_small=True,
                           max_line_width=72, separator=", ")


class Handlers:
    """The app's event handlers over loaded models; also usable directly from Python."""

    def __init__(self, models: dict[str, DemoModel]):
        self.models = models

    def model(self, name: Any) -> DemoModel:
        if not name:
            raise ValueError(f"no model chosen: pick one of {', '.join(self.models)}")
        if name not in self.models:
            # the picker may send the label rather than the name (older clients)
            for m in self.models.values():
                if name == m.choice_label():
                    return m
            raise ValueError(f"unknown model {name!r}: this server serves {', '.join(self.models)}")
        return self.models[name]

    # -- reconstruct -------------------------------------------------------------------------
    def _reconstruct(self, m: DemoModel, x: np.ndarray, source: str):
        """``x`` uint8 [C, H, W] -> (input view, reconstruction view, details text)."""
        t0 = time.perf_counter()
        mean, _ = m.vae.encode(x[None])
        t1 = time.perf_counter()
        recon = m.vae.decode(mean)
        t2 = time.perf_counter()
        details = (
            f"{source} → latent mean z ({m.latent_dim}-D):\n{_format_latent(mean[0])}\n"
            f"encode {_ms(t1 - t0)} · decode {_ms(t2 - t1)} on {m.provider}"
        )
        return pp.to_display(x, scale=m.scale), pp.to_display(recon[0], scale=m.scale), details

    def reconstruct(self, model: str, image_path: str | None):
        m = self.model(model)
        if not image_path:
            raise ValueError("no image uploaded: upload a picture, draw one, or click a built-in example")
        image = pp.open_image(image_path)
        x = pp.photo_to_input(image, m.spec)
        w, h = image.size
        return self._reconstruct(m, x, f"upload {w}×{h}")

    def reconstruct_sketch(self, model: str, sketch: dict | np.ndarray | None):
        m = self.model(model)
        if m.spec.channels != 1:
            raise ValueError(
                f"drawing needs a greyscale model; {m.name} takes colour pictures: upload one instead"
            )
        composite = sketch.get("composite") if isinstance(sketch, dict) else sketch
        if composite is None:
            raise ValueError("the sketch is empty: draw a digit on the canvas first")
        if isinstance(composite, (str, os.PathLike)):
            composite = np.asarray(pp.open_image(composite))
        x = pp.sketch_to_input(np.asarray(composite), m.spec)
        return self._reconstruct(m, x, "sketch")

    def reconstruct_example(self, model: str, index: Any):
        m = self.model(model)
        if m.examples is None or not len(m.examples.images):
            raise ValueError(f"{m.name} was exported without {EXAMPLES_FILE}: upload a picture instead")
        i = _int_arg(index, "example index", 0, len(m.examples.images) - 1)
        return self._reconstruct(m, m.examples.images[i], f"example #{i} ({m.examples.label_name(i)})")

    def pick_example(self, model: str, evt: Any):
        """Gallery click -> the clicked example's reconstruction (index into the curated list)."""
        m = self.model(model)
        k = int(evt.index if not isinstance(evt.index, (list, tuple)) else evt.index[0])
        if not 0 <= k < len(m.curated):
            raise ValueError("that example is not available any more: pick another one")
        return self.reconstruct_example(model, m.curated[k])

    # -- sample ------------------------------------------------------------------------------
    def sample(self, model: str, seed: Any, count: Any, temperature: Any):
        m = self.model(model)
        seed = _int_arg(seed, "seed", 0, MAX_SEED)
        count = _int_arg(count, "count", 1, MAX_SAMPLES)
        temperature = _float_arg(temperature, "temperature", 0.0, MAX_TEMPERATURE)
        t0 = time.perf_counter()
        images = m.vae.sample(count, seed=seed, temperature=temperature)
        dt = time.perf_counter() - t0
        grid = pp.tile(images)
        text = (
            f"{count} samples, seed {seed}, temperature {temperature:g}: "
            f"decode {_ms(dt)} on {m.provider}"
        )
        return pp.to_display(grid, scale=m.scale), text

    # -- interpolate -------------------------------------------------------------------------
    def _endpoint(self, m: DemoModel, index: Any, path: str | None, which: str) -> tuple[np.ndarray, str]:
        if path:
            image = pp.open_image(path)
            return pp.photo_to_input(image, m.spec), f"{which}: upload"
        if index is None or index == "":
            raise ValueError(f"image {which} is missing: upload a picture or pick a built-in example")
        if m.examples is None or not len(m.examples.images):
            raise ValueError(f"{m.name} has no built-in examples: upload picture {which}")
        i = _int_arg(index, f"example index for {which}", 0, len(m.examples.images) - 1)
        return m.examples.images[i], f"{which}: example #{i} ({m.examples.label_name(i)})"

    def interpolate(self, model: str, a_index: Any, a_path: str | None, b_index: Any,
                    b_path: str | None, steps: Any, method: Any):
        m = self.model(model)
        steps = _int_arg(steps, "steps", 2, MAX_STEPS)
        methods = {"linear": "linear", "spherical": "slerp", "slerp": "slerp"}
        if method not in methods:
            raise ValueError(f"method must be 'linear' or 'spherical', got {method!r}")
        xa, la = self._endpoint(m, a_index, a_path, "A")
        xb, lb = self._endpoint(m, b_index, b_path, "B")
        t0 = time.perf_counter()
        mean, _ = m.vae.encode(np.stack([xa, xb]))
        t1 = time.perf_counter()
        z = interpolate_latents(mean[0], mean[1], steps, method=methods[method])
        images = m.vae.decode(z)
        t2 = time.perf_counter()
        strip = pp.tile(images, cols=steps)
        text = (
            f"{la} → {lb}, {steps} steps, {method}: encode {_ms(t1 - t0)} · "
            f"decode {_ms(t2 - t1)} on {m.provider}"
        )
        return pp.to_display(strip, scale=m.scale), text

    # -- latent explorer ---------------------------------------------------------------------
    def _explorer_model(self, model: str) -> DemoModel:
        m = self.model(model)
        if m.latent_dim != 2 or m.scatter is None:
            raise ValueError(
                f"the latent explorer needs a model with a 2-D latent; {m.name} has "
                f"{m.latent_dim} dimensions: pick a 2-D model such as mnist-z2"
            )
        return m

    def explore(self, model: str, z1: Any, z2: Any):
        m = self._explorer_model(model)
        lim = 10.0 * m.limit
        z1 = _float_arg(z1, "z1", -lim, lim)
        z2 = _float_arg(z2, "z2", -lim, lim)
        t0 = time.perf_counter()
        image = m.vae.decode(np.array([[z1, z2]], dtype=np.float32))
        dt = time.perf_counter() - t0
        text = f"z = ({z1:.2f}, {z2:.2f}): decode {_ms(dt)} on {m.provider}"
        return m.scatter.marked(z1, z2), pp.to_display(image[0], scale=m.scale * 2), text

    def explore_live(self, model: str, z1: Any, z2: Any):
        """:meth:`explore` for slider events: leaves the outputs alone for a non-2-D model."""
        m = self.model(model)
        if m.latent_dim != 2 or m.scatter is None:
            return gr.skip(), gr.skip(), gr.skip()
        return self.explore(model, z1, z2)

    def click_plot(self, model: str, evt: Any):
        """A click on the scatter (pixel x, y) -> slider values (z1, z2), clamped to the axes."""
        m = self._explorer_model(model)
        x, y = evt.index
        z1, z2 = m.scatter.to_latent(float(x), float(y))
        z1 = float(np.clip(round(z1, 2), -m.limit, m.limit))
        z2 = float(np.clip(round(z2, 2), -m.limit, m.limit))
        return z1, z2


# ----------------------------------------------------------------------------------------
# The Blocks app


def _example_choices(m: DemoModel) -> list[tuple[str, int]]:
    if m.examples is None:
        return []
    return [(f"#{i} · {m.examples.label_name(i)}", i) for i in m.curated]


def _gallery(m: DemoModel) -> list[tuple[np.ndarray, str]]:
    if m.examples is None:
        return []
    return [(pp.to_display(m.examples.images[i], scale=m.scale), m.examples.label_name(i))
            for i in m.curated]


def build_app(models: dict[str, Any], *, title: str = "vaekit demo") -> gr.Blocks:
    """The Blocks app serving ``models`` (name -> runtime ``VAE`` or :class:`DemoModel`).

    Launch it with :func:`launch` (which sets the queue, CSS and upload limit).
    """
    if not models:
        raise ValueError(
            "no models to serve: export one with `python -m vaekit.export checkpoints/<name>` "
            "and pass its folder"
        )
    dm = wrap_models(models)
    for m in dm.values():
        if m.scatter is None:
            m.prepare_explorer()
    h = Handlers(dm)
    first = next(iter(dm.values()))
    two_d = [m for m in dm.values() if m.latent_dim == 2]
    explorer_default = two_d[0] if two_d else first

    def upload_image(label: str, **kw) -> gr.Image:
        return checked_image(label=label, type="filepath", image_mode=None,
                            sources=["upload", "clipboard"], **kw)

    with gr.Blocks(title=title, analytics_enabled=False) as app:
        gr.Markdown(
            "# vaekit — a VAE in your browser\n"
            "Every picture below is computed by the model's two ONNX graphs (encoder and "
            "decoder) through ONNX Runtime; torch is not involved."
        )
        with gr.Row():
            picker = gr.Dropdown(
                choices=[(m.choice_label(), m.name) for m in dm.values()], value=first.name,
                label="Model", interactive=True, scale=1, elem_id="model-picker",
            )
            info = gr.Markdown(first.describe(), elem_id="model-info")

        with gr.Tabs():
            # ---------------------------------------------------------------- Reconstruct
            with gr.Tab("Reconstruct", id="reconstruct"):
                with gr.Row():
                    with gr.Column():  # noqa: SIM117 - nested layout blocks read as the page does
                        with gr.Tabs():
                            with gr.Tab("Examples", id="rec-examples"):
                                no_examples = gr.Markdown(
                                    _no_examples_note(first), visible=not first.curated)
                                gallery = gr.Gallery(
                                    value=_gallery(first), label="Built-in test images: click one",
                                    columns=5, allow_preview=False, height=330, format="png",
                                    elem_classes="pixelated", elem_id="example-gallery",
                                )
                            with gr.Tab("Upload", id="rec-upload"):
                                upload = upload_image("Your picture (PNG, JPEG, ...)", height=280)
                                rec_btn = gr.Button("Reconstruct", variant="primary",
                                                    elem_id="reconstruct-button")
                            with gr.Tab("Draw", id="rec-draw"):
                                grey = first.spec.channels == 1
                                draw_note = gr.Markdown(_draw_note(first), visible=not grey)
                                sketch = gr.Sketchpad(
                                    label="Draw a digit: pick the pen (left toolbar), then draw", type="numpy",
                                    image_mode="RGBA", canvas_size=(280, 280), height=360,
                                    brush=gr.Brush(default_size=12, colors=["#000000"],
                                                   color_mode="fixed"),
                                    layers=False, elem_id="sketchpad", visible=grey,
                                )
                                sketch_btn = gr.Button("Reconstruct drawing", variant="primary",
                                                       elem_id="sketch-button", visible=grey)
                    with gr.Column():
                        with gr.Row():
                            rec_in = gr.Image(label="Input as the model sees it", format="png",
                                              interactive=False, height=240,
                                              elem_classes="pixelated", elem_id="rec-input")
                            rec_out = gr.Image(label="Reconstruction", format="png",
                                               interactive=False, height=240,
                                               elem_classes="pixelated", elem_id="rec-output")
                        rec_text = gr.Textbox(label="Latent mean and timing", lines=4,
                                              interactive=False, elem_id="rec-details")
                rec_outputs = [rec_in, rec_out, rec_text]
                rec_btn.click(readable(h.reconstruct), [picker, upload], rec_outputs,
                              api_name="reconstruct")
                upload.upload(readable(h.reconstruct), [picker, upload], rec_outputs,
                              api_visibility="private")
                sketch_btn.click(readable(h.reconstruct_sketch), [picker, sketch], rec_outputs,
                                 api_name="reconstruct_sketch")
                hidden_index = gr.Number(visible=False, precision=0)

                def _pick(model: str, evt: gr.SelectData):
                    return h.pick_example(model, evt)

                gallery.select(readable(_pick), [picker], rec_outputs, api_visibility="private")
                # the API twin of a gallery click: reconstruct built-in example #index
                ex_btn = gr.Button(visible=False)
                ex_btn.click(readable(h.reconstruct_example), [picker, hidden_index], rec_outputs,
                             api_name="reconstruct_example")

            # ---------------------------------------------------------------- Sample
            with gr.Tab("Sample", id="sample"):
                with gr.Row():
                    with gr.Column(scale=1):
                        seed = gr.Number(value=0, precision=0, label="Seed", minimum=0,
                                         maximum=MAX_SEED, elem_id="sample-seed")
                        count = gr.Slider(1, MAX_SAMPLES, value=16, step=1, label="Count",
                                          elem_id="sample-count")
                        temperature = gr.Slider(0.0, 2.0, value=1.0, step=0.05,
                                                label="Temperature (prior std multiplier)",
                                                elem_id="sample-temperature")
                        sample_btn = gr.Button("Sample", variant="primary", elem_id="sample-button")
                    with gr.Column(scale=2):
                        sample_img = gr.Image(label="Samples", format="png", interactive=False,
                                              height=460, elem_classes="pixelated",
                                              elem_id="sample-output")
                        sample_text = gr.Textbox(label="Timing", interactive=False,
                                                 elem_id="sample-details")
                sample_btn.click(readable(h.sample), [picker, seed, count, temperature],
                                 [sample_img, sample_text], api_name="sample")

            # ---------------------------------------------------------------- Interpolate
            with gr.Tab("Interpolate", id="interpolate"):
                choices = _example_choices(first)
                with gr.Row():
                    with gr.Column():
                        a_pick = gr.Dropdown(choices=choices, value=choices[0][1] if choices else None,
                                             label="Image A: a built-in example", interactive=True,
                                             allow_custom_value=True,
                                             elem_id="interp-a-example")
                        a_up = upload_image("…or upload image A (overrides the example)", height=180)
                    with gr.Column():
                        b_pick = gr.Dropdown(choices=choices,
                                             value=choices[1][1] if len(choices) > 1 else None,
                                             label="Image B: a built-in example", interactive=True,
                                             allow_custom_value=True,
                                             elem_id="interp-b-example")
                        b_up = upload_image("…or upload image B (overrides the example)", height=180)
                    with gr.Column():
                        steps = gr.Slider(2, MAX_STEPS, value=10, step=1, label="Steps")
                        method = gr.Radio(["linear", "spherical"], value="linear",
                                          label="Path through the latent space")
                        interp_btn = gr.Button("Interpolate", variant="primary",
                                               elem_id="interpolate-button")
                interp_img = gr.Image(label="A → B", format="png", interactive=False,
                                      elem_classes="pixelated", elem_id="interp-output")
                interp_text = gr.Textbox(label="Timing", interactive=False, elem_id="interp-details")
                interp_btn.click(readable(h.interpolate),
                                 [picker, a_pick, a_up, b_pick, b_up, steps, method],
                                 [interp_img, interp_text], api_name="interpolate")

            # ---------------------------------------------------------------- Latent explorer
            with gr.Tab("Latent explorer", id="explorer"):
                note = gr.Markdown(_explorer_note(first), elem_id="explorer-note")
                with gr.Row():
                    with gr.Column(scale=3):
                        plot = gr.Image(
                            value=first.scatter.marked(0.0, 0.0) if first.scatter else None,
                            label="Latent means of test images (click to move the point)",
                            format="png", interactive=False, height=480, elem_id="explorer-plot",
                        )
                    with gr.Column(scale=2):
                        lim = explorer_default.limit
                        z1 = gr.Slider(-lim, lim, value=0.0, step=0.01, label="z1", elem_id="z1")
                        z2 = gr.Slider(-lim, lim, value=0.0, step=0.01, label="z2", elem_id="z2")
                        start = h.explore(first.name, 0.0, 0.0) if first.scatter else (None,) * 3
                        decoded = gr.Image(value=start[1], label="Decoded", format="png",
                                           interactive=False,
                                           height=260, elem_classes="pixelated",
                                           elem_id="explorer-output")
                        explore_text = gr.Textbox(value=start[2], label="Timing", interactive=False,
                                                  elem_id="explorer-details")
                ex_outputs = [plot, decoded, explore_text]
                # live: every slider change (drag, typed value, a click on the plot, a model
                # switch) decodes; a model without a 2-D latent is skipped silently there
                for slider in (z1, z2):
                    slider.change(readable(h.explore_live), [picker, z1, z2], ex_outputs,
                                  api_visibility="private")
                # the API twin, strict: a non-2-D model is a readable error
                explore_btn = gr.Button(visible=False)
                explore_btn.click(readable(h.explore), [picker, z1, z2], ex_outputs,
                                  api_name="explore")

                def _click(model: str, evt: gr.SelectData):
                    return h.click_plot(model, evt)

                plot.select(readable(_click), [picker], [z1, z2], api_visibility="private")

        # ---------------------------------------------------------------- model switch
        def on_model(name: str):
            m = h.model(name)
            ch = _example_choices(m)
            grey = m.spec.channels == 1
            outs: list[Any] = [
                m.describe(),
                gr.Markdown(_draw_note(m), visible=not grey),
                gr.Sketchpad(visible=grey),
                gr.Button(visible=grey),
                gr.Markdown(_no_examples_note(m), visible=not m.curated),
                _gallery(m),
                gr.Dropdown(choices=ch, value=ch[0][1] if ch else None),
                gr.Dropdown(choices=ch, value=ch[1][1] if len(ch) > 1 else None),
                _explorer_note(m),
            ]
            if m.latent_dim == 2 and m.scatter is not None:
                outs += [
                    gr.Slider(minimum=-m.limit, maximum=m.limit, value=0.0, interactive=True),
                    gr.Slider(minimum=-m.limit, maximum=m.limit, value=0.0, interactive=True),
                    m.scatter.marked(0.0, 0.0),
                    None,
                ]
            else:
                outs += [gr.Slider(interactive=False), gr.Slider(interactive=False), None, None]
            return outs + [None, None, "", None, "", None, ""]

        picker.change(
            readable(on_model), [picker],
            [info, draw_note, sketch, sketch_btn, no_examples, gallery, a_pick, b_pick, note, z1, z2, plot, decoded,
             rec_in, rec_out, rec_text, sample_img, sample_text, interp_img, interp_text],
            api_visibility="private",
        )
    return app


def _draw_note(m: DemoModel) -> str:
    return (f"Drawing is for greyscale digit models; **{m.name}** takes colour pictures: "
            "use the Upload tab instead.")


def _no_examples_note(m: DemoModel) -> str:
    return (f"**{m.name}** was exported without built-in examples (no `examples.npz`, written "
            "when the dataset is present at export time): upload a picture instead.")


def _explorer_note(m: DemoModel) -> str:
    if m.latent_dim == 2:
        return (f"Each dot is a test image of **{m.name}** placed at its latent mean. Move the "
                "sliders (or click the plot) to decode any point of the plane.")
    return (f"**{m.name}** has a {m.latent_dim}-D latent space; the explorer needs a 2-D one. "
            "Pick a 2-D model (such as mnist-z2) above.")


def checked_image(**kwargs: Any) -> gr.Image:
    """A ``gr.Image`` input whose upload decoding fails with a readable message, not a trace.

    Gradio decodes uploads before a handler runs, and a file that is not an image would
    surface as a bare "Error". The instance's ``preprocess`` is wrapped (not subclassed:
    Gradio writes a ``.pyi`` stub next to any module that defines a component class).
    """
    image = gr.Image(**kwargs)
    decode = image.preprocess

    def preprocess(payload):
        try:
            return decode(payload)
        except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError) as e:
            name = getattr(payload, "orig_name", None) or "the uploaded file"
            raise gr.Error(
                f"{name!s} is not an image this demo can read ({type(e).__name__}): upload a "
                "PNG, JPEG, WebP, GIF or BMP picture",
                print_exception=False,
            ) from None

    image.preprocess = preprocess  # type: ignore[method-assign]
    return image


def launch(
    app: gr.Blocks,
    *,
    host: str = "127.0.0.1",
    port: int | None = 7860,
    share: bool = False,
    prevent_thread_lock: bool = False,
    quiet: bool = False,
    concurrency: int = 4,
):
    """Serve ``app`` with the demo's settings: a queue that runs ``concurrency`` requests at
    once, a 25 MB upload limit, no share link unless asked, and its CSS."""
    app.queue(default_concurrency_limit=concurrency, max_size=256)
    return app.launch(
        server_name=host,
        server_port=port,
        share=share,
        prevent_thread_lock=prevent_thread_lock,
        quiet=quiet,
        max_file_size=pp.MAX_FILE_BYTES,
        css=CSS,
        # the system font stack: Gradio's bundled Source Sans Pro draws some bold capitals
        # (the A of "VAE") as small caps in Chromium, and no web font is fetched
        theme=gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"],
                                font_mono=["ui-monospace", "monospace"]),
        footer_links=["api"],
        ssr_mode=False,
        enable_monitoring=False,
        mcp_server=False,
        run_history=False,
    )
