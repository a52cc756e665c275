"""Benchmark entries: loading registry YAML files, ``extends``, profiles, ``--set`` overrides, validation.

Merge rule (entries, profiles and ``--set`` alike): mappings merge key by key, lists and scalars replace,
and ``null`` deletes a key (so an entry extending the reference can drop an expert with ``rgb: null``).
Profiles are overlays stored under the entry's ``profiles``; a profile may name ``extends_profile`` to build
on another profile.  A profile's ``experts`` overlay only tunes experts the entry has (an entry that extends
the reference and drops experts keeps the reference's profiles usable).  Every error names the entry, the key path and what was expected.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import yaml

from benchmark.errors import ConfigError, DuplicateNameError, UnknownNameError
from benchmark.registry import ComponentRegistry

DELETE = None  # a null in an overlay deletes the key


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


def flatten(config: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` (lists stay values)."""
    if not isinstance(config, dict):
        return {prefix: config}
    out: dict[str, Any] = {}
    for key, value in config.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            out.update(flatten(value, path))
        else:
            out[path] = value
    return out


def parse_set(assignment: str) -> tuple[list[str], Any]:
    """``"spotter.training.epochs=5"`` -> (["spotter", "training", "epochs"], 5); values parsed as YAML."""
    if "=" not in assignment:
        raise ConfigError("--set", assignment, "expected key.path=value (e.g. spotter.training.epochs=5)")
    key, _, raw = assignment.partition("=")
    path = [p for p in key.strip().split(".") if p]
    if not path:
        raise ConfigError("--set", assignment, "empty key path")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise ConfigError("--set", key, f"value {raw!r} is not valid YAML: {exc}") from None
    return path, value


def apply_sets(config: dict, assignments: Iterable[str]) -> dict:
    out = copy.deepcopy(config)
    for assignment in assignments:
        path, value = parse_set(assignment)
        node = out
        for part in path[:-1]:
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        if value is None:
            node.pop(path[-1], None)
        else:
            node[path[-1]] = value
    return out


# -- schema -----------------------------------------------------------------------------------------------

_NUM = (int, float)
_SCHEMA_TOP = {
    "description": str, "version": (int, str), "extends": str, "seed": int, "device": str,
    "dataset": dict, "clips": dict, "preprocess": dict, "experts": dict, "expert_training": dict,
    "spotter": dict, "decoder": dict, "metrics": list, "profiles": dict,
}
_REQUIRED = ("description", "version", "dataset", "clips", "experts", "expert_training", "spotter", "decoder", "metrics")
_TRAINING = {
    "rounds": int, "epochs": int, "batch_size": int, "optimizer": str, "lr": _NUM, "weight_decay": _NUM,
    "milestones": list, "gamma": _NUM, "input_size": int, "hflip": _NUM, "max_clips_per_epoch": (int, type(None)),
    "extract_batch_size": int, "select": str, "loss": dict,
}
_OPTIMIZERS = ("adam", "adamw", "sgd")


def _type_name(t) -> str:
    if isinstance(t, tuple):
        return " or ".join(_type_name(x) for x in t)
    return {str: "a string", int: "an integer", float: "a number", dict: "a mapping", list: "a list",
            type(None): "null"}.get(t, t.__name__)


def _expect(entry: str, path: str, value, types, source=None):
    if isinstance(value, bool) and types in (int, _NUM, (int, str)):
        raise ConfigError(entry, path, f"expected {_type_name(types)}, got {value!r}", source)
    if not isinstance(value, types):
        raise ConfigError(entry, path, f"expected {_type_name(types)}, got {type(value).__name__} {value!r}", source)


def _check_training(entry, path, training, source):
    _expect(entry, path, training, dict, source)
    for key, value in training.items():
        if key in _TRAINING:
            _expect(entry, f"{path}.{key}", value, _TRAINING[key], source)
    if "optimizer" in training and training["optimizer"] not in _OPTIMIZERS:
        raise ConfigError(entry, f"{path}.optimizer", f"expected one of {', '.join(_OPTIMIZERS)}, got {training['optimizer']!r}", source)
    for key in ("epochs", "batch_size"):
        if key in training and training[key] < 1:
            raise ConfigError(entry, f"{path}.{key}", f"expected a positive integer, got {training[key]!r}", source)
    if "milestones" in training and not all(isinstance(m, int) and not isinstance(m, bool) for m in training["milestones"]):
        raise ConfigError(entry, f"{path}.milestones", f"expected a list of integers, got {training['milestones']!r}", source)
    if "rounds" in training and training["rounds"] not in (1, 2):
        raise ConfigError(entry, f"{path}.rounds", f"expected 1 or 2, got {training['rounds']!r}", source)


