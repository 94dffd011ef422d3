"""Hashing, atomic writes and checked JSON reads: how vaekit reads and writes every file it owns.

A file is written to a temporary name in its own folder and renamed into place, so a killed
process never leaves a half-written file; the result gets the ordinary permissions of a new
file (``0o666`` less the umask, e.g. ``0o644``), not the private ``0o600`` of a temporary.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

BLOCK = 1 << 20  # 1 MiB: graphs and weights can be large


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


#: the permissions of an ordinary new file here, read once (the umask is process-wide)
FILE_MODE = 0o666 & ~_umask()


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(BLOCK), b""):
            h.update(block)
    return h.hexdigest()


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same folder, fsync and rename.

    Missing parent folders are created. Returns ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            if hasattr(os, "fchmod"):  # mkstemp makes it private (0o600)
                os.fchmod(f.fileno(), FILE_MODE)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """:func:`atomic_write_bytes` of ``text`` encoded as UTF-8."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def read_json_object(path: str | os.PathLike, *, fix: str, error: type[Exception] = ValueError) -> dict[str, Any]:
    """The JSON object stored in ``path``.

    Text that is not JSON, or JSON that is not an object, raises ``error`` with one line that
    names the file, what is wrong and ``fix`` (what the user does about it).
    """
    path = Path(path)
    try:
        value = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise error(f"{path} is not valid JSON ({e}): {fix}") from e
    if not isinstance(value, dict):
        raise error(f"{path} holds a JSON {type(value).__name__}, not an object: {fix}")
    return value
