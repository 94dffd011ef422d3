"""What a killed export leaves beside its folder, and how the next export tidies it.

An export builds ``.NAME.tmp-PID-XXXX/`` beside the export folder ``NAME`` and swaps it in,
parking the previous export in ``.NAME.old-PID-XXXX/`` for the moment of the swap. A process
killed meanwhile leaves these folders behind; :func:`clean_stale` (run by the next export to
the same folder) puts a parked previous export back when ``NAME`` itself is missing, and
removes the rest, except those of a process that is still running. Torch-free.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def staging_prefix(out: Path, kind: str) -> str:
    """``.NAME.tmp-PID-`` or ``.NAME.old-PID-``: the prefix for ``tempfile.mkdtemp``."""
    return f".{out.name}.{kind}-{os.getpid()}-"


def _owner_alive(folder: Path, out: Path) -> bool:
    """Whether the process named in the folder's name still runs (False for legacy names)."""
    # "KIND-PID-XXXX" (legacy: "KIND-XXXX"); NAME itself may hold dashes ("--out mnist-z2")
    rest = folder.name.removeprefix(f".{out.name}.").partition("-")[2]
    pid = rest.split("-", 1)[0]
    if not pid.isdigit() or "-" not in rest:
        return False  # written by an older vaekit without a process id: nobody owns it now
    if int(pid) == os.getpid():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # another user's process: leave its folders alone
    return True


def clean_stale(out: str | os.PathLike) -> list[str]:
    """Restore or remove the leftovers of killed exports to ``out``; returns the names removed."""
    out = Path(out)
    parent = out.parent
    if not parent.is_dir():
        return []
    stale = sorted(p for p in parent.iterdir()
                   if p.is_dir() and p.name.startswith((f".{out.name}.tmp-", f".{out.name}.old-"))
                   and not _owner_alive(p, out))
    for folder in stale:
        parked = folder / out.name
        if folder.name.startswith(f".{out.name}.old-") and parked.is_dir() and not out.exists():
            os.replace(parked, out)  # killed mid-swap: the previous export goes back in place
    removed = []
    for folder in stale:
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder.name)
    return removed


def swap_into_place(tmp: Path, out: Path) -> None:
    """Replace ``out`` with the finished ``tmp`` folder (the old one is removed afterwards)."""
    if not out.exists():
        os.replace(tmp, out)
        return
    old = Path(tempfile.mkdtemp(dir=out.parent, prefix=staging_prefix(out, "old")))
    os.replace(out, old / out.name)
    try:
        os.replace(tmp, out)
    except BaseException:
        os.replace(old / out.name, out)  # put the previous folder back
        raise
    shutil.rmtree(old, ignore_errors=True)


@contextmanager
def staged(out: Path) -> Iterator[Path]:
    """A fresh ``.NAME.tmp-PID-XXXX/`` beside ``out`` to build the export in: swapped into place
    when the block ends, removed when it raises (Ctrl-C too), so ``out`` is whole either way.
    The leftovers of killed exports to ``out`` are tidied first (:func:`clean_stale`)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(out)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=staging_prefix(out, "tmp")))
    tmp.chmod(0o755)  # mkdtemp makes it private; the export is an ordinary folder
    try:
        yield tmp
        swap_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
