"""The stage cache: each stage's output lives under ``<cache>/<stage>/<key>/``.

The key hashes the stage's inputs' keys, its resolved config and its code version, so an identical stage is
never recomputed and a changed one never reuses stale output.  A stage writes into ``<key>.partial/`` (items
inside are written atomically, so a killed stage resumes item by item) and is published by renaming that
folder to ``<key>/``: a folder without the ``.partial`` suffix is always complete.

Location: ``--cache-dir``, else ``$SIGNSPOT_CACHE_DIR``, else ``$XDG_CACHE_HOME/signspot`` (``~/.cache/signspot``).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmark.storage.files import write_json

ENV_CACHE_DIR = "SIGNSPOT_CACHE_DIR"


def default_cache_dir() -> Path:
    if os.environ.get(ENV_CACHE_DIR):
        return Path(os.environ[ENV_CACHE_DIR]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "signspot"


def stable_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))


def make_key(*parts: Any) -> str:
    """A short stable hash of JSON-serialisable parts."""
    return hashlib.sha256(stable_json(parts).encode()).hexdigest()[:20]


def source_files(obj: Any) -> list[Path]:
    """The source files whose edits can change what ``obj`` computes: every ``.py`` file of the package that
    defines it (sub-packages included, so a component's model modules count), or just its file when it is a
    top-level module; for a component, also the engine that trains and runs it (:mod:`benchmark.engine`).
    Conservative on purpose: a stale cache is worse than a recomputed stage."""
    from benchmark.interfaces import Configurable

    target = obj if inspect.ismodule(obj) or inspect.isclass(obj) or inspect.isfunction(obj) else type(obj)
    files = _package_files(target)
    if inspect.isclass(target) and issubclass(target, Configurable):
        import benchmark.engine

        files = sorted(set(files) | set(_package_files(benchmark.engine)))
    return files


def _package_files(target) -> list[Path]:
    import sys

    module = target if inspect.ismodule(target) else inspect.getmodule(target)
    if module is None:
        return []
    package = sys.modules.get(getattr(module, "__package__", None) or "")
    roots = [Path(r) for r in getattr(package, "__path__", [])] if package is not None else []
    if roots:
        return sorted({f for root in roots for f in root.rglob("*.py") if "__pycache__" not in f.parts})
    return [Path(module.__file__)] if getattr(module, "__file__", None) else []


def code_version(*objects: Any) -> str:
    """Hash of the source that defines ``objects`` (modules, classes, instances; see :func:`source_files`)
    and their ``version`` attributes: any edit to a component's package invalidates its cached stages."""
    digest = hashlib.sha256()
    seen: set[Path] = set()
    for obj in objects:
        for path in source_files(obj):
            if path in seen:
                continue
            seen.add(path)
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
        digest.update(str(getattr(obj, "version", "")).encode())
    return digest.hexdigest()[:12]


class StageCache:
    def __init__(self, root: Path | str | None = None):
        self.root = Path(root).expanduser() if root else default_cache_dir()

    def check_writable(self) -> None:
        """Fail at start, naming the folder and how to choose another, when the cache cannot be written."""
        import tempfile

        from benchmark.errors import BenchError

        # Probe the folder, or its nearest existing parent, without creating anything: a run that fails its
        # next checks leaves no empty cache behind.
        probe = self.root
        while not probe.exists() and probe.parent != probe:
            probe = probe.parent
        try:
            if not probe.is_dir():
                raise NotADirectoryError(f"{probe} is not a folder")
            with tempfile.NamedTemporaryFile(dir=probe, prefix=".write-check-"):
                pass
        except OSError as exc:
            raise BenchError(
                f"the cache folder {self.root} cannot be written ({exc.strerror or exc}): choose a "
                f"writable one with --cache-dir or ${ENV_CACHE_DIR}"
            ) from None

    def path(self, stage: str, key: str) -> Path:
        return self.root / _safe(stage) / key

    def is_done(self, stage: str, key: str) -> bool:
        return (self.path(stage, key) / "manifest.json").is_file()

    def partial(self, stage: str, key: str) -> Path:
        """The working folder of an unfinished stage (kept across kills so items already written are reused)."""
        path = self.path(stage, key).with_name(key + ".partial")
        path.mkdir(parents=True, exist_ok=True)
        return path

    def publish(self, stage: str, key: str, manifest: dict | None = None) -> Path:
        """Mark the partial folder complete and move it into place (atomic rename)."""
        partial = self.partial(stage, key)
        write_json(partial / "manifest.json", {"stage": stage, "key": key, **(manifest or {})})
        final = self.path(stage, key)
        if final.exists():  # another process finished first: keep theirs
            shutil.rmtree(partial, ignore_errors=True)
        else:
            os.replace(partial, final)
        return final

    def manifest(self, stage: str, key: str) -> dict:
        return json.loads((self.path(stage, key) / "manifest.json").read_text())

    def run(self, stage: str, key: str, compute: Callable[[Path], dict | None]) -> tuple[Path, bool]:
        """Return ``(folder, reused)``; ``compute(partial_folder)`` fills the folder and may return a manifest."""
        if self.is_done(stage, key):
            return self.path(stage, key), True
        manifest = compute(self.partial(stage, key)) or {}
        return self.publish(stage, key, manifest), False

    def clear(self, stage: str | None = None) -> None:
        target = self.root / _safe(stage) if stage else self.root
        shutil.rmtree(target, ignore_errors=True)

    def usage(self) -> dict[str, int]:
        out = {}
        if not self.root.is_dir():
            return out
        for child in sorted(self.root.iterdir()):
            if child.is_dir():
                out[child.name] = sum(f.stat().st_size for f in child.rglob("*") if f.is_file())
        return out


def _safe(stage: str) -> str:
    return stage.replace(":", "-").replace("/", "-")
