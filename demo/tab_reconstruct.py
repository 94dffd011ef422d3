"""The Reconstruct tab: a built-in example, an upload or a drawing -> what the model sees
and its reconstruction, with the latent mean and timings.

API endpoints: ``reconstruct`` (model, image file), ``reconstruct_sketch`` (model, sketchpad
value), ``reconstruct_example`` (model, example index); each takes the class of a
conditional model last (-1: an example's own class).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr
from vaekit.format import EXAMPLES_FILE

from .handlers import ANY_CLASS, Reconstruction, readable
from .models import DemoModel
from .tabs import Context, Header, View
from .widgets import shown_image, upload_image

# Gradio's Sketchpad opens with no tool chosen, so a drag draws nothing until its Brush icon is
# found: this picks the brush whenever a sketchpad appears (a tab shown, a model switched).
BRUSH_JS = """() => {
  const pick = () => {
    const pad = document.querySelector("#sketchpad");
    const brush = pad && pad.querySelector('button[aria-label="Brush"]');
    if (!brush || pad.dataset.vaekitBrush || brush.offsetParent === null) return;
    pad.dataset.vaekitBrush = "1";
    brush.click();
  };
  new MutationObserver(pick).observe(document.body, { childList: true, subtree: true, attributes: true });
  pick();
}"""


@dataclass
class ReconstructTab:
    no_examples: gr.Markdown
    gallery: gr.Gallery
    upload: gr.Image
    upload_button: gr.Button
    draw_note: gr.Markdown
    sketch: gr.Sketchpad
    sketch_button: gr.Button
    seen: gr.Image
    output: gr.Image
    details: gr.Textbox

    def shown(self, r: Reconstruction, ctx: Context) -> dict[Any, Any]:
        return {self.seen: ctx.store(r.input), self.output: ctx.store(r.output), self.details: r.details}


def view(m: DemoModel, ctx: Context) -> View:
    grey = m.spec.channels == 1
    gallery = []
    if m.examples is not None:
        gallery = [(ctx.store(_tile(m, i)), m.examples.label_name(i)) for i in m.curated]
    return {
        "no_examples": {"value": _no_examples_note(m), "visible": not m.curated},
        "gallery": {"value": gallery, "visible": bool(m.curated)},
        "draw_note": {"value": _draw_note(m)},
        "sketch": {"visible": grey},
        "sketch_button": {"visible": grey},
        "seen": {"value": None},
        "output": {"value": None},
        "details": {"value": ""},
    }


def build(header: Header, ctx: Context, v: View) -> ReconstructTab:
    h = ctx.handlers
    with gr.Tab("Reconstruct", id="reconstruct"), gr.Row():
        with gr.Column(), gr.Tabs():
            with gr.Tab("Examples", id="rec-examples"):
                no_examples = gr.Markdown(**v["no_examples"])
                gallery = gr.Gallery(label="Built-in test images: click one", columns=5,
                                     allow_preview=False, height=330, format="png",
                                     elem_classes="pixelated", elem_id="example-gallery",
                                     **v["gallery"])
            with gr.Tab("Upload", id="rec-upload"):
                upload = upload_image("Your picture (PNG, JPEG, ...)", height=280)
                upload_button = gr.Button("Reconstruct", variant="primary",
                                          elem_id="reconstruct-button")
            with gr.Tab("Draw", id="rec-draw"):
                draw_note = gr.Markdown(**v["draw_note"])
                sketch = gr.Sketchpad(
                    type="numpy", image_mode="RGBA", canvas_size=(280, 280), height=360,
                    brush=gr.Brush(default_size=12, colors=["#000000"], color_mode="fixed"),
                    layers=False, elem_id="sketchpad", label="Your drawing: draw with the mouse or a finger",
                    **v["sketch"],
                )
                sketch_button = gr.Button("Reconstruct drawing", variant="primary",
                                          elem_id="sketch-button", **v["sketch_button"])
        with gr.Column():
            with gr.Row():
                seen = shown_image("Input as the model sees it", "rec-input", height=240)
                output = shown_image("Reconstruction", "rec-output", height=240)
            details = gr.Textbox(label="Latent mean and timing", lines=4, interactive=False,
                                 elem_id="rec-details")
            index = gr.Number(visible=False, precision=0, label="Example index")  # the API twin of a gallery click
            example_button = gr.Button(visible=False)
    tab = ReconstructTab(no_examples, gallery, upload, upload_button, draw_note, sketch,
                         sketch_button, seen, output, details)
    outs = [seen, output, details]

    def from_upload(model: str, path: str | None, label=ANY_CLASS):
        return tab.shown(h.reconstruct(model, path, label), ctx)

    def from_sketch(model: str, sketch_value: Any, label=ANY_CLASS):
        return tab.shown(h.reconstruct_sketch(model, sketch_value, label), ctx)

    def from_example(model: str, index: Any, label=ANY_CLASS):
        return tab.shown(h.reconstruct_example(model, index, label), ctx)

    def from_gallery(model: str, label: Any, evt: gr.SelectData):
        return tab.shown(h.pick_example(model, evt.index, label), ctx)

    picked = [header.model, upload, header.label]
    upload_button.click(readable(from_upload), picked, outs, api_name="reconstruct")
    upload.upload(readable(from_upload), picked, outs, api_visibility="private")
    sketch_button.click(readable(from_sketch), [header.model, sketch, header.label], outs,
                        api_name="reconstruct_sketch")
    gallery.select(readable(from_gallery), [header.model, header.label], outs,
                   api_visibility="private")
    # the API twin of a gallery click: reconstruct built-in example #index
    example_button.click(readable(from_example), [header.model, index, header.label], outs,
                         api_name="reconstruct_example")
    return tab


def _tile(m: DemoModel, i: int):
    from .display import to_display

    return to_display(m.examples.images[i], scale=m.scale)


def _draw_note(m: DemoModel) -> str:
    if m.spec.channels != 1:
        return (f"Drawing is for greyscale models; **{m.name}** takes colour pictures: "
                "use the Upload tab instead.")
    return (f"Draw {m.facts.subject()}. The drawing is framed as **{m.name}**'s training "
            "pictures were, then reconstructed.")


def _no_examples_note(m: DemoModel) -> str:
    why = (f"its `{EXAMPLES_FILE}` could not be read ({m.warning})" if m.warning else
           f"no `{EXAMPLES_FILE}`, written when the dataset is present at export time")
    return f"**{m.name}** has no built-in examples ({why}): upload a picture instead."
