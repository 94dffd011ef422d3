"""The Latent explorer tab: for a model whose latent is a plane, the test images' latent means
as a scatter; two sliders (or a click on the plot) pick a point, which is decoded live.

For any other model the plot and sliders are hidden (a note says why), so nothing on the
page looks usable and does nothing. API endpoint: ``explore`` (model, z1, z2, class of a
conditional model: -1 for its first, fast decoder on/off). Where the export ships a distilled
fast decoder, a "Fast decoder" switch (on by default) decodes the plane with it.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from .handlers import ANY_CLASS, readable
from .models import DemoModel
from .tabs import Context, Header, View
from .widgets import shown_image


@dataclass
class ExplorerTab:
    note: gr.Markdown
    panel: gr.Row
    plot: gr.Image
    z1: gr.Slider
    z2: gr.Slider
    fast: gr.Checkbox
    decoded: gr.Image
    details: gr.Textbox


def view(m: DemoModel, ctx: Context) -> View:
    if not (m.plottable and m.scatter is not None):
        return {
            "note": {"value": _note(m)},
            "panel": {"visible": False},
            "plot": {"value": None},
            "z1": {"value": 0.0},
            "z2": {"value": 0.0},
            "fast": {"value": False, "visible": False},
            "decoded": {"value": None},
            "details": {"value": ""},
        }
    start = ctx.handlers.explore(m.name, 0.0, 0.0)
    axis = {"minimum": -m.limit, "maximum": m.limit, "value": 0.0}
    return {
        "note": {"value": _note(m)},
        "panel": {"visible": True},
        "plot": {"value": ctx.store(start.plot)},
        "z1": axis,
        "z2": dict(axis),
        "fast": {"value": m.fast is not None, "visible": m.fast is not None},
        "decoded": {"value": ctx.store(start.decoded)},
        "details": {"value": start.details},
    }


def build(header: Header, ctx: Context, v: View) -> ExplorerTab:
    h = ctx.handlers
    with gr.Tab("Latent explorer", id="explorer"):
        note = gr.Markdown(elem_id="explorer-note", **v["note"])
        with gr.Row(**v["panel"]) as panel:
            with gr.Column(scale=3):
                plot = gr.Image(label="Latent means of test images (click to move the point)",
                                format="png", interactive=False, height=480,
                                elem_id="explorer-plot", **v["plot"])
            with gr.Column(scale=2):
                z1 = gr.Slider(step=0.01, label="z1", elem_id="z1", **_axis(v["z1"]))
                z2 = gr.Slider(step=0.01, label="z2", elem_id="z2", **_axis(v["z2"]))
                fast = gr.Checkbox(label="Fast decoder (distilled decoder.fast.onnx)", elem_id="explorer-fast",
                                   interactive=True, **v["fast"])
                decoded = shown_image("Decoded", "explorer-output", height=260, **v["decoded"])
                details = gr.Textbox(label="Timing", interactive=False, elem_id="explorer-details",
                                     **v["details"])
                api_button = gr.Button(visible=False)
    tab = ExplorerTab(note, panel, plot, z1, z2, fast, decoded, details)
    outs = [plot, decoded, details]

    def shown(model, a, b, label=ANY_CLASS, quick=True):
        r = h.explore(model, a, b, label, quick)
        return {plot: ctx.store(r.plot), decoded: ctx.store(r.decoded), details: r.details}

    def live(model, a, b, label=ANY_CLASS, quick=True):
        """Slider events (a drag, a typed value, a plot click, a model switch): nothing to do
        for a model without a plane (its panel is hidden)."""
        m = h.model(model)
        if not (m.plottable and m.scatter is not None):
            return {c: gr.skip() for c in outs}  # (an empty dict would be read as one value)
        return shown(model, a, b, label, quick)

    def click(model, evt: gr.SelectData):
        a, b = h.click_plot(model, *evt.index)
        return {z1: a, z2: b}

    point = [header.model, z1, z2, header.label, fast]
    for event in (z1.change, z2.change, header.label.change, fast.change):
        event(readable(live), point, outs, api_visibility="private", trigger_mode="always_last")
    # the API twin, strict: a model without a plane is a readable error
    api_button.click(readable(shown), point, outs, api_name="explore")
    plot.select(readable(click), [header.model], [z1, z2], api_visibility="private")
    return tab


def _axis(props: dict) -> dict:
    """Slider props with the range of a 3-unit plane when the view leaves it open."""
    return {"minimum": -3.0, "maximum": 3.0, **props}


def _note(m: DemoModel) -> str:
    if m.plottable:
        return (f"Each dot is a test image of **{m.name}** placed at its latent mean. Move the "
                "sliders (or click the plot) to decode any point of the plane.")
    return (f"**{m.name}** has a {m.latent_dim}-D latent space; the explorer draws a 2-D one. "
            "Pick a model with a 2-D latent above to explore it.")
