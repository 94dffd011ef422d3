"""The Gradio app: reconstruct, sample, interpolate and explore exported VAEs in a browser.

Only :mod:`vaekit.runtime` runs the models (ONNX Runtime; torch is never imported). The
page is a header with the model picker and one tab per concern, each built by its own
module (``tab_reconstruct``, ``tab_sample``, ``tab_interpolate``, ``tab_explorer``) from
the computations in :mod:`~vaekit.demo.handlers`. Every handler answers bad input with a
readable :class:`gradio.Error` (a dialog in the browser, an ``AppError`` with the same text
in ``gradio_client``), never a stack trace; values of the wrong type are refused before
Gradio decodes them (:mod:`~vaekit.demo.gate`). Public API endpoints (``api_name``):
``reconstruct``, ``reconstruct_sketch``, ``reconstruct_example``, ``sample``,
``interpolate`` and ``explore``.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from . import gate, tab_explorer, tab_interpolate, tab_reconstruct, tab_sample
from .handlers import Handlers, readable
from .models import DemoModel, load_models, wrap_models
from .server import DELETE_CACHE, launch
from .tabs import Context, Header, header_view, outputs, updates
from .widgets import PictureStore

__all__ = ["DemoModel", "Handlers", "build_app", "launch", "load_models", "opening_model", "wrap_models"]

TABS = (tab_reconstruct, tab_sample, tab_interpolate, tab_explorer)
INTRO = ("# vaekit — a VAE in your browser\n"
         "Every picture below is computed by the model's two ONNX graphs (encoder and decoder) "
         "through ONNX Runtime; torch is not involved. The same models also decode in your "
         "browser itself: [the browser page](web/).")


def opening_model(models: dict[str, DemoModel]) -> DemoModel:
    """The model the page opens on: the first whose latent is a plane (so every tab,
    explorer included, works at once), else the first."""
    return next((m for m in models.values() if m.plottable), next(iter(models.values())))


def build_app(models: dict[str, Any], *, title: str = "vaekit demo",
              delete_cache: tuple[int, int] | None = DELETE_CACHE) -> gr.Blocks:
    """The Blocks app serving ``models`` (name -> runtime ``VAE`` or :class:`DemoModel`).

    ``delete_cache``: ``(every, age)`` seconds: computed pictures and uploads older than
    ``age`` are deleted every ``every`` seconds (None keeps them until the server stops).
    Launch it with :func:`launch` (which sets the queue, CSS, upload and session limits).
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
    first = opening_model(dm)
    with gr.Blocks(title=title, analytics_enabled=False, delete_cache=delete_cache) as app:
        ctx = Context(handlers=Handlers(dm), store=PictureStore(app.GRADIO_CACHE))
        gr.Markdown(INTRO)
        hv = header_view(first)
        with gr.Row():
            with gr.Column(scale=1):
                picker = gr.Dropdown(
                    choices=[(m.choice_label(), m.name) for m in dm.values()], value=first.name,
                    label="Model", interactive=True, elem_id="model-picker",
                )
                # custom values: the choices are the opening model's, an API call may name
                # another model's class (the handlers check the range per model)
                label = gr.Dropdown(label="Class (this model is conditional)", interactive=True,
                                    allow_custom_value=True, elem_id="class-picker", **hv["label"])
            with gr.Column(scale=2):
                info = gr.Markdown(elem_id="model-info", **hv["info"])
        header = Header(model=picker, label=label, info=info)
        # each tab's first look, computed once (the explorer decodes its first point, the
        # examples gallery writes its tiles): it gives the components their first props and
        # names the components a model switch resets
        views = [module.view(first, ctx) for module in TABS]
        with gr.Tabs():
            tabs = [(module, module.build(header, ctx, v)) for module, v in zip(TABS, views)]

        def on_model(name: str) -> dict[Any, Any]:
            m = ctx.handlers.model(name)
            out = updates(header, header_view(m))
            for module, tab in tabs:
                out.update(updates(tab, module.view(m, ctx)))
            return out

        switched = outputs(header, hv)
        switched += [c for (_, tab), v in zip(tabs, views) for c in outputs(tab, v)]
        picker.change(readable(on_model), [picker], switched, api_visibility="private")
        app.load(None, js=tab_reconstruct.BRUSH_JS, api_visibility="private")  # a default brush
    gate.install(app)  # every event's inputs checked before Gradio decodes them
    return app
