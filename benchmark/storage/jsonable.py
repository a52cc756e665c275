"""One conversion of results and configs to plain JSON/YAML types (numpy scalars and arrays, paths, tuples)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def jsonable(value: Any) -> Any:
    """``value`` with mappings keyed by strings, sequences as lists, numpy scalars/arrays and paths as plain
    Python; anything else unchanged."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    tolist = getattr(value, "tolist", None)  # numpy scalars and arrays
    if tolist is not None and type(value).__module__ == "numpy":
        return jsonable(tolist())
    return value


def dumps(value: Any, **kwargs) -> str:
    """``value`` (made :func:`jsonable`) as JSON text for people: non-ASCII glosses and names stay readable
    (``"Straße"``, not ``"Stra\\u00dfe"``); the files are written as UTF-8."""
    return json.dumps(jsonable(value), ensure_ascii=False, **kwargs)
