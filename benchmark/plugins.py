"""The plugin manager: built-in plugins from a tuple, then installed ``signspot.plugins`` entry points.

``SIGNSPOT_PLUGINS`` limits which installed (third-party) plugins load, for reproducible runs: a comma-separated
list of entry-point or distribution names; ``none`` loads no third-party plugin; unset loads all.  Built-ins
always load.

A plugin that fails to import, declares a hook that does not exist or raises while registering is recorded as
*broken* with its error (``bench plugins`` shows it) and unregistered; everything else keeps working, and a
lookup of a name that only a broken plugin could provide fails naming that plugin and its distribution.
"""
from __future__ import annotations

import importlib
import logging
import os
import traceback
from dataclasses import dataclass, field
from importlib import metadata

import pluggy

from benchmark import ENTRY_POINT_GROUP, PROJECT_NAME, __version__, hookspecs
from benchmark.registry import ComponentRegistry

log = logging.getLogger(__name__)

DEFAULT_PLUGINS = (
    "benchmark.metrics.plugin",
    "benchmark.tracking.plugin",
    "benchmark.builtin_benchmarks",
    "benchmark.datasets.plugin",
    "benchmark.modalities.plugin",
    "experts.plugin",
    "spotters.plugin",
    "spotters.decoders.plugin",
)

ENV_PLUGINS = "SIGNSPOT_PLUGINS"

# kind -> registration hook name
REGISTRATION_HOOKS = {
    "dataset": "register_datasets",
    "modality": "register_modalities",
    "expert": "register_experts",
    "spotter": "register_spotters",
    "decoder": "register_decoders",
    "metric": "register_metrics",
    "benchmark": "register_benchmarks",
}


@dataclass
class PluginInfo:
    name: str
    distribution: str | None  # None for built-ins of signspot-bench itself
    version: str | None
    module: str | None = None
    hooks: list[str] = field(default_factory=list)
    builtin: bool = False
    error: str | None = None  # set when broken
    traceback: str | None = None

    @property
    def status(self) -> str:
        return "broken" if self.error else "ok"

    @property
    def label(self) -> str:
        dist = self.distribution or "signspot-bench"
        return f"{self.name!r} (distribution {dist} {self.version or ''})".replace(" )", ")")


