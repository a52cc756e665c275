"""Read and write annotation / prediction pickles without ever running code from them.

The challenge's ground truth and predictions are pickles of ``{video_id: [[class_id, start_ms, end_ms], ...]}``.
A plain ``pickle.load`` of a file someone sent you can run anything (``__reduce__`` -> ``os.system``), so
every pickle is read with :class:`RestrictedUnpickler`: dicts, lists, tuples, ints, floats, strings, bools and
None need no imports at all, and the only globals it resolves are numpy's array / scalar reconstruction
helpers (real prediction pickles often hold numpy ints or arrays), plus ``bytes`` and a latin1-only
``_codecs.encode`` that protocol 0-2 pickles use for raw array data.  Those only build arrays and bytes
from data; they never call anything chosen by the file.  Any other global (``os.system``,
``builtins.eval``, ``subprocess.Popen``, a class of some package...) is refused with a
:class:`~benchmark.errors.DataError` naming the file and the global, before anything is called.

After loading, :func:`validate_annotations` checks the shape and turns every number into a plain ``int``.
"""

from __future__ import annotations

import io
import math
import numbers
import os
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from benchmark.errors import DataError

__all__ = [
    "RestrictedUnpickler",
    "dump_annotations",
    "load_annotations",
    "safe_load",
    "safe_loads",
    "validate_annotations",
]

# (module, name) pairs a pickle may reference: numpy's own reconstruction helpers, under the numpy 1.x
# (``numpy.core``) and numpy 2.x (``numpy._core``) module names.  Each is resolved to the object of the
# installed numpy, so a numpy-1 pickle loads under numpy 2 and vice versa.
_NUMPY_ALLOWED = {
    ("numpy", "dtype"): ("", "dtype"),
    ("numpy", "ndarray"): ("", "ndarray"),
    ("numpy.core.multiarray", "scalar"): ("multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"): ("multiarray", "scalar"),
    ("numpy.core.multiarray", "_reconstruct"): ("multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"): ("multiarray", "_reconstruct"),
    ("numpy.core.numeric", "_frombuffer"): ("numeric", "_frombuffer"),  # protocol-5 pickles of arrays
    ("numpy._core.numeric", "_frombuffer"): ("numeric", "_frombuffer"),
}


def _latin1_encode(text, encoding="latin1", errors="strict"):
    """``_codecs.encode`` as protocol 0-2 pickles use it for bytes (``encode(str, 'latin1')``); only latin1."""
    if not isinstance(text, str) or encoding.replace("-", "").replace("_", "").lower() not in ("latin1", "iso88591"):
        raise pickle.UnpicklingError(f"_codecs.encode is only allowed with latin1 text, got encoding {encoding!r}")
    return text.encode("latin1")


# Protocol 0-2 pickles build ``bytes`` (numpy's raw array data) with ``_codecs.encode(text, 'latin1')``.
_BYTES_ALLOWED = {
    ("builtins", "bytes"): bytes,
    ("__builtin__", "bytes"): bytes,
    ("_codecs", "encode"): _latin1_encode,
}


def _numpy_object(where: str, name: str):
    import numpy as np

    if not where:
        return getattr(np, name)
    try:  # numpy >= 2
        from numpy import _core as core
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy import core  # type: ignore[no-redef]
    return getattr(getattr(core, where), name)


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves no global except numpy's array/scalar reconstruction helpers."""

    def __init__(self, file, source: str = "<pickle>"):
        super().__init__(file, encoding="latin1")  # latin1: Python 2 pickles of numpy arrays
        self.source = source

    def find_class(self, module: str, name: str):
        if (module, name) in _BYTES_ALLOWED:
            return _BYTES_ALLOWED[(module, name)]
        target = _NUMPY_ALLOWED.get((module, name))
        if target is None:
            raise DataError(
                f"{self.source}: refusing to load this pickle: it references the global {module}.{name}, "
                "and only plain dicts, lists, tuples, numbers, strings and numpy arrays/scalars are accepted. "
                "Nothing from the file was executed. If you wrote the file yourself, re-save it with plain "
                "python lists of ints (benchmark.storage.safe_pickle.dump_annotations)."
            )
        return _numpy_object(*target)

    def persistent_load(self, pid):
        raise DataError(f"{self.source}: refusing to load this pickle: it uses persistent ids ({pid!r})")


