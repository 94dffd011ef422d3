"""Gradio pieces shared by the tabs: an upload box with readable errors, and the picture store.

:class:`PictureStore` is how every computed picture reaches the browser. Gradio would write
a returned numpy array to ``<cache>/<hash of the bytes>/image.png`` on every call, rewriting
the file in place when the same picture comes back (the explorer's first point, a model
switch): a browser fetching it at that moment gets a short read
(``ERR_CONTENT_LENGTH_MISMATCH``). The store writes each distinct picture once, under a name
made of its content hash, to a temporary name first and then renamed into place, so a file
is never seen half-written and never rewritten. The files live in Gradio's cache folder,
where the app's ``delete_cache`` schedule removes them when they are old.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
from PIL import Image, UnidentifiedImageError

STORE_FOLDER = "vaekit-demo"


class PictureStore:
    """uint8 pictures ``[H, W]`` / ``[H, W, 3]`` as PNG files named by their content."""

    def __init__(self, cache_dir: str | os.PathLike):
        self.folder = Path(cache_dir) / STORE_FOLDER

    def __call__(self, picture: np.ndarray | None) -> str | None:
        if picture is None:
            return None
        buf = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(picture)).save(buf, format="png", compress_level=1)
        data = buf.getvalue()
        path = self.folder / f"{hashlib.sha256(data).hexdigest()[:40]}.png"
        if path.is_file():
            try:
                os.utime(path)  # fresh again for the delete_cache schedule
                return str(path)
            except FileNotFoundError:  # removed by the cache cleaner just now: write it again
                pass
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return str(path)


def checked_image(**kwargs: Any) -> gr.Image:
    """A ``gr.Image`` input whose upload decoding fails with a readable message, not a trace.

    Gradio decodes uploads before a handler runs, and a file that is not an image would
    surface as a bare "Error". The instance's ``preprocess`` is wrapped (not subclassed:
    Gradio writes a ``.pyi`` stub next to any module that defines a component class).
    """
    image = gr.Image(**kwargs)
    decode = image.preprocess

    def preprocess(payload):
        try:
            return decode(payload)
        except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError) as e:
            name = getattr(payload, "orig_name", None) or "the uploaded file"
            raise gr.Error(
                f"{name!s} is not an image this demo can read ({type(e).__name__}): upload a "
                "PNG, JPEG, WebP, GIF or BMP picture",
                print_exception=False,
            ) from None

    image.preprocess = preprocess  # type: ignore[method-assign]
    return image


def upload_image(label: str, **kw: Any) -> gr.Image:
    """An upload box handing the handler the file's path (the demo decodes it itself, at
    its real bit depth)."""
    return checked_image(label=label, type="filepath", image_mode=None,
                         sources=["upload", "clipboard"], **kw)


def shown_image(label: str, elem_id: str, **kw: Any) -> gr.Image:
    """An output picture, drawn with crisp (nearest-neighbour) pixels."""
    return gr.Image(label=label, format="png", interactive=False, elem_classes="pixelated",
                    elem_id=elem_id, **kw)
