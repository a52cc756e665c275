"""Named components of one kind, the one way plugins register: ``registry.add(name, component)``.

``component`` is what the kind's contract (:mod:`benchmark.interfaces`) says: a :class:`Dataset` subclass for
datasets, an instance for every other kind (a class is instantiated once, without arguments, when first
asked for).  Where importing the component is heavy, give a lazy ``"module:attr"`` spec instead: the module
is imported on first use, and an import error then names the spec and the plugin.

A name added twice is an error naming both providers; an unknown name is an error listing what exists with
the closest match.  Components of a broken plugin are not here; asking for a name that only a broken plugin
could provide fails naming that plugin and its distribution.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from benchmark.errors import BrokenPluginError, DuplicateNameError, UnknownNameError


@dataclass
class Component:
    """A registry's record: the component (or its lazy spec) plus who provided it."""

    name: str
    kind: str
    target: Any  # the component, or a "module:attr" string until first use
    plugin: str
    distribution: str | None = None
    given_description: str = ""
    _obj: Any = field(default=None, repr=False)

    @property
    def lazy(self) -> bool:
        return self._obj is None and _is_spec(self.target)

    @property
    def obj(self) -> Any:
        """The component itself, imported and instantiated on first use."""
        if self._obj is None:
            target = _load(self) if _is_spec(self.target) else self.target
            if inspect.isclass(target) and self.kind not in AS_GIVEN:
                target = target()
            _check_contract(self, target)
            self._obj = target
        return self._obj

    @property
    def description(self) -> str:
        if self.given_description:
            return self.given_description
        obj = self.obj
        return getattr(obj, "description", "") or (inspect.getdoc(obj) or "").split("\n")[0]


# kinds whose component is used as registered, not instantiated: a Dataset class (its contract is checked as a
# subclass), a benchmark entry's mapping (no contract); every other kind of benchmark.interfaces.KINDS is an instance
AS_GIVEN = ("dataset", "benchmark")


def _check_contract(component: Component, obj: Any) -> None:
    """A component that does not implement its kind's contract is refused by name, not found broken mid-run."""
    from benchmark.interfaces import KINDS

    contract = KINDS.get(component.kind)
    if contract is None:
        return
    as_class = component.kind in AS_GIVEN
    ok = issubclass(obj, contract) if as_class and inspect.isclass(obj) else isinstance(obj, contract)
    if not ok:
        what = "subclass" if as_class else "instance"
        raise BrokenPluginError(
            f"{component.kind} {component.name!r} of plugin {component.plugin!r} is {type(obj).__name__!r}, not a "
            f"benchmark.interfaces.{contract.__name__} {what}: subclass {contract.__name__} "
            "(see benchmark/interfaces.py)"
        )


def _is_spec(target: Any) -> bool:
    return isinstance(target, str) and ":" in target


def _load(component: Component) -> Any:
    module, _, attr = component.target.partition(":")
    where = f"{component.kind} {component.name!r} of plugin {component.plugin!r} ({component.target})"
    try:
        obj = importlib.import_module(module)
    except Exception as exc:  # any import error is the plugin's to fix
        raise BrokenPluginError(f"{where}: cannot import {module}: {type(exc).__name__}: {exc}") from exc
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise BrokenPluginError(f"{where}: module {module} has no attribute {attr!r}") from None
    return obj


class ComponentRegistry:
    """Named components of one kind (``expert``, ``spotter``...)."""

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, Component] = {}
        self._provider: tuple[str, str | None] = ("<direct>", None)
        self.broken: dict[str, str] = {}  # plugin label -> error, for plugins that failed to register

    def set_provider(self, plugin: str, distribution: str | None) -> None:
        """Who the next ``add`` calls come from (the plugin manager sets it around each plugin's hook)."""
        self._provider = (plugin, distribution)

    def add(self, name: str, component: Any, *, description: str = "") -> Any:
        """Register ``component`` (or a ``"module:attr"`` spec) under ``name``; returns it."""
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
        self._items[name] = Component(name, self.kind, component, plugin, dist, description)
        return component

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
            raise BrokenPluginError(
                f"{unknown}. It may be provided by a broken plugin ({broken}); see `bench plugins -v`"
            ) from None
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
