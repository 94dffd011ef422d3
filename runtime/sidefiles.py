"""One checked reader for the side files of an export (``examples.npz``, ``prior.npz``, ...).

numpy reads an ``.npz`` lazily: a truncated, random or key-less file surfaces later as a
zipfile, zlib, pickle or KeyError traceback wherever an array is first touched. Here every
array named is read at once and checked for its kind and rank, and any damage becomes one
:class:`SideFileError` (a ``ValueError``): ``FILE is damaged: WHAT; re-export with ...``.
numpy only.

    arrays = read_npz(folder / "prior.npz", {"means": Array("f", 2), "logvars": Array("f", 2)})
"""

from __future__ import annotations

import os
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REEXPORT = "re-export with `python -m vaekit.export CHECKPOINT`"
#: what reading a damaged .npz can raise (a bad zip directory, a cut deflate stream, ...)
NPZ_ERRORS = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error)
KIND_NAMES = {"f": "floats", "i": "integers", "u": "unsigned integers", "U": "text", "b": "booleans"}


class SideFileError(ValueError):
    """A side file of an export is damaged; the message names the file, the damage and the fix."""


def damaged(path: str | os.PathLike, what: str, fix: str = REEXPORT) -> SideFileError:
    return SideFileError(f"{path} is damaged: {what}; {fix}")


def unreadable(error: BaseException) -> str:
    """Why numpy could not read an ``.npz``, in a few words (never numpy's advice to load
    pickled data unsafely)."""
    if isinstance(error, ValueError) and "pickle" in str(error):
        return "not a readable .npz (it holds pickled data or is not an .npz at all; pickles are never loaded)"
    return f"not a readable .npz ({type(error).__name__}: {str(error)[:120]})"


@dataclass(frozen=True)
class Array:
    """What one array of a side file must be: its dtype kinds (``"f"``, ``"iu"``, ``"U"``),
    its rank, and whether the file may lack it."""

    kinds: str
    ndim: int
    optional: bool = False

    def problem(self, name: str, value: np.ndarray) -> str:
        if value.dtype.kind not in self.kinds:
            wanted = " or ".join(KIND_NAMES.get(k, k) for k in self.kinds)
            return f"{name!r} holds {value.dtype} values, not {wanted}"
        if value.ndim != self.ndim:
            return f"{name!r} has shape {tuple(value.shape)}, not {self.ndim}-D"
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            return f"{name!r} holds {int((~np.isfinite(value)).sum())} non-finite values"
        return ""


def read_npz(path: str | os.PathLike, arrays: dict[str, Array], *,
             fix: str = REEXPORT, ranks: bool = True) -> dict[str, np.ndarray]:
    """Every array named in ``arrays``, read now (never pickled) and checked (``ranks=False``:
    read only); an optional one the file lacks is left out. Raises :class:`SideFileError`
    for any damage."""
    path = Path(path)
    out: dict[str, np.ndarray] = {}
    try:
        f = np.load(path, allow_pickle=False)
    except NPZ_ERRORS as e:
        raise damaged(path, unreadable(e), fix) from None
    if not hasattr(f, "files"):  # a .npy: one bare array
        raise damaged(path, "it holds a single array, not named arrays (.npz)", fix)
    try:
        with f:
            missing = [k for k, a in arrays.items() if k not in f.files and not a.optional]
            if missing:
                raise damaged(path, f"it lacks {missing} (it holds {sorted(f.files)})", fix)
            for name in arrays:
                if name in f.files:
                    out[name] = np.asarray(f[name])
    except SideFileError:
        raise
    except NPZ_ERRORS as e:
        raise damaged(path, unreadable(e), fix) from None
    for name, value in out.items() if ranks else ():
        problem = arrays[name].problem(name, value)
        if problem:
            raise damaged(path, problem, fix)
    return out


def check_npz(path: str | os.PathLike, *, fix: str = REEXPORT) -> None:
    """Read every array of an ``.npz`` whatever its keys (no pickle): a :class:`SideFileError`
    for any damage. For a side file whose layout its own reader checks later."""
    path = Path(path)
    try:
        f = np.load(path, allow_pickle=False)
        names = list(getattr(f, "files", ()))
    except NPZ_ERRORS as e:
        raise damaged(path, unreadable(e), fix) from None
    if not hasattr(f, "files"):
        raise damaged(path, "it holds a single array, not named arrays (.npz)", fix)
    read_npz(path, {name: Array("biufcUSV", 0, optional=True) for name in names}, fix=fix, ranks=False)

