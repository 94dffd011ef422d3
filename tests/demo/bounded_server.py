"""``python bounded_server.py EXPORT PORT SESSIONS CACHE_AGE``: the demo serving one export
with room for ``SESSIONS`` sessions and a ``CACHE_AGE``-second picture cache, for
``test_resources.py`` to measure as a process of its own (its memory is the server's alone,
not the test's). Prints ``READY <url>`` once it listens, then serves until killed.
"""

from __future__ import annotations

import sys
from pathlib import Path


def main(argv: list[str]) -> None:
    export, port, sessions, age = Path(argv[0]), int(argv[1]), int(argv[2]), int(argv[3])
    from vaekit.demo.app import build_app, launch, load_models

    app = build_app(load_models([export], providers="cpu"), delete_cache=(1, age))
    _, url, _ = launch(app, port=port, prevent_thread_lock=True, quiet=True, sessions=sessions,
                       concurrency=2)
    print("READY", url, flush=True)
    app.block_thread()


if __name__ == "__main__":
    main(sys.argv[1:])
