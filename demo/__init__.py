"""vaekit.demo: a Gradio app over :mod:`vaekit.runtime` (ONNX Runtime only, never torch).

``python -m vaekit.demo [--models DIR ...] [--host H] [--port P] [--share]`` serves it;
:func:`vaekit.demo.app.build_app` builds the Blocks app for given models. Importing this
package is cheap: Gradio is imported only by :mod:`vaekit.demo.app`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["build_app", "launch", "load_models"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import app

        return getattr(app, name)
    raise AttributeError(f"module 'vaekit.demo' has no attribute {name!r}")
