"""The Sample tab: a grid of images decoded from a prior, with seed, count, temperature and
the prior (the one the model's export ships by default, or N(0, I)); for a conditional
model, of the class chosen in the header's Class menu.

API endpoint: ``sample`` (model, seed, count, temperature, class: -1 for every class in
turn, ignored by unconditional models; prior: ``default``, ``normal`` or the export's prior).
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from .handlers import ANY_CLASS, DEFAULT_PRIOR, MAX_SAMPLES, MAX_SEED, readable
from .models import DemoModel
from .tabs import Context, Header, View
from .widgets import shown_image


@dataclass
class SampleTab:
    seed: gr.Number
    count: gr.Slider
    temperature: gr.Slider
    prior: gr.Dropdown
    button: gr.Button
    image: gr.Image
    details: gr.Textbox


def prior_choices(m: DemoModel) -> list[tuple[str, str]]:
    """The prior menu of a model: its export's default first, then each prior by name."""
    named = {"normal": "N(0, I)"}
    default = m.vae.default_prior
    choices = [(f"default: {named.get(default, default)}", DEFAULT_PRIOR)]
    shipped = m.vae.prior_record  # its source says how it was made: fitted or learned
    return choices + [(named.get(p, f"{p} ({shipped.source or 'fitted'})"), p) for p in m.vae.priors]


def view(m: DemoModel, ctx: Context) -> View:
    return {
        "prior": {"choices": prior_choices(m), "value": DEFAULT_PRIOR},
        "image": {"value": None},
        "details": {"value": ""},
    }


def build(header: Header, ctx: Context, v: View) -> SampleTab:
    with gr.Tab("Sample", id="sample"), gr.Row():
        with gr.Column(scale=1):
            seed = gr.Number(value=0, precision=0, label="Seed", minimum=0, maximum=MAX_SEED,
                             elem_id="sample-seed")
            count = gr.Slider(1, MAX_SAMPLES, value=16, step=1, label="Count", elem_id="sample-count")
            temperature = gr.Slider(0.0, 2.0, value=1.0, step=0.05,
                                    label="Temperature (prior std multiplier)",
                                    elem_id="sample-temperature")
            prior = gr.Dropdown(label="Prior (what z is drawn from)", elem_id="sample-prior",
                                allow_custom_value=True, **v["prior"])
            button = gr.Button("Sample", variant="primary", elem_id="sample-button")
        with gr.Column(scale=2):
            image = shown_image("Samples", "sample-output", height=460)
            details = gr.Textbox(label="Timing", interactive=False, elem_id="sample-details")
    tab = SampleTab(seed, count, temperature, prior, button, image, details)

    def run(model, seed_value, count_value, temperature_value, label_value=ANY_CLASS, prior_value=DEFAULT_PRIOR):
        r = ctx.handlers.sample(model, seed_value, count_value, temperature_value, label_value, prior_value)
        return {image: ctx.store(r.image), details: r.details}

    button.click(readable(run), [header.model, seed, count, temperature, header.label, prior], [image, details],
                 api_name="sample")
    return tab
