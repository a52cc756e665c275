"""The benchmark entries a command works on: every plugin's, plus the registry files named with ``--registry``.

One function so every command (``bench run``, ``sweep``, ``show``, ``doctor``...) sees the same entries, and
code outside the command line (``bench doctor``'s checks) reaches them without importing a command module.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

DEFAULT_BENCHMARK = "reference-mssl"  # what `bench run`, `bench show` and `bench doctor` use without a name


def benchmark_registry(extra_files: Iterable[Path] = ()):
    """The plugin manager's benchmark registry with ``extra_files`` added (a file it already read is skipped)."""
    from benchmark.plugins import get_plugin_manager

    registry = get_plugin_manager().components("benchmark")
    for path in extra_files:
        read = {Path(s).resolve() for s in registry.sources.values() if not s.startswith("plugin ")}
        if Path(path).resolve() not in read:
            registry.add_file(path)
    return registry
