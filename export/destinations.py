"""Where an export writes, checked before any work starts.

A destination passes when it is a folder (or can become one) in which a file can really be
created: the check makes and removes a probe file in the folder, or in its nearest existing
parent, so a read-only mount or a system folder is caught even for root, for whom
``os.access`` says yes to everything.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def nearest_existing(path: Path) -> Path:
    """``path`` or its nearest parent that exists."""
    path = Path(os.path.abspath(path))
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def destination_problem(path: str | os.PathLike) -> str:
    """Why a folder cannot be written at ``path`` ('' when it can)."""
    if str(path).strip() == "":  # before Path(): Path("") is the working directory
        return "is empty"
    path = Path(path)
    if path.exists() and not path.is_dir():
        return "is a file, not a folder"
    here = nearest_existing(path)
    if not here.is_dir():
        return f"lies under {here}, which is a file, not a folder"
    try:
        fd, probe = tempfile.mkstemp(dir=here, prefix=".vaekit-probe-")
    except OSError as e:
        where = "it" if here == Path(os.path.abspath(path)) else f"its parent {here}"
        return f"cannot be written: {where} refuses new files ({e.strerror or e})"
    os.close(fd)
    os.unlink(probe)
    return ""


def check_destination(path: str | os.PathLike, flag: str) -> None:
    """Raise ``ValueError`` naming ``flag`` when ``path`` cannot be written as a folder."""
    problem = destination_problem(path)
    if problem:
        raise ValueError(f"{flag} {str(path)!r} {problem}: pass a folder you can write to "
                         f"(nothing was written)")