def safe_loads(data: bytes, source: str = "<bytes>") -> Any:
    """Unpickle ``data`` with :class:`RestrictedUnpickler`; any failure is a :class:`DataError`."""
    try:
        return RestrictedUnpickler(io.BytesIO(data), source).load()
    except DataError:
        raise
    except Exception as exc:  # truncated file, not a pickle, bad opcode...
        raise DataError(f"{source}: not a readable pickle ({type(exc).__name__}: {exc})") from None


def safe_load(path: str | os.PathLike) -> Any:
    """Unpickle a file with :class:`RestrictedUnpickler` (never executes code from it)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory, expected a .pkl file") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return safe_loads(data, str(path))


# -- validation -------------------------------------------------------------------------------------------


def _as_int(value: Any, where: str) -> int:
    """A plain int from an int, a numpy integer or an integral float; anything else is an error."""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        raise DataError(f"{where}: expected an integer, got the boolean {value!r}")
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        f = float(value)
        if math.isfinite(f) and f.is_integer():
            return int(f)
        raise DataError(f"{where}: expected an integer number of milliseconds / class id, got {value!r}")
    raise DataError(f"{where}: expected an integer, got {type(value).__name__} {value!r}")


def _items(value: Any, where: str) -> list:
    """The items of a video's list (a list, a tuple or a 2-D numpy array)."""
    if isinstance(value, (list, tuple)):
        return list(value)
    if type(value).__module__ == "numpy" and hasattr(value, "ndim"):
        if value.size == 0:
            return []
        if value.ndim != 2:
            raise DataError(
                f"{where}: expected a list of [class, start_ms, end_ms], got an array of shape {value.shape}"
            )
        return list(value)
    raise DataError(f"{where}: expected a list of [class, start_ms, end_ms], got {type(value).__name__}")


def validate_annotations(data: Any, source: str = "<annotations>") -> dict[str, list[list[int]]]:
    """Check ``{video_id: [[class, start_ms, end_ms], ...]}`` and return it with plain python ints.

    Errors name ``source``, the video and the item index.  ``end_ms >= start_ms`` is required.
    """
    if not isinstance(data, Mapping):
        raise DataError(
            f"{source}: expected a dict {{video_id: [[class, start_ms, end_ms], ...]}}, got {type(data).__name__}"
        )
    out: dict[str, list[list[int]]] = {}
    for video, value in data.items():
        if not isinstance(video, str):
            raise DataError(f"{source}: video ids must be strings, got {type(video).__name__} {video!r}")
        rows = []
        for i, item in enumerate(_items(value, f"{source}: video {video!r}")):
            where = f"{source}: video {video!r}, item {i}"
            if isinstance(item, (str, bytes)) or not hasattr(item, "__len__") or not hasattr(item, "__getitem__"):
                raise DataError(f"{where}: expected [class, start_ms, end_ms], got {type(item).__name__} {item!r}")
            if len(item) != 3:
                raise DataError(
                    f"{where}: expected 3 numbers [class, start_ms, end_ms], got {len(item)}: {list(item)!r}"
                )
            cls, start, end = (_as_int(v, f"{where}, {k}") for v, k in zip(item, ("class", "start_ms", "end_ms")))
            for v, k in ((cls, "class"), (start, "start_ms"), (end, "end_ms")):
                if not -(2**53) <= v <= 2**53:
                    raise DataError(f"{where}: {k} {v} is out of range")
            if end < start:
                raise DataError(f"{where}: end_ms {end} is before start_ms {start}")
            rows.append([cls, start, end])
        out[video] = rows
    return out


def load_annotations(path: str | os.PathLike) -> dict[str, list[list[int]]]:
    """Load and validate a ground-truth or prediction pickle (restricted: never executes code)."""
    return validate_annotations(safe_load(path), str(path))


def dump_annotations(data: Mapping, path: str | os.PathLike) -> Path:
    """Write ``{video_id: [[class, start_ms, end_ms], ...]}`` atomically, protocol 4, as plain python ints and
    lists so any scorer (and the restricted loader) reads it."""
    from benchmark.storage.files import atomic_write

    path = Path(path)
    clean = validate_annotations(data, str(path))
    with atomic_write(path) as f:
        pickle.dump(clean, f, protocol=4)
    return path
