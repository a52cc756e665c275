"""Benchmark entries: registry YAML files, ``extends``, profiles, overrides, and the resolved configuration.

Merge rule (entries, profiles and ``--set`` alike): mappings merge key by key, lists and scalars replace, and
``null`` deletes a key (so an entry extending the reference can drop an expert with ``rgb: null``).  Profiles
are overlays stored under the entry's ``profiles``; a profile may name ``extends_profile`` to build on another.
A profile's ``experts`` overlay only tunes experts the entry has (an entry that extends the reference and
drops experts keeps the reference's profiles usable).

Resolving an entry, in order: ``extends`` chain -> trainer ``defaults`` under it -> profile -> ad-hoc swaps
-> ``--set`` -> seed -> structural checks and the entry's own value rules (:mod:`benchmark.config.schema`) ->
settings checks, the components' value rules and their defaults filled in (:mod:`benchmark.config.settings`):
every value is checked once, here, before any work (:mod:`benchmark.config.rules`).  Settings written for one
component never reach another: where ``extends``, a profile or a swap puts a different component in place,
inherited keys it does not declare are dropped with a note (:attr:`ResolvedBenchmark.notes`).  Every error names
the entry, the key path and what was expected.

A registry file maps entry names to entries; the names ``defaults`` (the trainers' settings, only in the
built-in ``registry.yaml``) and ``sweeps`` are reserved.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from benchmark.config.overrides import Overrides, apply_sets, apply_swaps
from benchmark.config.registry import ComponentRegistry
from benchmark.config.schema import validate_entry
from benchmark.config.settings import complete, prune
from benchmark.errors import ConfigError, DuplicateNameError, UnknownNameError

DELETE = None  # a null in an overlay deletes the key
RESERVED = ("defaults", "sweeps")
COMPONENT_SECTIONS = ("dataset", "spotter", "decoder")  # entry sections naming one component (+ experts.<id>)


def deep_merge(base: Any, overlay: Any) -> Any:
    """Overlay ``overlay`` on ``base`` (mappings merge, everything else replaces, None deletes)."""
    if not isinstance(base, dict) or not isinstance(overlay, dict):
        return copy.deepcopy(overlay)
    out = copy.deepcopy(base)
    for key, value in overlay.items():
        if value is DELETE:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


# -- files ----------------------------------------------------------------------------------------------------


def load_registry_file(path: Path) -> dict:
    """Read a registry YAML file safely (entries and reserved sections); errors name the file and the line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), "", f"cannot read registry file: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            str(path), "", f"not a UTF-8 text file (byte {exc.start}: {exc.reason}); save it as UTF-8 YAML"
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(str(path), "", f"not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            str(path), "", f"a registry file must map benchmark names to entries, got {type(data).__name__}"
        )
    for name, entry in data.items():
        if not isinstance(entry, dict):
            raise ConfigError(str(name), "", f"expected a mapping, got {type(entry).__name__}", str(path))
    return data


@lru_cache(maxsize=1)
def _builtin_defaults() -> dict:
    from benchmark.config.builtin import REGISTRY_FILE

    return load_registry_file(REGISTRY_FILE).get("defaults") or {}


def trainer_defaults() -> dict:
    """The trainers' complete settings from ``registry.yaml``'s ``defaults`` section (deep copies):
    ``{"expert_training": {...}, "spotter_training": {...}}``."""
    d = _builtin_defaults()
    return {
        "expert_training": copy.deepcopy(d["expert_training"]),
        "spotter_training": copy.deepcopy(d["spotter"]["training"]),
    }


def dump_yaml(config: dict) -> str:
    from benchmark.storage.jsonable import jsonable

    return yaml.safe_dump(jsonable(config), sort_keys=False, default_flow_style=False, allow_unicode=True)


# -- the registry of entries ------------------------------------------------------------------------------------


