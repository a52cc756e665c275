"""Errors the CLI turns into one clear message (no traceback) and a non-zero exit."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class Terminated(KeyboardInterrupt):
    """SIGTERM (``timeout``, ``docker stop``, Slurm, Ray) handled like Ctrl-C: runs end KILLED, exit code 143."""

    exit_code = 143


_received: list[str] = []  # the SIGTERM that arrived, once it has


def terminate_on_sigterm() -> None:
    """Turn SIGTERM into :class:`Terminated` in the main thread (no-op elsewhere)."""
    import signal
    import sys
    import threading

    if threading.current_thread() is not threading.main_thread():
        return

    def handler(signum, frame):
        _received.append(f"terminated by signal {signum} (SIGTERM)")
        raise Terminated(_received[0])

    def unraisable(info, default=sys.unraisablehook):
        if not isinstance(info.exc_value, Terminated):  # a lost Terminated is raised again: no traceback
            default(info)

    signal.signal(signal.SIGTERM, handler)
    sys.unraisablehook = unraisable


def raise_if_terminated() -> None:
    """Raise :class:`Terminated` again when SIGTERM arrived but its exception was lost: a signal that lands in a
    finalizer or a weakref callback (SQLAlchemy's, MLflow's store) only prints "Exception ignored in ..." and the
    run went on (:func:`terminate_on_sigterm` keeps that message off the terminal).  Called at every stage and
    epoch notification."""
    if _received:
        raise Terminated(_received[0])


class BenchError(Exception):
    """A user-facing error: the message names the input and says what is wrong (and, ideally, the fix)."""


class UnknownNameError(BenchError, KeyError):
    def __init__(self, kind: str, name: str, known: Iterable[str], hint: str = ""):
        known = sorted(known)
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
        msg = f"unknown {kind} {name!r}"
        if close:
            msg += f"; did you mean {close[0]!r}?"
        msg += f" Known {kind}s: {', '.join(known) if known else '(none)'}"
        if hint:
            msg += f". {hint}"
        super().__init__(msg)
        self.kind, self.name, self.known, self.suggestion = kind, name, known, (close[0] if close else None)

    def __str__(self) -> str:  # KeyError would quote the message
        return self.args[0]


class DuplicateNameError(BenchError):
    pass


class BrokenPluginError(BenchError):
    pass


class ConfigError(BenchError):
    """An invalid benchmark entry: names the entry, the key path and what was expected."""

    def __init__(self, entry: str, path: str, message: str, source: str | None = None):
        where = f"benchmark {entry!r}" + (f" ({source})" if source else "")
        super().__init__(f"{where}: {path or '<entry>'}: {message}")
        self.entry, self.path = entry, path


class DiskFullError(BenchError):
    """A full disk (or quota): names the folder, the free and needed space, and what to do."""


def disk_full(folder, needed: int | None = None, what: str = "") -> DiskFullError:
    """The error for a full disk under ``folder`` (``needed`` bytes, when known, for ``what``)."""
    import shutil
    from pathlib import Path

    folder = Path(folder)
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        free = f"{shutil.disk_usage(probe).free / 2**20:.0f} MiB free"
    except OSError:
        free = "free space unknown"
    need = f", about {needed / 2**20:.0f} MiB needed{f' for {what}' if what else ''}" if needed else ""
    return DiskFullError(
        f"no space left on the disk of {folder} ({free}{need}): free space there, or put the cache "
        "on a larger disk with --cache-dir or $SIGNSPOT_CACHE_DIR; finished stages are kept, so the "
        "same command resumes where it stopped"
    )


NEARLY_FULL = 1 << 20  # bytes free under which a failed write is taken for a full disk


def as_disk_full(exc: BaseException, folder) -> DiskFullError | None:
    """``exc`` as a :class:`DiskFullError` about ``folder`` when it is one: ENOSPC/EDQUOT, or a library's own
    failed write (numpy's "requested and written", torch's zip writer) on a disk with next to nothing free.
    Call it before removing the partial file, whose bytes would free the disk again."""
    import errno
    import shutil
    from pathlib import Path

    if isinstance(exc, DiskFullError):
        return exc
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        where = Path(exc.filename).parent if getattr(exc, "filename", None) else Path(folder)
        return disk_full(where)
    if isinstance(exc, (OSError, RuntimeError)):
        probe = Path(folder)
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        try:
            if shutil.disk_usage(probe).free < NEARLY_FULL:
                return disk_full(folder)
        except OSError:
            return None
    return None


class DataError(BenchError):
    """Bad input data: names the file and the problem."""
