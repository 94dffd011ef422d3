"""The Interpolate tab: the path between two pictures' latent means (linear or spherical),
decoded as a strip.

API endpoint: ``interpolate`` (model, example A, upload A, example B, upload B, steps,
method, class of a conditional model); an upload overrides the example of its side.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from .handlers import ANY_CLASS, MAX_STEPS, readable
from .models import DemoModel
from .tabs import Context, Header, View
from .widgets import shown_image, upload_image


@dataclass
class InterpolateTab:
    a_pick: gr.Dropdown
    a_upload: gr.Image
    b_pick: gr.Dropdown
    b_upload: gr.Image
    steps: gr.Slider
    method: gr.Radio
    button: gr.Button
    image: gr.Image
    details: gr.Textbox


def view(m: DemoModel, ctx: Context) -> View:
    ch = []
    if m.examples is not None:
        ch = [(f"#{i} · {m.examples.label_name(i)}", i) for i in m.curated]
    return {
        "a_pick": {"choices": ch, "value": ch[0][1] if ch else None},
        "b_pick": {"choices": ch, "value": ch[1][1] if len(ch) > 1 else None},
        "image": {"value": None},
        "details": {"value": ""},
    }


def build(header: Header, ctx: Context, v: View) -> InterpolateTab:
    with gr.Tab("Interpolate", id="interpolate"):
        with gr.Row():
            with gr.Column():
                a_pick = gr.Dropdown(label="Image A: a built-in example", interactive=True,
                                     allow_custom_value=True, elem_id="interp-a-example", **v["a_pick"])
                a_upload = upload_image("…or upload image A (overrides the example)", height=180)
            with gr.Column():
                b_pick = gr.Dropdown(label="Image B: a built-in example", interactive=True,
                                     allow_custom_value=True, elem_id="interp-b-example", **v["b_pick"])
                b_upload = upload_image("…or upload image B (overrides the example)", height=180)
            with gr.Column():
                steps = gr.Slider(2, MAX_STEPS, value=10, step=1, label="Steps")
                method = gr.Radio(["linear", "spherical"], value="linear",
                                  label="Path through the latent space")
                button = gr.Button("Interpolate", variant="primary", elem_id="interpolate-button")
        image = shown_image("A → B", "interp-output")
        details = gr.Textbox(label="Timing", interactive=False, elem_id="interp-details")
    tab = InterpolateTab(a_pick, a_upload, b_pick, b_upload, steps, method, button, image, details)

    def run(model, a_index, a_path, b_index, b_path, steps_value, method_value, label=ANY_CLASS):
        r = ctx.handlers.interpolate(model, a_index, a_path, b_index, b_path, steps_value,
                                     method_value, label)
        return {image: ctx.store(r.image), details: r.details}

    button.click(readable(run), [header.model, a_pick, a_upload, b_pick, b_upload, steps, method,
                                 header.label],
                 [image, details], api_name="interpolate")
    return tab
