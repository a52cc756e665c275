"""Benchmark entries: registry YAML files, ``extends``, profiles, overrides, and the resolved configuration.

Merge rule (entries, profiles and ``--set`` alike): mappings merge key by key, lists and scalars replace, and
``null`` deletes a key (so an entry extending the reference can drop an expert with ``rgb: null``).  Profiles
are overlays stored under the entry's ``profiles``; a profile may name ``extends_profile`` to build on another.
A profile's ``experts`` overlay only tunes experts the entry has (an entry that extends the reference and
drops experts keeps the reference's profiles usable).

Resolving an entry, in order: ``extends`` chain -> trainer ``defaults`` under it -> profile -> ad-hoc swaps
-> ``--set`` -> seed -> structural checks -> settings checks and component defaults filled in
(:mod:`benchmark.settings`).  Settings written for one component never reach another: where ``extends``, a
profile or a swap puts a different component in place, inherited keys it does not declare are dropped with a
note (:attr:`ResolvedBenchmark.notes`).  Every error names the entry, the key path and what was expected.

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

from benchmark.errors import ConfigError, DuplicateNameError, UnknownNameError
from benchmark.overrides import Overrides, apply_sets, apply_swaps
from benchmark.registry import ComponentRegistry
from benchmark.settings import CLIP_DEFAULTS, EXPERT_KEYS, check, merged, prune

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


# -- structure ------------------------------------------------------------------------------------------------

_NUM = (int, float)
_SCHEMA_TOP = {
    "description": str,
    "version": (int, str),
    "extends": str,
    "seed": int,
    "device": str,
    "dataset": dict,
    "clips": dict,
    "preprocess": dict,
    "experts": dict,
    "expert_training": dict,
    "spotter": dict,
    "decoder": dict,
    "metrics": list,
    "profiles": dict,
}
_REQUIRED = (
    "description",
    "version",
    "dataset",
    "clips",
    "experts",
    "expert_training",
    "spotter",
    "decoder",
    "metrics",
)
_OPTIMIZERS = ("adam", "adamw", "sgd")


def _type_name(t) -> str:
    if isinstance(t, tuple):
        return " or ".join(_type_name(x) for x in t)
    return {
        str: "a string",
        int: "an integer",
        float: "a number",
        dict: "a mapping",
        list: "a list",
        type(None): "null",
    }.get(t, t.__name__)


def _expect(entry: str, path: str, value, types, source=None):
    if isinstance(value, bool) and types in (int, _NUM, (int, str)):
        raise ConfigError(entry, path, f"expected {_type_name(types)}, got {value!r}", source)
    if not isinstance(value, types):
        raise ConfigError(entry, path, f"expected {_type_name(types)}, got {type(value).__name__} {value!r}", source)


def _check_training(entry, path, training, source):
    """Values the trainers need beyond their type (the types are checked against the defaults)."""
    _expect(entry, path, training, dict, source)
    if "optimizer" in training and training["optimizer"] not in _OPTIMIZERS:
        raise ConfigError(
            entry,
            f"{path}.optimizer",
            f"expected one of {', '.join(_OPTIMIZERS)}, got {training['optimizer']!r}",
            source,
        )
    for key in ("epochs", "batch_size"):
        value = training.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value < 1:
            raise ConfigError(entry, f"{path}.{key}", f"expected a positive integer, got {value!r}", source)
        if key in training and not (isinstance(value, int) and not isinstance(value, bool)):
            raise ConfigError(
                entry, f"{path}.{key}", f"expected an integer, got {type(value).__name__} {value!r}", source
            )
    milestones = training.get("milestones")
    if milestones is not None and not (
        isinstance(milestones, list) and all(isinstance(m, int) and not isinstance(m, bool) for m in milestones)
    ):
        raise ConfigError(entry, f"{path}.milestones", f"expected a list of integers, got {milestones!r}", source)
    if "rounds" in training and training["rounds"] not in (1, 2):
        raise ConfigError(entry, f"{path}.rounds", f"expected 1 or 2, got {training['rounds']!r}", source)


def validate_entry(entry: str, config: dict, source: str | None = None, resolved: bool = True) -> None:
    """The entry's structure (sections, names, required keys); raises :class:`ConfigError` for the first problem."""
    _expect(entry, "", config, dict, source)
    for key, value in config.items():
        if key not in _SCHEMA_TOP:
            hint = UnknownNameError("key", key, _SCHEMA_TOP).suggestion
            raise ConfigError(
                entry,
                key,
                f"unknown key{f' (did you mean {hint!r}?)' if hint else ''}; expected one of {', '.join(_SCHEMA_TOP)}",
                source,
            )
        if not (value is None and not resolved):  # null in an overlay deletes
            _expect(entry, key, value, _SCHEMA_TOP[key], source)
    if not resolved:
        return
    for key in _REQUIRED:
        if key not in config:
            raise ConfigError(entry, key, "missing (required)", source)
    ds = config["dataset"]
    _expect(entry, "dataset.name", ds.get("name"), str, source)
    if ds.get("path") is not None:
        _expect(entry, "dataset.path", ds["path"], str, source)
    unknown = set(ds) - {"name", "path", "settings"}
    if unknown:
        raise ConfigError(entry, f"dataset.{sorted(unknown)[0]}", "unknown key; expected name, path, settings", source)
    _expect(entry, "dataset.settings", ds.get("settings", {}), dict, source)
    clips = config["clips"]
    for key in ("length", "stride", "pad_left"):
        if clips.get(key) is not None:
            _expect(entry, f"clips.{key}", clips[key], int, source)
            if clips[key] < (0 if key == "pad_left" else 1):
                raise ConfigError(
                    entry,
                    f"clips.{key}",
                    f"expected {'>= 0' if key == 'pad_left' else '>= 1'}, got {clips[key]}",
                    source,
                )
    pre = config.get("preprocess", {})
    if "on_bad_video" in pre and pre["on_bad_video"] not in ("fail", "skip"):
        raise ConfigError(
            entry, "preprocess.on_bad_video", f"expected fail or skip, got {pre['on_bad_video']!r}", source
        )
    if not config["experts"]:
        raise ConfigError(entry, "experts", "expected at least one expert", source)
    for eid, spec in config["experts"].items():
        path = f"experts.{eid}"
        _expect(entry, path, spec, dict, source)
        unknown = set(spec) - set(EXPERT_KEYS)
        if unknown:
            raise ConfigError(
                entry, f"{path}.{sorted(unknown)[0]}", f"unknown key; expected {', '.join(EXPERT_KEYS)}", source
            )
        _expect(entry, f"{path}.name", spec.get("name"), str, source)
        if spec.get("modality") is not None:
            _expect(entry, f"{path}.modality", spec["modality"], str, source)
        _expect(entry, f"{path}.settings", spec.get("settings") or {}, dict, source)
        _check_training(entry, f"{path}.training", spec.get("training") or {}, source)
    _check_training(entry, "expert_training", config["expert_training"], source)
    for part in ("spotter", "decoder"):
        _expect(entry, f"{part}.name", config[part].get("name"), str, source)
        _expect(entry, f"{part}.settings", config[part].get("settings") or {}, dict, source)
        unknown = set(config[part]) - ({"name", "settings", "training"} if part == "spotter" else {"name", "settings"})
        if unknown:
            raise ConfigError(
                entry,
                f"{part}.{sorted(unknown)[0]}",
                "unknown key; expected name, settings" + (", training" if part == "spotter" else ""),
                source,
            )
    _check_training(entry, "spotter.training", config["spotter"].get("training") or {}, source)
    if not config["metrics"] or not all(isinstance(m, str) for m in config["metrics"]):
        raise ConfigError(
            entry, "metrics", f"expected a non-empty list of metric names, got {config['metrics']!r}", source
        )


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
    from benchmark.builtin_benchmarks import REGISTRY_FILE

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
    from benchmark.jsonable import jsonable

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
        from benchmark.builtin_benchmarks import REGISTRY_FILE

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
        return list(entries)

    # -- resolving ------------------------------------------------------------------------------------------
    def resolve(
        self, name: str, profile: str | None = None, sets: Iterable[str] = (), overrides: Overrides | None = None
    ) -> ResolvedBenchmark:
        overrides = overrides or Overrides()
        all_sets = tuple(overrides.sets) + tuple(sets)
        notes: list[str] = []
        raw = self._resolve_extends(name, [], notes)
        profiles = raw.pop("profiles", {}) or {}
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
        return ResolvedBenchmark(name, str(config.get("version")), profile, config, source, sorted(profiles), notes)

    def _lookup(self, kind: str, name: str):
        if self.lookup is None:
            raise ConfigError(name, "", f"cannot look up {kind} {name!r}: no plugin manager")
        return self.lookup(kind, name)

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
            except Exception:
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

    # -- strict settings and defaults ---------------------------------------------------------------------------
    def _complete(self, name: str, config: dict, source: str | None, origins: dict) -> dict:
        """Check every setting against its declaration and fill in the declared defaults."""
        from benchmark.preprocessing.plan import PREPROCESS_DEFAULTS

        config = copy.deepcopy(config)
        config.setdefault("seed", 0)
        config.setdefault("device", "auto")
        get = self._lookup

        def section(path: str, given, declared: dict, owner: str) -> dict:
            check(name, path, given, declared, owner, source, origins)
            return merged(given, declared)

        trainers = self.defaults
        ds = config["dataset"]
        dataset = get("dataset", ds["name"])
        ds["settings"] = section("dataset.settings", ds.get("settings"), dataset.declared(), f"dataset {ds['name']!r}")
        config["clips"] = section("clips", config["clips"], CLIP_DEFAULTS, "clips")
        modalities = {}
        pre = dict(config.get("preprocess") or {})
        for key, value in list(pre.items()):
            if key in PREPROCESS_DEFAULTS:
                continue
            try:
                modalities[key] = get("modality", key)
            except UnknownNameError:
                known = list(PREPROCESS_DEFAULTS) + list(self._names("modality"))
                from benchmark.settings import unknown_key

                raise unknown_key(
                    name, f"preprocess.{key}", key, "preprocess", known, origins.get(f"preprocess.{key}", source)
                ) from None
            pre[key] = section(f"preprocess.{key}", value, modalities[key].declared(), f"modality {key!r}")
        top = {k: v for k, v in pre.items() if k in PREPROCESS_DEFAULTS}
        check(name, "preprocess", top, PREPROCESS_DEFAULTS, "preprocess", source, origins)
        config["preprocess"] = {**merged(top, PREPROCESS_DEFAULTS), **{k: v for k, v in pre.items() if k not in top}}
        expert_training = trainers["expert_training"]
        for eid, spec in config["experts"].items():
            expert = get("expert", spec["name"])
            spec["modality"] = spec.get("modality") or expert.modality
            get("modality", spec["modality"])
            spec["settings"] = section(
                f"experts.{eid}.settings", spec.get("settings"), expert.declared(), f"expert {spec['name']!r} ({eid})"
            )
            check(
                name,
                f"experts.{eid}.training",
                spec.get("training"),
                expert_training,
                "expert_training",
                source,
                origins,
            )
            spec["training"] = {**dict(expert.training_defaults), **dict(spec.get("training") or {})}
        config["expert_training"] = section(
            "expert_training", config["expert_training"], expert_training, "expert_training"
        )
        spot = config["spotter"]
        spotter = get("spotter", spot["name"])
        spot["settings"] = section(
            "spotter.settings", spot.get("settings"), spotter.declared(), f"spotter {spot['name']!r}"
        )
        spot["training"] = section(
            "spotter.training", spot.get("training"), trainers["spotter"]["training"], "spotter.training"
        )
        dec = config["decoder"]
        decoder = get("decoder", dec["name"])
        dec["settings"] = section(
            "decoder.settings", dec.get("settings"), decoder.declared(), f"decoder {dec['name']!r}"
        )
        for metric in config["metrics"]:
            get("metric", metric)
        return config

    def _names(self, kind: str) -> list[str]:
        return [c.name for c in self.components_of(kind)] if self.components_of else []
