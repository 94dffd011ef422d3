"""What Gradio's queue remembers per visitor session, forgotten once nothing is pending.

For every session that sends a request, Gradio's queue keeps a message queue
(``pending_messages_per_session``, ~3.4 kB: an ``asyncio.Queue`` with its deques) and a set
of pending event ids (``pending_event_ids_session``, ~0.35 kB); it empties both when the
result is delivered but never drops them. The message queues are capped at 2,000 sessions,
the id sets not at all, so memory grew by ~4 kB of Python objects (4-8 MB of resident memory
per 1,000 sessions) however few sessions the app keeps state for, and each ``/call`` result
fetch scanned every id set ever made. Each event also leaves a record for the monitoring
dashboard (``event_analytics``, up to 10,000) and has pandas summarise all of them, though
the demo serves no dashboard.

:class:`QueueUpkeep` runs on the server's event loop (as the FastAPI lifespan Gradio's
``launch(app_kwargs=...)`` accepts, so it never races the queue's coroutines) and every
:data:`PRUNE_EVERY_S` seconds forgets the sessions with nothing pending: no event queued or
running and no undelivered message. A finished result nobody fetched (a raw ``POST /call``
without its ``GET``) is kept :data:`UNCLAIMED_S` seconds, then forgotten too.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import logging
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import gradio as gr

log = logging.getLogger("vaekit.demo")

PRUNE_EVERY_S = 5.0
UNCLAIMED_S = 600.0  # a finished, never fetched result is kept this long (10 minutes)


@functools.cache
def malloc_trim():
    """glibc's ``malloc_trim`` (None where the C library has none: musl, macOS, Windows)."""
    try:
        return getattr(ctypes.CDLL(None), "malloc_trim", None)
    except (OSError, TypeError):  # Windows: no process-wide symbol table
        return None


def release_free_memory() -> bool:
    """Hand the pages that freed memory leaves in the C heap back to the system; returns
    whether it could (glibc only). Without it the heap of a long-running server keeps the
    high-water mark of every thread's transient buffers (pictures, PNG encoding, JSON), and
    its resident memory creeps up ~1.5-3 MB per 1,000 requests though the memory in use stays flat."""
    trim = malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


class QueueUpkeep:
    """Forgets the queue's records of sessions with nothing pending (see the module's docstring).

    ``every``: seconds between passes; ``unclaimed``: seconds a finished result that nobody
    fetched is kept. Pass :meth:`lifespan` to ``Blocks.launch(app_kwargs={"lifespan": ...})``
    after ``Blocks.queue()``.
    """

    def __init__(self, app: gr.Blocks, *, every: float = PRUNE_EVERY_S,
                 unclaimed: float = UNCLAIMED_S):
        if every <= 0 or unclaimed <= 0:
            raise ValueError(f"every and unclaimed must be > 0 seconds, got {every} and {unclaimed}")
        self.app, self.every, self.unclaimed = app, every, unclaimed
        self.unclaimed_since: dict[str, float] = {}  # session -> when its results were first seen waiting

    def quiet_analytics(self) -> None:
        """Keep one event record for the monitoring dashboard (the demo serves none) and never
        summarise them (what ``GRADIO_ANALYTICS_MAX_EVENTS`` and
        ``GRADIO_ANALYTICS_CACHE_FREQUENCY`` set, for this app only). Call after ``queue()``."""
        queue = self.app._queue
        queue.ANALYTICS_MAX_EVENTS = 1
        queue.ANAYLTICS_CACHE_FREQUENCY = sys.maxsize  # sic: Gradio's spelling
        queue.event_analytics.clear()

    def prune(self, now: float | None = None) -> int:
        """One pass (call it on the server's event loop); returns how many sessions were forgotten."""
        queue = self.app._queue
        messages, pending = queue.pending_messages_per_session, queue.pending_event_ids_session
        live = queue.event_ids_to_events  # events queued or running
        now = time.monotonic() if now is None else now
        forgotten = 0
        for session in [*pending, *(s for s in messages if s not in pending)]:
            ids, inbox = pending.get(session) or (), messages.get(session)
            if any(i in live for i in ids):
                self.unclaimed_since.pop(session, None)
                continue
            idle = not ids and (inbox is None or inbox.empty())
            # else finished, with a result (or a stray message) nobody has fetched yet
            if idle or now - self.unclaimed_since.setdefault(session, now) >= self.unclaimed:
                pending.pop(session, None)
                messages.pop(session, None)
                self.unclaimed_since.pop(session, None)
                forgotten += 1
        for session in [s for s in self.unclaimed_since if s not in pending and s not in messages]:
            del self.unclaimed_since[session]
        return forgotten

    @contextlib.asynccontextmanager
    async def lifespan(self, fastapi_app: Any) -> AsyncIterator[None]:
        """Prune every ``every`` seconds while the server runs."""
        task = asyncio.create_task(self._run(), name="vaekit-demo-queue-upkeep")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            try:
                self.prune()
                release_free_memory()
            except Exception:  # a failed pass must not end the schedule: log it, go on
                log.exception("forgetting finished sessions in Gradio's queue failed")