@dataclass
class ResolvedBenchmark:
    name: str
    version: str
    profile: str | None
    config: dict  # resolved: no `extends`, no `profiles`; settings merged over the components' defaults
    source: str | None
    profiles: list[str]
    notes: list[str] = field(default_factory=list)  # one line per inherited setting dropped on a replacement
    expected: dict = field(default_factory=dict)  # profile -> {"f1_mean", "f1_std", ...} measured for this entry

    def expectation(self) -> str | None:
        """``expected F1 0.61 +- 0.01, 95 % CI [0.58, 0.64] (cpu profile)`` for this run's profile, when the entry
        states one (``f1_ci``: the interval over seeds x test videos its ``bench sweep`` measured)."""
        e = self._expected()
        if e.get("f1_mean") is None:
            return None
        spread = f" +- {e['f1_std']:.3f}" if e.get("f1_std") is not None else ""
        ci = self._expected_ci()
        interval = f", 95 % CI [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else ""
        return f"expected F1 {e['f1_mean']:.3f}{spread}{interval} ({self.profile or 'no'} profile)"

    def within_expectation(self, f1: float) -> bool | None:
        """Whether ``f1`` lies inside the expected interval of this run's profile (None: no interval stated)."""
        ci = self._expected_ci()
        return None if ci is None else float(ci[0]) <= float(f1) <= float(ci[1])

    def _expected(self) -> dict:
        """The ``expected:`` block of this run's profile (empty when the entry states none)."""
        e = self.expected.get(self.profile or "none")
        return e if isinstance(e, dict) else {}

    def _expected_ci(self) -> list | None:
        ci = self._expected().get("f1_ci")
        return ci if isinstance(ci, list) and len(ci) == 2 else None


