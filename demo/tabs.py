"""What every tab builder shares.

A tab is a dataclass of its components, built by the tab module's ``build(picker, ctx,
first)``; its look for one model is the module's ``view(m, ctx)``: component field name ->
the props that component takes for that model. The same view gives the components their
first props when the page is built and the updates when the visitor picks another model
(:func:`updates`), so a model switch resets exactly what the first page load sets, by
name, never by position.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import gradio as gr

from .handlers import Handlers
from .widgets import PictureStore

View = dict[str, dict[str, Any]]


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
