"""What start-up computes: each tab's first look once, and nothing more on a page load.

The page opens on a model with a 2-D latent, so building the app decodes the explorer's
first point and writes the pictures the page opens with (the examples gallery's tiles,
the explorer's plot and decoded point). A model switch resets what those views set: the
components it resets are named by the same views, not by computing them a second time.
"""

from __future__ import annotations

import collections

import pytest
from vaekit.demo import widgets
from vaekit.demo.app import build_app, load_models, opening_model

pytestmark = pytest.mark.filterwarnings("ignore:.*no_silent_downcasting")


def count_calls(monkeypatch, models) -> collections.Counter:
    """Count every encode/decode/sample of the models' runtime VAEs and every picture
    written by the picture store."""
    calls: collections.Counter = collections.Counter()
    for m in models.values():
        for method in ("encode", "decode", "sample"):
            real = getattr(m.vae, method)

            def counted(*args, _real=real, _key=f"{m.name}.{method}", **kwargs):
                calls[_key] += 1
                return _real(*args, **kwargs)

            monkeypatch.setattr(m.vae, method, counted)
    store = widgets.PictureStore.__call__

    def stored(self, picture):
        calls["picture"] += 1
        return store(self, picture)

    monkeypatch.setattr(widgets.PictureStore, "__call__", stored)
    return calls


def test_building_the_app_computes_each_tabs_first_view_once(exported, monkeypatch):
    models = load_models([exported["mnist-tiny"], exported["rgb-tiny"]], providers="cpu")
    for m in models.values():
        m.prepare_explorer()  # the scatter (one encode per chunk of examples), done up front
    first = opening_model(models)
    assert first.name == "mnist-tiny" and first.plottable
    calls = count_calls(monkeypatch, models)
    app = build_app(models, delete_cache=None)
    expected_pictures = len(first.curated) + 2  # the gallery's tiles, the plot, the point
    assert len(first.curated) > 0
    assert dict(calls) == {"mnist-tiny.decode": 1, "picture": expected_pictures}, (
        "the explorer's first point is decoded once and each opening picture written once"
    )
    loads = [fn for fn in app.fns.values() if any(t[1] == "load" for t in fn.targets)]
    assert [fn.targets for fn in loads if fn.fn is not None] == [], (
        "a page load computes nothing: the first view is in the page's config")
    assert all("Brush" in (fn.js or "") for fn in loads), "only the browser-side default brush runs on load"
