"""Serving the app: the queue, upload and session limits, the cache schedule, and the static
browser page.

Disk and memory stay bounded however many visitors come: computed pictures and uploads
are deleted from Gradio's cache when older than :data:`DELETE_CACHE` ``[1]`` seconds (by
Gradio's own ``delete_cache`` schedule and by :class:`CacheSweeper`, which keeps going where
Gradio's schedule stops: under load it was seen to leave files for good, its sweep iterating
over sets that request threads add to), and
the per-visitor state Gradio keeps (each session's copy of the page's component values) is
held for the :data:`SESSIONS` most recent sessions only; an older session's next request
starts from the page's defaults, which is all the demo's handlers need (every input comes
with the request). What Gradio's queue keeps per session is forgotten once nothing is
pending (:class:`~vaekit.demo.sessions.QueueUpkeep`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from pathlib import Path

import gradio as gr
from vaekit.format import Contract

from .reading import MAX_FILE_BYTES
from .sessions import QueueUpkeep
from .widgets import STORE_FOLDER

log = logging.getLogger("vaekit.demo")

DELETE_CACHE = (300, 900)  # every 5 minutes, delete cached files older than 15 minutes
SESSIONS = 256  # sessions whose state is kept (~0.1-0.2 MB each)
QUEUE_SIZE = 256
WEB_PATH = "/web"

CSS = """
.pixelated img { image-rendering: pixelated; }
#explorer-plot img { cursor: crosshair; }
"""


def launch(
    app: gr.Blocks,
    *,
    host: str = "127.0.0.1",
    port: int | None = 7860,
    share: bool = False,
    prevent_thread_lock: bool = False,
    quiet: bool = False,
    concurrency: int = 4,
    sessions: int = SESSIONS,
    web_dir: str | Path | None = None,
    web_models: dict[str, Path] | None = None,
):
    """Serve ``app`` with the demo's settings: a queue that runs ``concurrency`` requests at
    once, a 25 MB upload limit, state for the ``sessions`` most recent sessions, no share
    link unless asked, its CSS, and the static browser page in ``web_dir`` (when it holds an
    ``index.html``) at ``/web``, with the export folders ``web_models`` (name -> folder) at
    ``/web/models/<name>/``. Returns Gradio's ``(fastapi_app, local_url, share_url)``."""
    if concurrency < 1 or sessions < 1:
        raise ValueError(f"concurrency and sessions must be >= 1, got {concurrency} and {sessions}")
    app.queue(default_concurrency_limit=concurrency, max_size=QUEUE_SIZE)
    upkeep = QueueUpkeep(app)  # the queue's records of finished sessions, forgotten
    upkeep.quiet_analytics()

    @contextlib.asynccontextmanager
    async def lifespan(fastapi_app):
        # the page is mounted as the server starts, before it accepts a connection: mounted
        # after launch() returns, a client that saw /config answer could still get a 404 at /web
        if web_dir is not None:
            mount_web(fastapi_app, Path(web_dir), web_models)
        async with upkeep.lifespan(fastapi_app):
            yield

    served = app.launch(
        server_name=host,
        server_port=port,
        share=share,
        prevent_thread_lock=True,
        quiet=quiet,
        max_file_size=MAX_FILE_BYTES,
        state_session_capacity=sessions,
        css=CSS,
        # the system font stack: Gradio's bundled Source Sans Pro draws some bold capitals
        # (the A of "VAE") as small caps in Chromium, and no web font is fetched
        theme=gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"],
                                font_mono=["ui-monospace", "monospace"]),
        footer_links=["api"],
        ssr_mode=False,
        enable_monitoring=False,
        mcp_server=False,
        run_history=False,
        app_kwargs={"lifespan": lifespan},
    )
    if app.delete_cache:
        CacheSweeper(app, every=app.delete_cache[0], age=app.delete_cache[1],
                     folders=[Path(app.GRADIO_CACHE) / STORE_FOLDER]).start()
    if not prevent_thread_lock:
        app.block_thread()
    return served


