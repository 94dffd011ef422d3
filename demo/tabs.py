"""What every tab builder shares.

A tab is a dataclass of its components, built by the tab module's ``build(header, ctx,
v)`` (the header holds the model picker and the class menu every handler reads); its look
for one model is the module's ``view(m, ctx)``: component field name -> the props that
component takes for that model. The same view gives the components their first props when
the page is built (``v``: the opening model's view, computed once by the app and also
naming the outputs of a model switch) and the updates when the visitor picks another model
(:func:`updates`), so a model switch resets exactly what the first page load sets, by
name, never by position.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import gradio as gr

from .handlers import ANY_CLASS, Handlers
from .models import DemoModel
from .widgets import PictureStore

View = dict[str, dict[str, Any]]


@dataclass(frozen=True)
class Header:
    """The page's header: what every tab's handlers take first."""

    model: gr.Dropdown  # the model picker (value: the model's name)
    label: gr.Dropdown  # the class menu, shown for conditional models (value: -1 or a class)
    info: gr.Markdown


def header_view(m: DemoModel) -> View:
    f = m.facts
    choices = [("any (every class in turn / an example's own / a picture's best fit)", ANY_CLASS)]
    choices += [(f.class_name(k), k) for k in range(f.num_classes)]
    return {"label": {"choices": choices, "value": ANY_CLASS, "visible": f.conditional},
            "info": {"value": m.describe()}}


@dataclass(frozen=True)
class Context:
    """What the tabs compute with: the handlers over the models and the picture store."""

    handlers: Handlers
    store: PictureStore


def updates(tab: Any, view: View) -> dict[Any, Any]:
    """``{component: update}`` for every field of ``tab`` named in ``view``."""
    return {getattr(tab, name): type(getattr(tab, name))(**props) for name, props in view.items()}


def outputs(tab: Any, view: View) -> list[gr.components.Component]:
    """The components of ``tab`` that ``view`` sets (the outputs of a model switch)."""
    return [getattr(tab, name) for name in view]


def fields(tab: Any) -> list[Any]:
    """Every block held by a tab dataclass, in field order."""
    return [getattr(tab, f.name) for f in dataclasses.fields(tab)]
