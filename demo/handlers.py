"""What each button of the demo computes: plain methods over the loaded models.

Nothing here builds a page: every method takes plain values (model name, numbers, file
paths) and returns a small named tuple of numpy pictures and text, so the handlers are
tested and called from Python without a server. Bad input raises ``ValueError`` with a
sentence saying what to do; :func:`readable` turns that into a dialog in the browser.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from vaekit.runtime import interpolate_latents
from vaekit.runtime.contract import EXAMPLES_FILE

from . import display, framing, reading
from .models import DemoModel

log = logging.getLogger("vaekit.demo")

MAX_SAMPLES = 64
MAX_STEPS = 24
MAX_SEED = 2**31 - 1
MAX_TEMPERATURE = 3.0
ANY_CLASS = -1  # the class menu's default: every class in turn, or an example's own class
DEFAULT_PRIOR = "default"  # the prior menu's default: the one the model's export ships
METHODS = {"linear": "linear", "spherical": "slerp", "slerp": "slerp"}


class Reconstruction(NamedTuple):
    input: np.ndarray  # the picture as the model sees it, upscaled for display
    output: np.ndarray  # its reconstruction, same size
    details: str  # latent mean and timings


class Picture(NamedTuple):
    image: np.ndarray
    details: str


class Exploration(NamedTuple):
    plot: np.ndarray  # the scatter with the chosen point ringed
    decoded: np.ndarray
    details: str


def readable(fn: Callable) -> Callable:
    """Turn any failure of a handler into a readable ``gr.Error`` (no trace in the UI)."""
    import gradio as gr

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


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def int_arg(value: Any, name: str, lo: int, hi: int) -> int:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError(f"{name} is empty: enter a whole number from {lo} to {hi}")
    if isinstance(value, bool):  # float(True) is 1.0: a yes/no is not a number
        raise ValueError(f"{name} must be a whole number from {lo} to {hi}, got {value!r}")
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a whole number from {lo} to {hi}, got {value!r}") from None
    if not math.isfinite(f) or f != int(f) or not lo <= f <= hi:
        raise ValueError(f"{name} must be a whole number from {lo} to {hi}, got {value!r}")
    return int(f)


def float_arg(value: Any, name: str, lo: float, hi: float) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number from {lo} to {hi}, got {value!r}")
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number from {lo} to {hi}, got {value!r}") from None
    if not math.isfinite(f) or not lo <= f <= hi:
        raise ValueError(f"{name} must be a number from {lo} to {hi}, got {value!r}")
    return f


LATENT_SHOWN = 8  # a longer latent mean is summarised: its first values, norm and range


def format_latent(mean: np.ndarray) -> str:
    """The latent mean as text: every value up to :data:`LATENT_SHOWN` dimensions, else the
    first few with the norm and range (128 numbers would hide the timing line below them)."""
    v = np.asarray(mean, dtype=np.float64).ravel()
    if len(v) <= LATENT_SHOWN:
        return np.array2string(v, precision=3, suppress_small=True, max_line_width=72, separator=", ")
    head = np.array2string(v[:LATENT_SHOWN], precision=2, suppress_small=True, max_line_width=200,
                           separator=", ")
    return (f"{head[:-1]}, ... ({len(v) - LATENT_SHOWN} more)]\n"
            f"|z| = {np.linalg.norm(v):.2f}, values from {v.min():.2f} to {v.max():.2f}")


class Handlers:
    """The app's computations over loaded models; also usable directly from Python."""

    def __init__(self, models: dict[str, DemoModel]):
        self.models = models

    def model(self, name: Any) -> DemoModel:
        if not name:
            raise ValueError(f"no model chosen: pick one of {', '.join(self.models)}")
        if not isinstance(name, str):
            raise ValueError(f"model must be a name, one of {', '.join(self.models)}; got {name!r}")
        if name not in self.models:
            # the picker may send the label rather than the name (older clients)
            for m in self.models.values():
                if name == m.choice_label():
                    return m
            raise ValueError(f"unknown model {name!r}: this server serves {', '.join(self.models)}")
        return self.models[name]

    def chosen_class(self, m: DemoModel, label: Any) -> int:
        """The Class menu's value checked: :data:`ANY_CLASS` (also for empty), or a class of
        a conditional model."""
        if label is None or label == "":
            return ANY_CLASS
        if m.facts.conditional:
            return int_arg(label, "class", ANY_CLASS, m.facts.num_classes - 1)
        try:
            k = float(label)
        except (TypeError, ValueError):
            k = None
        if k != ANY_CLASS:
            raise ValueError(f"{m.name} is not conditional: leave the class at {ANY_CLASS} (any), "
                             f"got {label!r}")
        return ANY_CLASS

    def conditioning(self, m: DemoModel, label: Any, *, fallback: int | None = None,
                     what: str = "your picture") -> dict[str, int]:
        """``{}`` for an unconditional model; else ``{"labels": k}`` for the class chosen in
        the Class menu (``label``), or ``fallback`` when it is left at :data:`ANY_CLASS`."""
        k = self.chosen_class(m, label)
        if not m.facts.conditional:
            return {}
        if k == ANY_CLASS:
            k = fallback if fallback is not None and fallback >= 0 else ANY_CLASS
        if k == ANY_CLASS:
            raise ValueError(f"{m.name} is conditional (it draws the class you give it): pick the "
                             f"class of {what} in the Class menu next to the model")
        return {"labels": int(k)}

    # -- reconstruct -------------------------------------------------------------------------
    def picture_class(self, m: DemoModel, label: Any, x: np.ndarray) -> tuple[dict[str, int], str]:
        """The conditioning for a picture of unknown class (an upload, a drawing) and how it
        was chosen: the Class menu's class, or with "any" the class whose reconstruction of
        ``x`` (uint8 [C, H, W]) is closest, found by one batched encode and decode."""
        k = self.chosen_class(m, label)
        if not m.facts.conditional or k != ANY_CLASS:
            return self.conditioning(m, label), ""
        n = m.facts.num_classes
        labels = np.arange(n, dtype=np.int64)
        batch = np.repeat(x[None], n, axis=0)
        recon = m.vae.decode(m.vae.encode(batch, labels=labels)[0], labels=labels)
        error = ((np.asarray(recon, np.float64) - batch / 255.0) ** 2).reshape(n, -1).mean(axis=1)
        return {"labels": int(np.argmin(error))}, " (the best fit of all classes: pick one in the Class menu to choose)"

    def _reconstruct(self, m: DemoModel, x: np.ndarray, source: str,
                     cond: dict[str, int], how: str = "") -> Reconstruction:
        """``x`` uint8 [C, H, W] -> what the model sees, its reconstruction, details."""
        t0 = time.perf_counter()
        mean, _ = m.vae.encode(x[None], **cond)
        t1 = time.perf_counter()
        recon = m.vae.decode(mean, **cond)
        t2 = time.perf_counter()
        if cond:
            source += f", class {m.facts.class_name(cond['labels'])}{how}"
        details = (
            f"{source} → latent mean z ({m.latent_dim}-D):\n{format_latent(mean[0])}\n"
            f"encode {ms(t1 - t0)} · decode {ms(t2 - t1)} on {m.provider}"
        )
        return Reconstruction(display.to_display(x, scale=m.scale), display.to_display(recon[0], scale=m.scale),
                              details)

    def reconstruct(self, model: str, image_path: str | None, label: Any = ANY_CLASS) -> Reconstruction:
        m = self.model(model)
        if not image_path:
            raise ValueError("no image uploaded: upload a picture, draw one, or click a built-in example")
        self.chosen_class(m, label)  # a bad class is refused before the picture is read
        image = reading.open_image(image_path)
        x = framing.photo_to_input(image, m.spec)
        w, h = image.size
        cond, how = self.picture_class(m, label, x)
        return self._reconstruct(m, x, f"upload {w}×{h}", cond, how)

    def reconstruct_sketch(self, model: str, sketch: dict | np.ndarray | None,
                           label: Any = ANY_CLASS) -> Reconstruction:
        m = self.model(model)
        self.chosen_class(m, label)
        if m.spec.channels != 1:
            raise ValueError(
                f"drawing needs a greyscale model; {m.name} takes colour pictures: upload one instead"
            )
        composite = sketch.get("composite") if isinstance(sketch, dict) else sketch
        if composite is None:
            raise ValueError("the sketch is empty: draw on the canvas first")
        if isinstance(composite, (str, os.PathLike)):
            composite = np.asarray(reading.open_image(composite))
        x = framing.sketch_to_input(np.asarray(composite), m.spec)
        cond, how = self.picture_class(m, label, x)
        return self._reconstruct(m, x, "sketch", cond, how)

    def reconstruct_example(self, model: str, index: Any, label: Any = ANY_CLASS) -> Reconstruction:
        """Built-in example #``index``; a conditional model gets the example's own class
        unless another is chosen."""
        m = self.model(model)
        if m.examples is None or not len(m.examples.images):
            raise ValueError(f"{m.name} was exported without {EXAMPLES_FILE}: upload a picture instead")
        i = int_arg(index, "example index", 0, len(m.examples.images) - 1)
        cond = self.conditioning(m, label, fallback=int(m.examples.labels[i]), what="this example")
        return self._reconstruct(m, m.examples.images[i], f"example #{i} ({m.examples.label_name(i)})",
                                 cond)

    def pick_example(self, model: str, position: Any, label: Any = ANY_CLASS) -> Reconstruction:
        """A gallery click (position in the curated list) -> that example's reconstruction."""
        m = self.model(model)
        k = int(position if not isinstance(position, (list, tuple)) else position[0])
        if not 0 <= k < len(m.curated):
            raise ValueError("that example is not available any more: pick another one")
        return self.reconstruct_example(model, m.curated[k], label)

    # -- sample ------------------------------------------------------------------------------
    def sample(self, model: str, seed: Any, count: Any, temperature: Any,
               label: Any = ANY_CLASS, prior: Any = DEFAULT_PRIOR) -> Picture:
        """``count`` samples; for a conditional model, of class ``label`` (or every class in
        turn with :data:`ANY_CLASS`); the label is ignored by unconditional models. ``prior``:
        one of the model's priors (``normal`` or the one its export ships), or
        :data:`DEFAULT_PRIOR` (the export's own)."""
        m = self.model(model)
        if prior in (None, "", DEFAULT_PRIOR):
            prior = m.vae.default_prior
        if prior not in m.vae.priors:
            raise ValueError(f"prior {prior!r}: {m.name} samples from {', '.join(m.vae.priors)}")
        seed = int_arg(seed, "seed", 0, MAX_SEED)
        count = int_arg(count, "count", 1, MAX_SAMPLES)
        temperature = float_arg(temperature, "temperature", 0.0, MAX_TEMPERATURE)
        extra: dict[str, Any] = {}
        what = ""
        k = self.chosen_class(m, label)
        if m.facts.conditional:
            labels = (np.arange(count) % m.facts.num_classes if k == ANY_CLASS
                      else np.full(count, k))
            extra["labels"] = labels.astype(np.int64)
            what = " of every class in turn" if k == ANY_CLASS else f" of class {m.facts.class_name(k)}"
        t0 = time.perf_counter()
        images = m.vae.sample(count, seed=seed, temperature=temperature, prior=prior, **extra)
        dt = time.perf_counter() - t0
        text = (f"{count} samples{what}, seed {seed}, prior {prior}, temperature {temperature:g}: "
                f"decode {ms(dt)} on {m.provider}")
        return Picture(display.to_display(display.tile(images), scale=m.scale), text)

    # -- interpolate -------------------------------------------------------------------------
    def _endpoint(self, m: DemoModel, index: Any, path: str | None,
                  which: str) -> tuple[np.ndarray, str, int | None]:
        """(picture, description, its class when it is a labelled example)."""
        if path:
            image = reading.open_image(path)
            return framing.photo_to_input(image, m.spec), f"{which}: upload", None
        if index is None or index == "":
            raise ValueError(f"image {which} is missing: upload a picture or pick a built-in example")
        if m.examples is None or not len(m.examples.images):
            raise ValueError(f"{m.name} has no built-in examples: upload picture {which}")
        i = int_arg(index, f"example index for {which}", 0, len(m.examples.images) - 1)
        return (m.examples.images[i], f"{which}: example #{i} ({m.examples.label_name(i)})",
                int(m.examples.labels[i]))

    def interpolate(self, model: str, a_index: Any, a_path: str | None, b_index: Any,
                    b_path: str | None, steps: Any, method: Any, label: Any = ANY_CLASS) -> Picture:
        """The path from A to B; a conditional model encodes and decodes all of it with one
        class: the one chosen, else A's (or B's) own."""
        m = self.model(model)
        steps = int_arg(steps, "steps", 2, MAX_STEPS)
        if method not in METHODS:
            raise ValueError(f"method must be 'linear' or 'spherical', got {method!r}")
        xa, la, ka = self._endpoint(m, a_index, a_path, "A")
        xb, lb, kb = self._endpoint(m, b_index, b_path, "B")
        own = ka if ka is not None and ka >= 0 else kb
        if m.facts.conditional and own is None and self.chosen_class(m, label) == ANY_CLASS:
            own = self.picture_class(m, label, xa)[0]["labels"]  # two uploads: A's best fit
        cond = self.conditioning(m, label, fallback=own, what="the path")
        t0 = time.perf_counter()
        mean, _ = m.vae.encode(np.stack([xa, xb]), **cond)
        t1 = time.perf_counter()
        z = interpolate_latents(mean[0], mean[1], steps, method=METHODS[method])
        images = m.vae.decode(z, **cond)
        if cond:
            lb += f", class {m.facts.class_name(cond['labels'])}"
        t2 = time.perf_counter()
        text = (
            f"{la} → {lb}, {steps} steps, {method} (A and B themselves at the ends): "
            f"encode {ms(t1 - t0)} · decode {ms(t2 - t1)} on {m.provider}"
        )
        strip = np.concatenate([xa[None] / 255.0, images, xb[None] / 255.0])
        return Picture(display.to_display(display.tile(strip, cols=steps + 2), scale=m.scale), text)

    # -- latent explorer ---------------------------------------------------------------------
    def explorer_model(self, model: str) -> DemoModel:
        m = self.model(model)
        if not m.plottable or m.scatter is None:
            raise ValueError(
                f"the latent explorer needs a model with a 2-D latent; {m.name} has "
                f"{m.latent_dim} dimensions: pick a 2-D model"
            )
        return m

    def explore(self, model: str, z1: Any, z2: Any, label: Any = ANY_CLASS,
                fast: Any = True) -> Exploration:
        """Decode the point (z1, z2); a conditional model with its first class unless
        another is chosen. ``fast``: with the distilled fast decoder where the model ships one."""
        m = self.explorer_model(model)
        lim = 10.0 * m.limit
        z1 = float_arg(z1, "z1", -lim, lim)
        z2 = float_arg(z2, "z2", -lim, lim)
        cond = self.conditioning(m, label, fallback=0)
        t0 = time.perf_counter()
        vae = m.decoder(bool(fast))
        image = vae.decode(np.array([[z1, z2]], dtype=np.float32), **cond)
        dt = time.perf_counter() - t0
        what = f", class {m.facts.class_name(cond['labels'])}" if cond else ""
        which = " (fast decoder)" if vae is not m.vae else ""
        text = f"z = ({z1:.2f}, {z2:.2f}){what}: decode {ms(dt)}{which} on {m.provider}"
        return Exploration(m.scatter.marked(z1, z2), display.to_display(image[0], scale=m.scale * 2), text)

    def click_plot(self, model: str, x: float, y: float) -> tuple[float, float]:
        """A click on the scatter (pixel x, y) -> latent (z1, z2), clamped to the axes."""
        m = self.explorer_model(model)
        z1, z2 = m.scatter.to_latent(float(x), float(y))
        z1 = float(np.clip(round(z1, 2), -m.limit, m.limit))
        z2 = float(np.clip(round(z2, 2), -m.limit, m.limit))
        return z1, z2
