"""Built-in plugin contributing the entries of ``registry.yaml`` (shipped inside the package)."""

from __future__ import annotations

from pathlib import Path

from benchmark import hookimpl

REGISTRY_FILE = Path(__file__).with_name("registry.yaml")


@hookimpl
def register_benchmarks(registry):
    registry.add_file(REGISTRY_FILE)
