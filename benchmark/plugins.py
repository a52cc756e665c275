"""The plugin manager: pluggy, the built-in plugins from a tuple, then installed ``signspot.plugins`` entry points.

Every hook call goes through pluggy's own machinery, one plugin at a time (a subset hook caller per plugin):
that is how the core knows which plugin registered which name, and how a plugin that raises is isolated
while the others keep working.  ``SIGNSPOT_TRACE_PLUGINS=1`` prints every hook call (hook, plugin,
arguments) to stderr.  ``bench plugins`` reads names, hooks and distributions from pluggy's bookkeeping.

``SIGNSPOT_PLUGINS`` limits which installed (third-party) plugins load, for reproducible runs: a
comma-separated list of entry-point or distribution names; ``none`` loads no third-party plugin; unset loads
all.  Built-ins always load.

Broken plugins: one that fails to import, implements a hook that does not exist, or raises in a registration
hook or in ``register_commands`` is recorded with its error (``bench plugins`` shows it) and unregistered as a
whole: none of its components is usable.  Every registration hook runs on the first lookup, so a plugin is
known to be broken before a run starts any work.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import traceback
from dataclasses import dataclass, field
from importlib import metadata

import pluggy

from benchmark import ENTRY_POINT_GROUP, PROJECT_NAME, __version__, hookspecs
from benchmark.config.registry import ComponentRegistry
from benchmark.interfaces import KINDS

log = logging.getLogger(__name__)

DEFAULT_PLUGINS = (
    "benchmark.metrics.plugin",
    "benchmark.tracking.plugin",
    "benchmark.config.builtin",
    "benchmark.datasets.plugin",
    "benchmark.modalities.plugin",
    "experts.plugin",
    "spotters.plugin",
    "spotters.decoders.plugin",
)

ENV_PLUGINS = "SIGNSPOT_PLUGINS"
ENV_TRACE = "SIGNSPOT_TRACE_PLUGINS"


def plural(kind: str) -> str:
    """``expert`` -> ``experts``, ``modality`` -> ``modalities``: how hooks and ``bench list`` name a kind."""
    return kind[:-1] + "ies" if kind.endswith("y") else kind + "s"


# kind -> registration hook name, in registration order: the component kinds of benchmark.interfaces.KINDS (the
# one list of them), then benchmark entries, which name those components
REGISTRATION_HOOKS = {kind: f"register_{plural(kind)}" for kind in (*KINDS, "benchmark")}


@dataclass
class PluginInfo:
    """One plugin as ``bench plugins`` shows it."""

    name: str
    distribution: str | None  # None for the built-ins of signspot-bench itself
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


@dataclass
class _Loaded:
    """What pluggy does not record about a plugin: where it came from, and its error once broken."""

    name: str
    module: str | None
    builtin: bool
    distribution: str | None = None
    version: str | None = None
    error: str | None = None
    traceback: str | None = None


class SignspotPluginManager:
    """pluggy's manager plus what signspot needs: per-plugin calls, broken plugins and component registries."""

    def __init__(self, builtins: tuple[str, ...] = DEFAULT_PLUGINS, load_entry_points: bool = True):
        self.pm = pluggy.PluginManager(PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        if os.environ.get(ENV_TRACE, "").strip().lower() not in ("", "0", "false", "no", "off"):
            self.pm.add_hookcall_monitoring(_trace_before, _trace_after)
        self._loaded: dict[str, _Loaded] = {}  # in load order
        self._registries: dict[str, ComponentRegistry] = {}
        self._callers: dict[tuple[str, str], pluggy.HookCaller] = {}
        for module_name in builtins:
            self._load_builtin(module_name)
        if load_entry_points:
            self._load_entry_points()

    # -- loading ----------------------------------------------------------------------------------------
    def _load_builtin(self, module_name: str) -> None:
        record = self._loaded[module_name] = _Loaded(module_name, module_name, True, None, __version__)
        try:
            self.pm.register(importlib.import_module(module_name), name=module_name)
            self._check_hooks(module_name)
        except Exception as exc:  # a built-in that cannot import (e.g. a missing optional dependency)
            self._mark_broken(record, exc)

    def _load_entry_points(self) -> None:
        allowed = _allowed_plugins()
        for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            dist = ep.dist.name if getattr(ep, "dist", None) else None
            version = ep.dist.version if getattr(ep, "dist", None) else None
            if allowed is not None and ep.name not in allowed and (dist or "") not in allowed:
                continue
            if ep.name in self._loaded:
                other = self.info[ep.name]
                self._loaded[f"{ep.name}@{dist}"] = _Loaded(
                    ep.name,
                    ep.value,
                    False,
                    dist,
                    version,
                    error=f"plugin name {ep.name!r} is already used by {other.label}",
                )
                continue
            record = self._loaded[ep.name] = _Loaded(ep.name, ep.value, False, dist, version)
            try:
                # pluggy imports and registers it, and records its distribution (list_plugin_distinfo)
                self.pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP, name=ep.name)
                self._check_hooks(ep.name)
            except Exception as exc:  # isolation: the caller decides what an error means
                self._mark_broken(record, exc)

    def _check_hooks(self, name: str) -> None:
        """A plugin implementing a hook that has no spec (a typo) is broken, not silently ignored."""
        plugin = self.pm.get_plugin(name)
        unknown = sorted(c.name for c in self.pm.get_hookcallers(plugin) or [] if not c.has_spec())
        if unknown:
            raise pluggy.PluginValidationError(
                plugin, f"implements unknown hook(s) {', '.join(unknown)}; known hooks: {', '.join(hook_names())}"
            )

    def _mark_broken(self, record: _Loaded, exc: BaseException) -> None:
        record.error = f"{type(exc).__name__}: {exc}"
        record.traceback = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        if self.pm.get_plugin(record.name) is not None:
            self.pm.unregister(name=record.name)
        self._callers.clear()
        log.warning(
            "signspot plugin %s is broken: %s",
            self.info[record.name].label if record.name in self._loaded else record.name,
            record.error,
        )

    # -- calling hooks ------------------------------------------------------------------------------------
    @property
    def hook(self):
        return self.pm.hook

    def _caller(self, hook_name: str, plugin_name: str) -> pluggy.HookCaller:
        """A pluggy hook caller that reaches one plugin only (cached)."""
        key = (hook_name, plugin_name)
        if key not in self._callers:
            others = [p for n, p in self.pm.list_name_plugin() if n != plugin_name and p is not None]
            self._callers[key] = self.pm.subset_hook_caller(hook_name, remove_plugins=others)
        return self._callers[key]

    def _implementers(self, hook_name: str) -> list[str]:
        """Plugins implementing ``hook_name``, in load order (built-ins first)."""
        names = {impl.plugin_name for impl in getattr(self.pm.hook, hook_name).get_hookimpls()}
        return [n for n in self._loaded if n in names]

    def call_each(self, hook_name: str, **kwargs):
        """Call ``hook_name`` on each plugin in load order; yields ``(plugin name, exception or None)``."""
        for name in self._implementers(hook_name):
            if self.pm.get_plugin(name) is None:  # broken by an earlier call
                continue
            try:
                self._caller(hook_name, name)(**kwargs)
            except Exception as exc:  # a plugin that raises is broken as a whole
                yield name, exc
            else:
                yield name, None

    def collect(self, hook_name: str, **kwargs) -> list:
        """Call ``hook_name`` on each plugin and return the results that are not None (errors logged)."""
        out = []
        for name in self._implementers(hook_name):
            if self.pm.get_plugin(name) is None:
                continue
            try:
                out.extend(self._caller(hook_name, name)(**kwargs))
            except Exception as exc:  # isolation, as for notifications
                log.warning("plugin %s failed in %s: %s: %s", name, hook_name, type(exc).__name__, exc)
        return out

    def notify(self, hook_name: str, **kwargs) -> None:
        """A lifecycle notification: an exception in one plugin is logged, never fatal."""
        for name, exc in self.call_each(hook_name, **kwargs):
            if exc is not None:  # a tracker must not take a run down
                log.warning("plugin %s failed in %s: %s: %s", name, hook_name, type(exc).__name__, exc)

    def register_commands(self, cli) -> None:
        """Let plugins add click commands; one that raises is broken."""
        for name, exc in list(self.call_each("register_commands", cli=cli)):
            if exc is not None:
                self._mark_broken(self._loaded[name], exc)
                self._registries.clear()

    # -- components ---------------------------------------------------------------------------------------
    def components(self, kind: str) -> ComponentRegistry:
        """The registry of one kind.  The first lookup runs every plugin's registration hooks (all kinds)."""
        if kind not in REGISTRATION_HOOKS:
            raise ValueError(f"unknown component kind {kind!r}; kinds: {', '.join(REGISTRATION_HOOKS)}")
        if not self._registries:
            self._collect()
        return self._registries[kind]

    def builtin_names(self, kind: str) -> list[str]:
        """The names signspot-bench's own plugins register for ``kind``, in registration order: what ``bench
        perf`` measures when nothing is named (an installed plugin's component is measured when named)."""
        builtins = {rec.name for rec in self._loaded.values() if rec.builtin}
        return [c.name for c in self.components(kind).components() if c.plugin in builtins]

    def _collect(self) -> None:
        while True:
            registries = {kind: _registry_for(kind) for kind in REGISTRATION_HOOKS}
            broke = False
            for kind, hook_name in REGISTRATION_HOOKS.items():
                registry = registries[kind]
                for name in self._implementers(hook_name):
                    info = self.info[name]
                    registry.set_provider(info.name, info.distribution)
                    try:
                        self._caller(hook_name, name)(registry=registry)
                    except Exception as exc:  # a plugin that raises is broken as a whole
                        self._mark_broken(self._loaded[name], exc)
                        broke = True
                        break
                if broke:
                    break
            if not broke:  # else: start again without the broken plugin, so none of its components stays
                break
        errors = {p.label: p.error for p in self._broken()}
        for registry in registries.values():
            registry.broken = errors
        entries = registries["benchmark"]  # resolving an entry checks settings against the components
        entries.lookup = lambda kind, name: registries[kind].get(name)
        entries.components_of = lambda kind: registries[kind].components()
        self._registries = registries

    def register_plugin(self, obj, name: str, distribution: str | None = None, version: str | None = None) -> None:
        """Register an in-process plugin object (tests, notebooks); resets the component registries."""
        record = self._loaded[name] = _Loaded(name, getattr(obj, "__name__", None), False, distribution, version)
        try:
            self.pm.register(obj, name=name)
            self._check_hooks(name)
        except Exception as exc:  # a plugin that cannot register is broken
            self._mark_broken(record, exc)
        self._callers.clear()
        self._registries.clear()

    # -- bookkeeping ----------------------------------------------------------------------------------------
    @property
    def info(self) -> dict[str, PluginInfo]:
        """Every plugin by name, in load order: pluggy's records for the registered, ours for the broken."""
        dists = {self.pm.get_name(plugin): dist for plugin, dist in self.pm.list_plugin_distinfo()}
        out = {}
        for key, rec in self._loaded.items():
            plugin = self.pm.get_plugin(rec.name) if rec.error is None else None
            hooks = sorted(c.name for c in self.pm.get_hookcallers(plugin) or []) if plugin is not None else []
            dist = dists.get(rec.name)
            out[key] = PluginInfo(
                rec.name,
                dist.project_name if dist is not None else rec.distribution,
                dist.version if dist is not None else rec.version,
                rec.module,
                hooks,
                rec.builtin,
                rec.error,
                rec.traceback,
            )
        return out

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
        self.components("benchmark")


def hook_names() -> list[str]:
    """Every hook a plugin may implement."""
    return sorted(n for n in dir(hookspecs) if hasattr(getattr(hookspecs, n), f"{PROJECT_NAME}_spec"))


def _registry_for(kind: str) -> ComponentRegistry:
    if kind == "benchmark":
        from benchmark.config.entries import BenchmarkRegistry

        return BenchmarkRegistry()
    return ComponentRegistry(kind)


def _trace_before(hook_name, hook_impls, kwargs) -> None:
    plugins = ", ".join(impl.plugin_name for impl in hook_impls) or "(no plugin)"
    args = ", ".join(f"{k}={_short(v)}" for k, v in kwargs.items())
    print(f"signspot hook {hook_name}({args}) -> {plugins}", file=sys.stderr, flush=True)


def _trace_after(outcome, hook_name, hook_impls, kwargs) -> None:
    exc = outcome.exception
    if exc is not None:
        print(f"signspot hook {hook_name} raised {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)


def _short(value) -> str:
    text = repr(value) if isinstance(value, (str, int, float)) else f"<{type(value).__name__}>"
    return text if len(text) <= 60 else text[:57] + "..."


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
