"""Content hashes of a dataset's files, remembered by path, size and mtime so a warm start reads nothing.

A dataset's fingerprint keys every cached stage: it must change when a file's content changes, even when its
name and size stay the same (a video re-encoded in place, a ``.pose`` file overwritten).  Reading every byte
of a corpus at each start would be slow, so each file is hashed once and its sha256 kept in a small JSON file
under the stage cache with its size and ``mtime_ns``: a file whose size or modification time moved is read
again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path


def hashes_for(kind: str, root: Path, cache_dir) -> ContentHashes:
    """The memo of dataset folder ``root`` (``<cache>/datasets/<kind>-<hash of the folder>.json``)."""
    key = hashlib.sha256(str(Path(root).resolve()).encode()).hexdigest()[:16]
    return ContentHashes(None if cache_dir is None else Path(cache_dir) / "datasets" / f"{kind}-{key}.json")


class ContentHashes:
    """sha256 of files, remembered by ``(path, size, mtime_ns)`` in a small JSON file so each is read once.

    The JSON lives under the stage cache (``<cache>/datasets/elan-<hash of the folder>.json``); when it cannot be
    written the hashes are simply recomputed next time.
    """

    def __init__(self, store: Path | None):
        self.store = store
        self.known: dict[str, list] = {}
        self.used: dict[str, list] = {}
        if store is not None and store.is_file():
            try:
                self.known = dict(json.loads(store.read_text()).get("files", {}))
            except (OSError, ValueError, AttributeError):
                self.known = {}

    def of(self, path: Path) -> str:
        st = path.stat()
        key = str(path.resolve())
        entry = self.known.get(key)
        if not (isinstance(entry, list) and len(entry) == 3 and entry[:2] == [st.st_size, st.st_mtime_ns]):
            h = hashlib.sha256()
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
            entry = [st.st_size, st.st_mtime_ns, h.hexdigest()]
        self.used[key] = entry
        return entry[2]

    def save(self) -> None:
        if self.store is None or self.used == self.known:
            return
        from benchmark.errors import BenchError
        from benchmark.storage.files import write_json

        with contextlib.suppress(OSError, BenchError):  # a read-only or full cache: hash again next time
            write_json(self.store, {"version": 1, "files": self.used}, indent=None)