def mount_web(fastapi_app, folder: Path, models: dict[str, Path] | None = None) -> bool:
    """Serve the static browser page in ``folder`` at ``/web`` (when it has an index.html),
    and each model's export folder at ``/web/models/<name>/``, so that
    ``/web/?model=/web/models/<name>/`` decodes that model in the visitor's browser."""
    if not (folder / "index.html").is_file():
        log.info("no browser page to serve at %s: %s has no index.html", WEB_PATH, folder)
        return False
    from starlette.responses import JSONResponse
    from starlette.staticfiles import StaticFiles

    index = model_index(models or {})
    fastapi_app.add_api_route(f"{WEB_PATH}/models/index.json", lambda: JSONResponse(index),
                              methods=["GET"], include_in_schema=False)
    for name, export in (models or {}).items():  # before /web, which would match them first
        fastapi_app.mount(f"{WEB_PATH}/models/{name}", StaticFiles(directory=str(export)),
                          name=f"web-model-{name}")
    # follow_symlink: web/node_modules may be a link to a shared npm install
    fastapi_app.mount(WEB_PATH, StaticFiles(directory=str(folder), html=True, follow_symlink=True),
                      name="web")
    return True


def model_index(models: dict[str, Path]) -> list[dict]:
    """What the page lists at ``/web/models/index.json``: per model its name, URL, shape and
    the precisions it ships (fp32, plus the ``variants`` of its ``vaekit.json``)."""
    index = []
    for name, export in models.items():
        try:
            contract = Contract.load(Path(export))
        except (OSError, ValueError) as e:
            log.warning("%s is left out of the page's model list: %s", name, e)
            continue
        index.append({
            "name": name, "url": f"{WEB_PATH}/models/{name}/", "dataset": contract.dataset,
            "channels": contract.channels, "height": contract.height, "width": contract.width,
            "latent_dim": contract.latent_dim, "num_classes": contract.num_classes,
            "precisions": list(contract.precisions),
        })
    return index


class CacheSweeper(threading.Thread):
    """Every ``every`` seconds, delete the files this app put in Gradio's cache (computed
    pictures, uploads) whose last use is more than ``age`` seconds ago, and forget them.

    Only files the app registered are touched (another app may share the cache folder),
    plus every file in ``folders`` (the demo's picture store, whose pictures a per-session
    copy of a component may have registered where the app does not see them); files a
    component keeps for its initial value stay.
    """

    def __init__(self, app: gr.Blocks, *, every: float, age: float, folders: list[Path] = ()):
        super().__init__(name="vaekit-demo-cache-sweeper", daemon=True)
        if every <= 0 or age <= 0:
            raise ValueError(f"delete_cache needs (every, age) > 0 seconds, got ({every}, {age})")
        self.app, self.every, self.age, self.folders = app, every, age, list(folders)
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.every):
            try:
                self.sweep()
            except Exception:  # a failed sweep must not end the schedule: log it, go on
                log.exception("sweeping the demo's cache failed")

    def sweep(self) -> int:
        """One pass; returns how many files were deleted."""
        keep: set[str] = set()
        for block in list(self.app.blocks.values()):
            keep |= set(getattr(block, "keep_in_cache", ()))
        now, deleted = time.time(), 0
        for files in list(self.app.temp_file_sets):
            for file in files.copy():  # a copy: request threads add to the set meanwhile
                removed = self._remove_if_old(file, now, keep)
                deleted += removed
                if removed or not os.path.lexists(file):
                    files.discard(file)
        for folder in self.folders:
            for path in folder.glob("*") if folder.is_dir() else ():
                deleted += self._remove_if_old(str(path), now, keep)
        return deleted

    def _remove_if_old(self, file: str, now: float, keep: set[str]) -> int:
        if file in keep:
            return 0
        try:
            if now - os.lstat(file).st_ctime <= self.age:
                return 0
            os.remove(file)
            return 1
        except FileNotFoundError:
            return 0