class SignspotPluginManager:
    """pluggy's manager plus what signspot needs: plugin metadata, broken plugins and component registries."""

    def __init__(self, builtins: tuple[str, ...] = DEFAULT_PLUGINS, load_entry_points: bool = True):
        self.pm = pluggy.PluginManager(PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.info: dict[str, PluginInfo] = {}
        self._registries: dict[str, ComponentRegistry] = {}
        for module_name in builtins:
            self._load_builtin(module_name)
        if load_entry_points:
            self._load_entry_points()
        self.pm.check_pending()

    # -- loading ----------------------------------------------------------------------------------------
    def _load_builtin(self, module_name: str) -> None:
        info = PluginInfo(module_name, None, __version__, module_name, builtin=True)
        self.info[module_name] = info
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:  # a built-in that cannot import (e.g. missing optional dependency)
            self._mark_broken(info, exc)
            return
        self._register(module, info)

    def _load_entry_points(self) -> None:
        allowed = _allowed_plugins()
        for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            dist = ep.dist.name if getattr(ep, "dist", None) else None
            version = ep.dist.version if getattr(ep, "dist", None) else None
            if allowed is not None and ep.name not in allowed and (dist or "") not in allowed:
                continue
            if ep.name in self.info:
                other = self.info[ep.name]
                self.info[f"{ep.name}@{dist}"] = PluginInfo(
                    ep.name, dist, version, ep.value,
                    error=f"plugin name {ep.name!r} is already used by {other.label}")
                continue
            info = PluginInfo(ep.name, dist, version, ep.value)
            self.info[ep.name] = info
            try:
                obj = ep.load()
            except Exception as exc:
                self._mark_broken(info, exc)
                continue
            self._register(obj, info)

    def _register(self, obj, info: PluginInfo) -> None:
        try:
            unknown = [n for n in _hookimpl_names(obj) if not hasattr(hookspecs, n)]
            if unknown:
                raise pluggy.PluginValidationError(
                    obj, f"implements unknown hook(s) {', '.join(unknown)}; known hooks: "
                    f"{', '.join(sorted(n for n in dir(hookspecs) if not n.startswith('_') and n not in ('pluggy', 'hookspec', 'PROJECT_NAME')))}")
            self.pm.register(obj, name=info.name)
        except Exception as exc:
            self._mark_broken(info, exc)
            return
        info.hooks = sorted(_hookimpl_names(obj))

    def _mark_broken(self, info: PluginInfo, exc: BaseException) -> None:
        info.error = f"{type(exc).__name__}: {exc}"
        info.traceback = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        if self.pm.get_plugin(info.name) is not None:
            self.pm.unregister(name=info.name)
        log.warning("signspot plugin %s is broken: %s", info.label, info.error)

    # -- queries ----------------------------------------------------------------------------------------
    @property
    def hook(self):
        return self.pm.hook

    def plugins(self) -> list[PluginInfo]:
        """Every plugin; registration hooks run first so a plugin that raises in one shows as broken."""
        self.collect_all()
        return list(self.info.values())

    def broken(self) -> list[PluginInfo]:
        self.collect_all()
        return self._broken()

    def _broken(self) -> list[PluginInfo]:
        return [p for p in self.info.values() if p.error]

    def collect_all(self) -> None:
        for kind in REGISTRATION_HOOKS:
            self.components(kind)

    def components(self, kind: str) -> ComponentRegistry:
        """The registry of one kind, built on first use by calling every plugin's registration hook."""
        if kind not in REGISTRATION_HOOKS:
            raise ValueError(f"unknown component kind {kind!r}; kinds: {', '.join(REGISTRATION_HOOKS)}")
        if kind not in self._registries:
            self._registries[kind] = self._collect(kind)
        return self._registries[kind]

    def _collect(self, kind: str) -> ComponentRegistry:
        registry = _registry_for(kind)
        hook_name = REGISTRATION_HOOKS[kind]
        caller = getattr(self.pm.hook, hook_name)
        # registration order: built-ins first, so a third-party duplicate is the one reported broken
        for impl in caller.get_hookimpls():
            info = self.info.get(impl.plugin_name) or PluginInfo(impl.plugin_name, None, None)
            if info.error:
                continue
            registry._set_provider(info.name, info.distribution)
            try:
                impl.function(registry)
            except Exception as exc:
                self._mark_broken(info, exc)
                self._registries.clear()  # a plugin broke: rebuild every kind without it
                return self._collect(kind)
        registry.broken = {p.label: p.error for p in self._broken()}
        return registry

    def register_plugin(self, obj, name: str, distribution: str | None = None, version: str | None = None) -> None:
        """Register an in-process plugin object (tests, notebooks); resets the component registries."""
        info = PluginInfo(name, distribution, version, getattr(obj, "__name__", None))
        self.info[name] = info
        self._register(obj, info)
        self._registries.clear()

    def notify(self, hook_name: str, **kwargs) -> None:
        """Call a lifecycle hook on every plugin; an exception in one plugin is logged, never fatal."""
        caller = getattr(self.pm.hook, hook_name)
        for impl in caller.get_hookimpls():
            try:
                impl.function(**{k: kwargs[k] for k in impl.argnames if k in kwargs})
            except Exception as exc:  # a tracker must not take a run down
                log.warning("plugin %s failed in %s: %s: %s", impl.plugin_name, hook_name, type(exc).__name__, exc)


def _registry_for(kind: str) -> ComponentRegistry:
    if kind == "benchmark":
        from benchmark.config import BenchmarkRegistry

        return BenchmarkRegistry()
    return ComponentRegistry(kind)


def _hookimpl_names(obj) -> list[str]:
    names = []
    for attr in dir(obj):
        try:
            value = getattr(obj, attr)
        except Exception:
            continue
        if callable(value) and hasattr(value, f"{PROJECT_NAME}_impl"):
            names.append(attr)
    return names


def _allowed_plugins() -> set[str] | None:
    raw = os.environ.get(ENV_PLUGINS)
    if raw is None:
        return None
    names = {n.strip() for n in raw.split(",") if n.strip()}
    return set() if names <= {"none"} else names


_MANAGER: SignspotPluginManager | None = None


def get_plugin_manager() -> SignspotPluginManager:
    global _MANAGER
    if _MANAGER is None:
        _MANAGER = SignspotPluginManager()
    return _MANAGER


def reset_plugin_manager() -> None:
    """Forget the cached manager (tests, or after installing a plugin in-process)."""
    global _MANAGER
    _MANAGER = None
