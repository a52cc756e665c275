"""Registries that plugins add components to (tox-style register objects).

``registry.add(name, obj)`` inside a ``register_*`` hook; the plugin manager sets who is adding.  A name
added twice is an error naming both providers; an unknown name is an error listing what exists with the
closest match.  Components provided by a broken plugin are not here; asking for a name that a broken
plugin declared fails naming that plugin and its distribution.
"""
from __future__ import annotations

from typing import Any, Iterator

from benchmark.errors import BrokenPluginError, DuplicateNameError, UnknownNameError
from benchmark.interfaces import Component

KINDS = ("dataset", "modality", "expert", "spotter", "decoder", "metric", "benchmark")


class ComponentRegistry:
    """Named components of one kind (``expert``, ``spotter``...)."""

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, Component] = {}
        self._provider: tuple[str, str | None] = ("<direct>", None)
        self.broken: dict[str, str] = {}  # plugin name -> error, for plugins that failed to register this kind

    def _set_provider(self, plugin: str, distribution: str | None) -> None:
        self._provider = (plugin, distribution)

    def add(self, name: str, obj: Any, *, description: str = "", **extra: Any) -> Any:
        """Register ``obj`` under ``name``; returns ``obj`` so it can be used as a decorator helper."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"{self.kind} name must be a non-empty string, got {name!r}")
        plugin, dist = self._provider
        if name in self._items:
            old = self._items[name]
            raise DuplicateNameError(
                f"{self.kind} {name!r} is registered twice: by plugin {old.plugin!r}"
                f" ({old.distribution or 'built-in'}) and by plugin {plugin!r} ({dist or 'built-in'}). "
                f"Uninstall one, or limit plugins with SIGNSPOT_PLUGINS."
            )
        if not description:
            description = getattr(obj, "description", "") or (getattr(obj, "__doc__", "") or "").strip().split("\n")[0]
        self._items[name] = Component(name, obj, plugin, dist, description, dict(extra))
        return obj

    def get(self, name: str) -> Any:
        return self.component(name).obj

    def component(self, name: str) -> Component:
        try:
            return self._items[name]
        except KeyError:
            pass
        unknown = UnknownNameError(self.kind, name, self._items)
        if self.broken:
            broken = "; ".join(f"plugin {plugin} is broken: {err}" for plugin, err in self.broken.items())
            raise BrokenPluginError(f"{unknown}. It may be provided by a broken plugin ({broken}); "
                                    f"see `bench plugins -v`") from None
        raise unknown from None

    def names(self) -> list[str]:
        return list(self._items)

    def components(self) -> list[Component]:
        return list(self._items.values())

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)