def validate_entry(entry: str, config: dict, source: str | None = None, resolved: bool = True) -> None:
    """Raise :class:`ConfigError` for the first problem found."""
    _expect(entry, "", config, dict, source)
    for key, value in config.items():
        if key not in _SCHEMA_TOP and key != "profile":
            raise ConfigError(entry, key, f"unknown key; expected one of {', '.join(_SCHEMA_TOP)}", source)
        if key in _SCHEMA_TOP and not (value is None and not resolved):  # null in an overlay deletes
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
    _expect(entry, "dataset.settings", ds.get("settings", {}), dict, source)
    clips = config["clips"]
    for key in ("length", "stride", "pad_left"):
        if key in clips:
            _expect(entry, f"clips.{key}", clips[key], int, source)
            if clips[key] < (0 if key == "pad_left" else 1):
                raise ConfigError(entry, f"clips.{key}", f"expected {'>= 0' if key == 'pad_left' else '>= 1'}, got {clips[key]}", source)
    pre = config.get("preprocess", {})
    if "on_bad_video" in pre and pre["on_bad_video"] not in ("fail", "skip"):
        raise ConfigError(entry, "preprocess.on_bad_video", f"expected fail or skip, got {pre['on_bad_video']!r}", source)
    if not config["experts"]:
        raise ConfigError(entry, "experts", "expected at least one expert", source)
    for eid, spec in config["experts"].items():
        path = f"experts.{eid}"
        _expect(entry, path, spec, dict, source)
        _expect(entry, f"{path}.name", spec.get("name"), str, source)
        if spec.get("modality") is not None:
            _expect(entry, f"{path}.modality", spec["modality"], str, source)
        _expect(entry, f"{path}.settings", spec.get("settings", {}), dict, source)
        _check_training(entry, f"{path}.training", spec.get("training", {}), source)
        unknown = set(spec) - {"name", "modality", "settings", "training"}
        if unknown:
            raise ConfigError(entry, f"{path}.{sorted(unknown)[0]}", "unknown key; expected name, modality, settings, training", source)
    _check_training(entry, "expert_training", config["expert_training"], source)
    for part in ("spotter", "decoder"):
        _expect(entry, f"{part}.name", config[part].get("name"), str, source)
        _expect(entry, f"{part}.settings", config[part].get("settings", {}), dict, source)
    _check_training(entry, "spotter.training", config["spotter"].get("training", {}), source)
    if not config["metrics"] or not all(isinstance(m, str) for m in config["metrics"]):
        raise ConfigError(entry, "metrics", f"expected a non-empty list of metric names, got {config['metrics']!r}", source)


# -- registry of entries ------------------------------------------------------------------------------------


@dataclass
class ResolvedBenchmark:
    name: str
    version: str
    profile: str | None
    config: dict  # resolved: no `extends`, no `profiles`
    source: str | None
    profiles: list[str]


class BenchmarkRegistry(ComponentRegistry):
    """Benchmark entries by name; ``add`` takes an entry mapping, ``add_file`` a YAML file of entries."""

    def __init__(self):
        super().__init__("benchmark")
        self.sources: dict[str, str] = {}

    def add(self, name: str, obj: Any, *, description: str = "", source: str | None = None) -> Any:
        source = source or f"plugin {self._provider[0]}"
        if isinstance(obj, dict):
            validate_entry(name, obj, source, resolved=False)
        else:
            raise ConfigError(name, "", f"expected a mapping, got {type(obj).__name__}", source)
        super().add(name, obj, description=str(obj.get("description", "")).strip())
        self.sources[name] = source
        return obj

    def add_file(self, path) -> list[str]:
        path = Path(path)
        entries = load_registry_file(path)
        for name, entry in entries.items():
            if name in self:
                raise DuplicateNameError(
                    f"benchmark {name!r} in {path} is already defined in {self.sources.get(name)}; rename one")
            self.add(name, entry, source=str(path))
        return list(entries)

    def resolve(self, name: str, profile: str | None = None, sets: Iterable[str] = ()) -> ResolvedBenchmark:
        raw = self._resolve_extends(name, [])
        profiles = raw.pop("profiles", {}) or {}
        config = raw
        if profile:
            overlay = self._profile_overlay(name, profiles, profile, [])
            # a profile tunes the entry's experts; it does not add back experts the entry removed
            if isinstance(overlay.get("experts"), dict):
                overlay["experts"] = {k: v for k, v in overlay["experts"].items() if k in config.get("experts", {})}
            config = deep_merge(config, overlay)
        sets = list(sets)
        if sets:
            config = apply_sets(config, sets)
        config.pop("extends", None)
        validate_entry(name, config, self.sources.get(name))
        return ResolvedBenchmark(name, str(config.get("version")), profile, config, self.sources.get(name), sorted(profiles))

    def _resolve_extends(self, name: str, chain: list[str]) -> dict:
        if name in chain:
            raise ConfigError(name, "extends", f"circular extends: {' -> '.join(chain + [name])}", self.sources.get(name))
        entry = copy.deepcopy(self.get(name))
        parent = entry.pop("extends", None)
        if parent is None:
            return entry
        if parent not in self:
            err = UnknownNameError("benchmark", parent, self.names())
            raise ConfigError(name, "extends", str(err), self.sources.get(name))
        base = self._resolve_extends(parent, chain + [name])
        return deep_merge(base, entry)

    def _profile_overlay(self, name: str, profiles: dict, profile: str, chain: list[str]) -> dict:
        if profile not in profiles:
            err = UnknownNameError("profile", profile, profiles)
            raise ConfigError(name, f"profiles.{profile}", str(err), self.sources.get(name))
        if profile in chain:
            raise ConfigError(name, f"profiles.{profile}.extends_profile", f"circular: {' -> '.join(chain + [profile])}")
        overlay = copy.deepcopy(profiles[profile])
        if not isinstance(overlay, dict):
            raise ConfigError(name, f"profiles.{profile}", f"expected a mapping, got {overlay!r}", self.sources.get(name))
        parent = overlay.pop("extends_profile", None)
        if parent:
            overlay = deep_merge(self._profile_overlay(name, profiles, parent, chain + [profile]), overlay)
        return overlay


def load_registry_file(path: Path) -> dict:
    """Read a registry YAML file safely; errors name the file and the line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), "", f"cannot read registry file: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(str(path), "", f"not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(str(path), "", f"a registry file must map benchmark names to entries, got {type(data).__name__}")
    for name, entry in data.items():
        if not isinstance(entry, dict):
            raise ConfigError(str(name), "", f"expected a mapping, got {type(entry).__name__}", str(path))
    return data


def dump_yaml(config: dict) -> str:
    return yaml.safe_dump(config, sort_keys=False, default_flow_style=False, allow_unicode=True)
