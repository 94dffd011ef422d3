"""The versioned checkpoint layout: every save is one complete folder, switched in by one rename.

::

    CKPT/
      versions/000007/    config.json  model.safetensors  metrics.json  metrics.csv  resume.pt
      versions/000006/    the save before (kept for readers that resolved it; older ones go)
      current -> versions/000007
      config.json -> current/config.json               one stable relative link per file, so
      model.safetensors -> current/model.safetensors   ``CKPT/model.safetensors`` opens the
      ...                                              current save's weights
      onnx/  figures/  ...                             anything else is never touched

A save stages its files in ``versions/.checkpoint.tmp-PID-XXXX/`` (fsynced), renames that
folder to the next number once it is complete, and then replaces ``current`` with one
``os.replace`` of a new link. That rename is the only step that changes what any reader
sees, so a reader that is not vaekit (safetensors, a sync tool, ``cp -r``) sees one save's
complete set of files at every instant, whenever the writer is killed. A folder written
before this layout (plain files) is first adopted: its files become a version of their own,
and each plain file is swapped for its link with the same bytes behind it.

Used where the platform has symbolic links (POSIX); elsewhere the checkpoint module keeps
its staged-and-sealed plain-file write.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

from vaekit.format import CONFIG, METRICS, RESUME, WEIGHTS
from vaekit.format.files import FILE_MODE

CSV = "metrics.csv"
#: every file of one epoch's checkpoint, in the order they are written
CHECKPOINT_FILES = (WEIGHTS, CONFIG, METRICS, CSV, RESUME)
VERSIONS = "versions"
CURRENT = "current"
#: staging folders (in ``versions/``) and the checkpoint module's staging folders share it
STAGING_PREFIX = ".checkpoint.tmp-"
LINK_PREFIX = f".{CURRENT}.tmp-"
_NUMBERED = re.compile(r"^\d{6,}$")
#: an ordinary new folder's permissions: FILE_MODE plus search where reading is allowed
DIR_MODE = FILE_MODE | (FILE_MODE & 0o444) >> 2


def reached(point: str, folder: Path) -> None:
    """A named point of a write (``staged``, ``sealed``, ``linked NAME``, ``switched``,
    ``tidied``; ``adopted``, ``adopt-switched``, ``adopt-linked NAME`` for an older folder).
    Nothing happens here: tests stop a write at each point."""


def symlinks_work(folder: Path) -> bool:
    """Whether ``folder`` can hold the versioned layout (POSIX, a file system with links)."""
    if os.name != "posix":
        return False
    if (folder / CURRENT).is_symlink():
        return True
    probe = folder / f"{LINK_PREFIX}{os.getpid()}-probe"
    try:
        probe.unlink(missing_ok=True)
        os.symlink(CURRENT, probe)
        probe.unlink()
    except (OSError, NotImplementedError):
        return False
    return True


def write_version(folder: Path, files: dict[str, bytes], names: list[str]) -> Path:
    """Write ``files`` as the next version of ``folder`` and switch readers to it; returns it.

    ``names`` lists the files in writing order. A plain-file folder is adopted first.
    """
    folder.mkdir(parents=True, exist_ok=True)
    versions = folder / VERSIONS
    versions.mkdir(exist_ok=True)
    every = [*CHECKPOINT_FILES, *(n for n in names if n not in CHECKPOINT_FILES)]
    if needs_adoption(folder, every):
        adopt(folder, every)
    staging = _staging(versions)
    try:
        for name in names:
            write_synced(staging / name, files[name])
        fsync_dir(staging)
        reached("staged", folder)
        version = _seal(staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        _drop_if_empty(versions)  # a first save that failed leaves the folder as it was
        raise
    reached("sealed", folder)
    for name in names:
        if _ensure_link(folder, name):
            reached(f"linked {name}", folder)
    previous = current_version(folder)
    switch_to(folder, version)
    reached("switched", folder)
    _tidy_after_switch(folder, keep={version.name, previous.name if previous else ""})
    reached("tidied", folder)
    return version


def _drop_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass  # not empty (earlier versions), or gone


def missing_current(folder: Path) -> str | None:
    """``current``'s target when that version is gone (``versions/`` deleted or left behind by
    a copy of the top-level names alone), else None."""
    link = folder / CURRENT
    if link.is_symlink() and not link.exists():
        return os.readlink(link)
    return None


def current_version(folder: Path) -> Path | None:
    """The version folder ``current`` points at (None without the layout or when it dangles)."""
    link = folder / CURRENT
    if not link.is_symlink():
        return None
    target = folder / os.readlink(link)
    return target if target.is_dir() else None


def _staging(versions: Path) -> Path:
    """A new hidden folder in ``versions/`` named after this process (``tidy`` knows it)."""
    staging = Path(tempfile.mkdtemp(dir=versions, prefix=f"{STAGING_PREFIX}{os.getpid()}-"))
    os.chmod(staging, DIR_MODE)  # mkdtemp makes it private; a version is read by anyone
    return staging


def _seal(staging: Path) -> Path:
    """Rename the complete ``staging`` folder to the next free number in ``versions/``."""
    versions = staging.parent
    while True:
        version = versions / f"{_last_number(versions) + 1:06d}"
        try:
            os.rename(staging, version)  # fails on an existing non-empty folder: never replaces
        except OSError:
            if version.exists():
                continue  # taken meanwhile
            raise
        fsync_dir(versions)
        return version


def _last_number(versions: Path) -> int:
    return max((int(p.name) for p in versions.iterdir() if _NUMBERED.match(p.name)), default=0)


def switch_to(folder: Path, version: Path) -> None:
    """Point ``current`` at ``version`` by one atomic rename of a new link."""
    tmp = folder / f"{LINK_PREFIX}{os.getpid()}-{os.urandom(4).hex()}"
    os.symlink(os.path.join(VERSIONS, version.name), tmp, target_is_directory=True)
    try:
        current = folder / CURRENT
        if current.is_dir() and not current.is_symlink():
            _remove_copied_current(current)  # the top-level files stand meanwhile
        os.replace(tmp, current)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(folder)


def _remove_copied_current(current: Path) -> None:
    """Remove ``current/`` as a copy that followed the links left it: a folder of checkpoint
    files; a folder with anything else in it is not vaekit's and is refused."""
    strangers = [p.name for p in current.iterdir() if p.name not in CHECKPOINT_FILES or not p.is_file()]
    if strangers:
        raise FileExistsError(
            f"{current} is a folder that vaekit did not write (it holds {strangers[:3]}), and a "
            f"checkpoint folder keeps its link to the saved files under that name: move it elsewhere")
    shutil.rmtree(current)


