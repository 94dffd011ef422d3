"""What Gradio's queue keeps per session is forgotten once nothing is pending, and only then.

The upkeep is driven by hand over a queue's three records (message queues, pending event
ids, live events), as Gradio's queue holds them; ``test_resources.py`` measures the memory
of a real server.
"""

from __future__ import annotations

import asyncio
import platform
from types import SimpleNamespace

import pytest
from gradio.utils import LRUCache
from vaekit.demo.sessions import QueueUpkeep, release_free_memory


def queue_with(**sessions):
    """A queue whose sessions are ``name=(pending ids, undelivered messages)``; every id
    starting with ``live`` is an event still queued or running."""
    q = SimpleNamespace(pending_messages_per_session=LRUCache(2000), pending_event_ids_session={},
                        event_ids_to_events={}, event_analytics={"e": {}},
                        ANALYTICS_MAX_EVENTS=10_000, ANAYLTICS_CACHE_FREQUENCY=1)
    for name, (ids, messages) in sessions.items():
        inbox = asyncio.Queue()
        for m in range(messages):
            inbox.put_nowait(m)
        q.pending_messages_per_session[name] = inbox
        q.pending_event_ids_session[name] = set(ids)
        q.event_ids_to_events.update({i: object() for i in ids if i.startswith("live")})
    return q


def upkeep_of(queue, unclaimed=600.0):
    return QueueUpkeep(SimpleNamespace(_queue=queue), every=5.0, unclaimed=unclaimed)


def test_sessions_with_nothing_pending_are_forgotten_and_busy_ones_kept():
    q = queue_with(done=((), 0), running=(["live-1"], 0), queued=(["live-2", "done-3"], 1))
    assert upkeep_of(q).prune(now=0.0) == 1
    assert set(q.pending_event_ids_session) == set(q.pending_messages_per_session) == {"running", "queued"}


def test_a_finished_result_nobody_fetched_is_kept_until_it_is_unclaimed_too_long():
    q = queue_with(unfetched=(["done-1"], 1))
    upkeep = upkeep_of(q, unclaimed=60.0)
    assert upkeep.prune(now=100.0) == 0 and upkeep.prune(now=159.0) == 0
    assert "unfetched" in q.pending_messages_per_session, "a client may still fetch it"
    assert upkeep.prune(now=160.0) == 1
    assert not q.pending_event_ids_session and not q.pending_messages_per_session
    assert not upkeep.unclaimed_since


def test_a_fetch_resets_the_unclaimed_clock():
    q = queue_with(later=(["done-1"], 1))
    upkeep = upkeep_of(q, unclaimed=60.0)
    upkeep.prune(now=0.0)
    q.pending_event_ids_session["later"] = {"live-2"}  # the same session sends another request
    q.event_ids_to_events["live-2"] = object()
    upkeep.prune(now=30.0)
    del q.event_ids_to_events["live-2"]  # ... which finishes
    assert upkeep.prune(now=70.0) == 0, "its clock starts when the new result waits"
    assert upkeep.prune(now=129.0) == 0 and upkeep.prune(now=130.0) == 1


def test_a_stray_message_without_pending_events_is_forgotten_in_time():
    q = queue_with(stray=((), 1))
    upkeep = upkeep_of(q, unclaimed=60.0)
    assert upkeep.prune(now=0.0) == 0 and upkeep.prune(now=60.0) == 1


def test_analytics_for_the_unserved_dashboard_keep_one_record():
    q = queue_with()
    upkeep_of(q).quiet_analytics()
    assert q.ANALYTICS_MAX_EVENTS == 1 and not q.event_analytics
    assert q.ANAYLTICS_CACHE_FREQUENCY > 10**12, "pandas never summarises them"


@pytest.mark.parametrize("every,unclaimed", [(0, 60), (5, 0), (-1, 60)])
def test_bad_periods_are_refused(every, unclaimed):
    with pytest.raises(ValueError, match="must be > 0 seconds"):
        QueueUpkeep(SimpleNamespace(_queue=None), every=every, unclaimed=unclaimed)


def test_free_heap_pages_go_back_to_the_system_with_glibc():
    if platform.libc_ver()[0] != "glibc":
        pytest.skip("malloc_trim is glibc's")
    assert release_free_memory() is True