class BenchmarkRegistry(ComponentRegistry):
    """Benchmark entries by name; ``add`` takes an entry mapping, ``add_file`` a YAML file of entries.

    ``lookup(kind, name)``, set by the plugin manager, finds components: with it, resolving checks every
    setting against what the components declare and fills in their defaults; without it (a bare registry in
    a test), only the structure is checked.
    """

    def __init__(self):
        super().__init__("benchmark")
        self.sources: dict[str, str] = {}
        self.lookup: Callable[[str, str], Any] | None = None
        self.components_of: Callable[[str], list] | None = None  # the Component records of a kind
        self.defaults: dict = copy.deepcopy(_builtin_defaults())
        self.sweeps: dict = {}  # name -> benchmark.sweep.spec.Sweep

    def add(self, name: str, obj: Any, *, description: str = "", source: str | None = None) -> Any:
        source = source or f"plugin {self._provider[0]}"
        if name in RESERVED:
            raise ConfigError(
                name, "", f"{name!r} is a reserved name in registry files, not an entry; rename it", source
            )
        if not isinstance(obj, dict):
            raise ConfigError(name, "", f"expected a mapping, got {type(obj).__name__}", source)
        validate_entry(name, obj, source, resolved=False)
        super().add(name, obj, description=str(obj.get("description", "")).strip())
        self.sources[name] = source
        return obj

    def add_file(self, path) -> list[str]:
        from benchmark.config.builtin import REGISTRY_FILE

        path = Path(path)
        data = load_registry_file(path)
        if "defaults" in data and path.resolve() != REGISTRY_FILE.resolve():
            raise ConfigError(
                str(path),
                "defaults",
                "only the built-in registry.yaml defines the trainers' "
                "defaults; set expert_training / spotter.training in an entry",
            )
        entries = {k: v for k, v in data.items() if k not in RESERVED}
        for name, entry in entries.items():
            if name in self:
                raise DuplicateNameError(
                    f"benchmark {name!r} in {path} is already defined in {self.sources.get(name)}; rename one"
                )
            self.add(name, entry, source=str(path))
        for name in entries:
            self._check_cycle(name)
        sweeps = data.get("sweeps") or {}
        if not isinstance(sweeps, dict):
            raise ConfigError(str(path), "sweeps", f"expected a mapping of sweep names to sweeps, got {sweeps!r}")
        for name, spec in sweeps.items():
            self.add_sweep(str(name), spec, source=str(path))
        return list(entries)

    def add_sweep(self, name: str, spec: Any, source: str | None = None):
        """A sweep entry (:mod:`benchmark.sweep.spec`); its axes are checked against its benchmark when planned."""
        from benchmark.sweep.spec import check_sweep

        if name in self.sweeps:
            raise DuplicateNameError(f"sweep {name!r} in {source} is already defined in {self.sweeps[name].source}")
        self.sweeps[name] = check_sweep(name, spec, source)
        return self.sweeps[name]

    # -- resolving ------------------------------------------------------------------------------------------
    def resolve(
        self, name: str, profile: str | None = None, sets: Iterable[str] = (), overrides: Overrides | None = None
    ) -> ResolvedBenchmark:
        overrides = overrides or Overrides()
        all_sets = tuple(overrides.sets) + tuple(sets)
        notes: list[str] = []
        raw = self._resolve_extends(name, [], notes)
        profiles = raw.pop("profiles", {}) or {}
        expected = raw.pop("expected", {}) or {}
        config = deep_merge(
            {
                "expert_training": self.defaults.get("expert_training", {}),
                "spotter": {"training": (self.defaults.get("spotter") or {}).get("training", {})},
            },
            raw,
        )
        source = self.sources.get(name)
        if profile:
            overlay = self._profile_overlay(name, profiles, profile, [])
            config = deep_merge(config, self._fit_profile(name, config, overlay, profile, notes))
        swaps = overrides.swaps
        if swaps.experts or swaps.spotter or swaps.decoder or swaps.dataset or swaps.data_path:
            config = apply_swaps(config, swaps, self._lookup, notes)
        set_paths: list[str] = []
        if all_sets:
            config, set_paths = apply_sets(config, all_sets)
        if overrides.seed is not None:
            config["seed"] = int(overrides.seed)
        config.pop("extends", None)
        config.pop("profiles", None)
        origins = dict.fromkeys(set_paths, "--set")
        validate_entry(name, config, "--set" if set_paths else source)
        if self.lookup is not None:
            config = self._complete(name, config, source, origins)
        return ResolvedBenchmark(
            name, str(config.get("version")), profile, config, source, sorted(profiles), notes, expected
        )

    def _lookup(self, kind: str, name: str):
        if self.lookup is None:
            raise ConfigError(name, "", f"cannot look up {kind} {name!r}: no plugin manager")
        return self.lookup(kind, name)

    def _check_cycle(self, name: str) -> None:
        """An ``extends`` cycle among the entries known so far is an error when its file is read (a parent not
        known yet may come from a later file)."""
        chain = []
        while name in self and name not in chain:
            chain.append(name)
            entry = self.get(name)
            name = entry.get("extends") if isinstance(entry, dict) else None
        if name in chain:
            raise ConfigError(
                chain[0], "extends", f"circular extends: {' -> '.join([*chain, name])}", self.sources.get(chain[0])
            )

    def _resolve_extends(self, name: str, chain: list[str], notes: list[str]) -> dict:
        if name in chain:
            raise ConfigError(
                name, "extends", f"circular extends: {' -> '.join(chain + [name])}", self.sources.get(name)
            )
        entry = copy.deepcopy(self.get(name))
        parent = entry.pop("extends", None)
        if parent is None:
            return entry
        if parent not in self:
            err = UnknownNameError("benchmark", parent, self.names())
            raise ConfigError(name, "extends", str(err), self.sources.get(name))
        base = self._resolve_extends(parent, chain + [name], notes)
        base.pop("expected", None)  # what was measured for the parent says nothing about this entry
        if self.lookup is not None:
            self._prune_replaced(name, base, entry, notes)
        return deep_merge(base, entry)

    def _prune_replaced(self, name: str, base: dict, entry: dict, notes: list[str]) -> None:
        """Where ``entry`` names another component than ``base``, cut base's settings to what the new one declares."""
        why = f"benchmark {name!r}"
        for kind in COMPONENT_SECTIONS:
            new = (entry.get(kind) or {}).get("name")
            old = (base.get(kind) or {}).get("name")
            if new and old and new != old:
                self._prune_section(base[kind], kind, new, f"{why} replaces {kind} {old!r} with {new!r}", notes)
        for eid, spec in (entry.get("experts") or {}).items():
            old_spec = (base.get("experts") or {}).get(eid)
            if (
                isinstance(spec, dict)
                and isinstance(old_spec, dict)
                and spec.get("name") not in (None, old_spec.get("name"))
            ):
                self._prune_section(
                    old_spec,
                    "expert",
                    spec["name"],
                    f"{why} replaces expert {eid} ({old_spec.get('name')!r} -> {spec['name']!r})",
                    notes,
                )

    def _prune_section(self, section: dict, kind: str, name: str, why: str, notes: list[str]) -> None:
        declared = self._lookup(kind, name).declared()
        kept, note = prune(section.get("settings"), declared, f"{kind} {name!r}", why)
        section["settings"] = kept
        if note:
            notes.append(note)

    def _fit_profile(self, name: str, config: dict, overlay: dict, profile: str, notes: list[str]) -> dict:
        """A profile tunes the entry's components: expert ids the entry removed are skipped, and component
        settings that the entry's component does not declare but another component does (the profile was
        written for that one) are dropped with a note.  Unknown everywhere: left for the strict check."""
        if isinstance(overlay.get("experts"), dict):
            overlay["experts"] = {k: v for k, v in overlay["experts"].items() if k in config.get("experts", {})}
        if self.lookup is None:
            return overlay
        why = f"profile {profile!r} of {name!r}"
        sections = [(kind, config.get(kind) or {}, overlay.get(kind)) for kind in COMPONENT_SECTIONS]
        sections += [("expert", config["experts"][eid], spec) for eid, spec in (overlay.get("experts") or {}).items()]
        for kind, current, tuned in sections:
            if not isinstance(tuned, dict) or not isinstance(tuned.get("settings"), dict) or "name" in tuned:
                continue
            component = self._lookup(kind, current.get("name"))
            declared = component.declared()
            foreign = {k for k in tuned["settings"] if k not in declared and self._declared_by_another(kind, k)}
            if foreign:
                tuned["settings"] = {k: v for k, v in tuned["settings"].items() if k not in foreign}
                notes.append(
                    f"{why}: dropped setting(s) {', '.join(sorted(foreign))} that {kind} "
                    f"{current.get('name')!r} does not declare"
                )
        return overlay

    def _declared_by_another(self, kind: str, key: str) -> bool:
        if self.components_of is None:
            return False
        for record in self.components_of(kind):
            try:
                if key in record.obj.declared():
                    return True
            except Exception:  # a broken lazy component declares nothing
                continue
        return False

    def _profile_overlay(self, name: str, profiles: dict, profile: str, chain: list[str]) -> dict:
        if profile not in profiles:
            err = UnknownNameError("profile", profile, profiles)
            raise ConfigError(name, f"profiles.{profile}", str(err), self.sources.get(name))
        if profile in chain:
            raise ConfigError(
                name, f"profiles.{profile}.extends_profile", f"circular: {' -> '.join(chain + [profile])}"
            )
        overlay = copy.deepcopy(profiles[profile])
        if not isinstance(overlay, dict):
            raise ConfigError(
                name, f"profiles.{profile}", f"expected a mapping, got {overlay!r}", self.sources.get(name)
            )
        parent = overlay.pop("extends_profile", None)
        if parent:
            overlay = deep_merge(self._profile_overlay(name, profiles, parent, chain + [profile]), overlay)
        return overlay

    def _complete(self, name: str, config: dict, source: str | None, origins: dict) -> dict:
        return complete(name, config, self._lookup, self._names, self.defaults, source, origins)

    def _names(self, kind: str) -> list[str]:
        return [c.name for c in self.components_of(kind)] if self.components_of else []
