"""Atomic file writes: the one way every stage, cache and report writes a file.

A file is written to a temporary name in its own folder, flushed to disk and moved onto its final name with
``os.replace``, so a reader (or a run resumed after a kill) sees either the whole old file, the whole new one,
or none: never half of one.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """``with atomic_write(path) as f: ...``: ``f`` writes a temporary file that replaces ``path`` on success.

    On any exception (a full disk, Ctrl-C) the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
            yield f
            f.flush()
            os.chmod(tmp, default_mode())
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except (OSError, RuntimeError) as exc:  # numpy and torch report a short write their own way
        _discard(tmp, path, exc)
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def default_mode() -> int:
    """The mode ``open()`` would give a new file (``0o666`` less the umask): ``mkstemp`` creates ``0o600`` and
    the rename keeps it, which would leave outputs unreadable to the user's group and other users."""
    return 0o666 & ~_read_umask()


def _read_umask() -> int:
    """The process umask, read without changing it where Linux tells (``/proc/self/status``); otherwise set and
    restored at once, under a lock so no other thread creates a file meanwhile with the probe's umask."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:
        current = os.umask(0o022)
        os.umask(current)
    return current


_UMASK_LOCK = threading.Lock()


def _discard(tmp, path: Path, exc: BaseException) -> None:
    """Remove a failed write's temporary file, raising :class:`DiskFullError` when the disk was full (checked
    before the partial file's bytes are freed)."""
    from benchmark.errors import as_disk_full

    full = as_disk_full(exc, path.parent)
    Path(tmp).unlink(missing_ok=True)
    if full is not None:
        raise full from None


def write_with(path: str | os.PathLike, writer) -> Path:
    """For libraries that write a path themselves (``writer(temporary_path)``): the same all-or-nothing rule."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        writer(Path(tmp))
        os.chmod(tmp, default_mode())
        os.replace(tmp, path)
    except (OSError, RuntimeError) as exc:  # numpy and torch report a short write their own way
        _discard(tmp, path, exc)
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    with atomic_write(path) as f:
        f.write(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    with atomic_write(path, "w") as f:
        f.write(text)
    return Path(path)


def write_json(path: str | os.PathLike, data: Any, indent: int | None = 2) -> Path:
    """``data`` made JSON-able (:func:`benchmark.storage.jsonable.jsonable`) and written atomically."""
    from benchmark.storage.jsonable import dumps

    return write_text(path, dumps(data, indent=indent))


def save_npy(path: str | os.PathLike, array) -> Path:
    """``np.save`` (no pickles) atomically."""
    import numpy as np

    with atomic_write(path) as f:
        np.save(f, np.ascontiguousarray(array), allow_pickle=False)
    return Path(path)


def is_temporary(path: Path) -> bool:
    """Whether ``path`` is a leftover temporary of :func:`atomic_write` (a killed writer leaves these)."""
    return path.name.startswith(".") and path.name.endswith(".tmp")


def require_space(folder: str | os.PathLike, needed: int, what: str) -> None:
    """Refuse a stage before it starts when the disk of ``folder`` has less than ``needed`` bytes free."""
    import shutil

    from benchmark.errors import disk_full

    probe = Path(folder)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if shutil.disk_usage(probe).free < needed:
        raise disk_full(folder, needed, what)