def _link_target(name: str) -> str:
    return os.path.join(CURRENT, name)


def is_our_link(path: Path) -> bool:
    return path.is_symlink() and os.readlink(path) == _link_target(path.name)


def _ensure_link(folder: Path, name: str) -> bool:
    """Make ``folder/name`` the stable link into ``current/``; returns whether it changed.

    Called only where the top-level entry is absent or already holds the same bytes as
    ``current/name`` (after :func:`adopt`), so no reader sees the swap.
    """
    path = folder / name
    if is_our_link(path):
        return False
    tmp = folder / f"{LINK_PREFIX}{os.getpid()}-{os.urandom(4).hex()}"
    os.symlink(_link_target(name), tmp)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return True


def needs_adoption(folder: Path, names=CHECKPOINT_FILES) -> bool:
    """Whether a top-level file is not one of the layout's links (an older folder, a copy
    made with links followed, a file a user put back by hand)."""
    current = folder / CURRENT
    if current.exists() and not current.is_symlink():
        return True
    return any((folder / n).exists() and not is_our_link(folder / n) for n in names)


def adopt(folder: Path, names=CHECKPOINT_FILES) -> Path | None:
    """Turn the checkpoint files readers see now into a version, then their names into links.

    Every step leaves the same bytes behind each name: the files are hard-linked (or copied)
    into a new version, ``current`` is pointed at it, and each plain file is then replaced by
    its link. Returns the version (None when there was nothing to adopt).
    """
    seen = [n for n in names if (folder / n).is_file()]
    if not seen:
        return None
    staging = _staging(folder / VERSIONS)
    try:
        for name in seen:
            _link_or_copy(folder / name, staging / name)
        fsync_dir(staging)
        version = _seal(staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    reached("adopted", folder)
    switch_to(folder, version)
    reached("adopt-switched", folder)
    for name in seen:
        if _ensure_link(folder, name):
            reached(f"adopt-linked {name}", folder)
    return version


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source.resolve(), target)
    except OSError:
        with open(source, "rb") as f:
            write_synced(target, f.read())


def _tidy_after_switch(folder: Path, *, keep: set[str]) -> None:
    """Drop links whose file the current version lacks, and every version but ``keep``."""
    for name in CHECKPOINT_FILES:
        path = folder / name
        if is_our_link(path) and not path.exists():
            path.unlink(missing_ok=True)
    versions = folder / VERSIONS
    for p in versions.iterdir():
        if _NUMBERED.match(p.name) and p.name not in keep:
            shutil.rmtree(p, ignore_errors=True)


def tidy(folder: Path, alive) -> list[str]:
    """Remove what killed writes left (their staging folders and temporary links, where the
    writing process ``alive(pid)`` is gone); returns the names removed. Versions are kept:
    only a writer removes them, after its switch."""
    removed = []
    spots = [(folder, LINK_PREFIX), (folder / VERSIONS, STAGING_PREFIX)]
    for where, prefix in spots:
        if not where.is_dir():
            continue
        for p in where.iterdir():
            if not p.name.startswith(prefix) or (prefix == STAGING_PREFIX and p.is_symlink()):
                continue
            pid = p.name[len(prefix):].split("-", 1)[0]
            if pid.isdigit() and alive(int(pid)):
                continue
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
            removed.append(str(p.relative_to(folder)))
    return removed


def remove_layout(folder: Path) -> None:
    """Remove the versioned layout (``current`` first, so every link dangles at once)."""
    current = folder / CURRENT
    if current.is_symlink():
        current.unlink()
    elif current.is_dir():
        _remove_copied_current(current)
    for name in CHECKPOINT_FILES:
        if is_our_link(folder / name):
            (folder / name).unlink()
    shutil.rmtree(folder / VERSIONS, ignore_errors=True)


def write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        if hasattr(os, "fchmod"):
            os.fchmod(f.fileno(), FILE_MODE)
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # not every platform opens folders (Windows)
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
