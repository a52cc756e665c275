"""Strict settings, one policy for every section of an entry.

What a section may hold is declared once: a component's ``declared()`` settings (its ``defaults`` plus its
kind's shared keys), the trainers' ``defaults`` section of ``registry.yaml``, the preprocessing top-level keys
and the clip keys.  Against that declaration:

* an unknown key is an error naming the key, the component and the closest known key;
* a value whose type differs from its default's is an error naming the key (a ``None`` default takes
  anything; a number default takes a number, an integer default an integer; a text default takes text
  or an integer, as ``width: small | 32`` does; a list default a list; a mapping default is checked key by
  key: :func:`benchmark.config.rules.type_problem`);
* a value breaking the component's value rule (its ``rules``, :mod:`benchmark.config.rules`) is an error
  naming the key, what the rule allows and, for a misspelt choice, the closest one;
* settings inherited from a component that was replaced (``extends``, ``--spotter``, a profile written
  for another component) are pruned instead: keys the new component does not declare are dropped, with a
  one-line note.

Nothing here imports a component's module beyond its torch-free class, so a misspelled key fails in
seconds, before any work starts.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from benchmark.config.rules import closest, rule_problem, type_of, type_problem
from benchmark.errors import ConfigError, UnknownNameError

CLIP_DEFAULTS = {"length": 8, "stride": 8, "pad_left": None}
CLIP_RULES = {"length": ">=1", "stride": ">=1", "pad_left": ">=0"}
PREPROCESS_RULES = {"workers": ">=0", "on_bad_video": ("fail", "skip"), "frame_buffer_mb": ">0", "fps": ">0"}
EXPERT_KEYS = ("name", "modality", "settings", "training")

__all__ = ["CLIP_DEFAULTS", "CLIP_RULES", "EXPERT_KEYS", "PREPROCESS_RULES", "check", "closest", "complete"]


def unknown_key(entry: str, path: str, key: str, owner: str, known: Iterable[str], source: str | None) -> ConfigError:
    known = sorted(str(k) for k in known)
    hint = closest(key, known)
    message = f"unknown setting {key!r} of {owner}"
    message += f"; did you mean {hint!r}?" if hint else "."
    message += f" Known: {', '.join(known) if known else '(none)'}"
    return ConfigError(entry, path, message, source)


def check(
    entry: str,
    path: str,
    given: Mapping | None,
    declared: Mapping,
    owner: str,
    source: str | None = None,
    sources: Mapping[str, str] | None = None,
    rules: Mapping[str, object] | None = None,
) -> None:
    """Every key of ``given`` is declared, typed like its default and keeps its value rule
    (:mod:`benchmark.config.rules`), mappings recursively (a mapping's rules nest under its key).

    ``sources`` maps dotted key paths to where they were set (``--set``), so the error says where to fix it.
    """
    if given is None:
        return
    if not isinstance(given, Mapping):
        raise ConfigError(entry, path, f"expected a mapping, got {type(given).__name__} {given!r}", source)
    rules = rules or {}
    for key, value in given.items():
        where = f"{path}.{key}" if path else str(key)
        origin = (sources or {}).get(where, source)
        if key not in declared:
            raise unknown_key(entry, where, key, owner, declared, origin)
        default, rule = declared[key], rules.get(key)
        if value is None:
            continue
        problem = type_problem(value, type_of(default), like=default)
        if not problem and rule is not None and not isinstance(rule, Mapping):
            problem = rule_problem(value, rule, owner)
        if problem:
            raise ConfigError(entry, where, problem, origin)
        if isinstance(default, Mapping) and default:
            check(entry, where, value, default, owner, source, sources, rule if isinstance(rule, Mapping) else None)


def merged(given: Mapping | None, declared: Mapping) -> dict:
    """``given`` over ``declared`` (mappings merged key by key): the values a component or trainer runs with."""
    out = {}
    for key, default in declared.items():
        value = (given or {}).get(key, default) if given is not None else default
        if isinstance(default, Mapping) and default and isinstance(value, Mapping):
            value = merged(value, default)
        out[key] = value
    for key, value in (given or {}).items():
        if key not in out:
            out[key] = value
    return out


def prune(
    settings: Mapping | None, declared: Mapping, owner: str, why: str, keep: Iterable[str] = ()
) -> tuple[dict, str | None]:
    """Settings written for another component, cut to what ``owner`` declares.

    :return: ``(kept settings, note)``; the note (None when nothing was dropped) names the dropped keys.
    """
    keep = set(keep)
    settings = dict(settings or {})
    dropped = sorted(k for k in settings if k not in declared and k not in keep)
    if not dropped:
        return settings, None
    for key in dropped:
        settings.pop(key)
    return settings, f"{why}: dropped setting(s) {', '.join(dropped)} that {owner} does not declare"


def complete(name: str, config: dict, get, names, trainers: dict, source: str | None, origins: dict) -> dict:
    """Every setting of a resolved entry checked against its declaration, and the declared defaults filled in.

    ``get(kind, name)`` finds a component, ``names(kind)`` lists a kind's names, ``trainers`` is the
    ``defaults`` section of ``registry.yaml``; ``origins`` maps key paths to where they were set (``--set``).
    Components' value rules are checked here, once, before any work; the entry's own sections' (clips,
    trainers, preprocess, runtime) by :func:`benchmark.config.schema.validate_entry`, which runs first.
    """
    config = copy.deepcopy(config)
    config.setdefault("seed", 0)
    config.setdefault("device", "auto")
    steps = _Completion(name, get, names, source, origins)
    steps.dataset(config["dataset"])
    config["clips"] = steps.section("clips", config["clips"], CLIP_DEFAULTS, "clips")
    config["runtime"] = steps.runtime(config.get("runtime"))
    config["preprocess"] = steps.preprocess(dict(config.get("preprocess") or {}))
    steps.experts(config["experts"], trainers["expert_training"])
    config["expert_training"] = steps.section(
        "expert_training", config["expert_training"], trainers["expert_training"], "expert_training"
    )
    steps.spotter(config["spotter"], trainers["spotter"]["training"])
    steps.component("decoder", config["decoder"], "decoder")
    if config["spotter"]["training"]["select_decoder"] is not None:
        steps.find("decoder", config["spotter"]["training"]["select_decoder"], "spotter.training.select_decoder")
    for metric in config["metrics"]:
        steps.find("metric", metric, "metrics")
    return config


class _Completion:
    """The steps of :func:`complete`, sharing the entry's name, where its keys were set and the lookups."""

    def __init__(self, name: str, get, names, source: str | None, origins: dict):
        self.name, self.get, self.names, self.source, self.origins = name, get, names, source, origins

    def section(self, path: str, given, declared: Mapping, owner: str, component=None) -> dict:
        """``given`` checked (keys, types, and the component's value rules) and merged over ``declared``."""
        rules = component.value_rules() if hasattr(component, "value_rules") else None
        check(self.name, path, given, declared, owner, self.source, self.origins, rules)
        return merged(given, declared)

    def find(self, kind: str, name: str, path: str) -> Any:
        """The ``kind`` component ``name``, set at ``path``; an unknown name is an error naming that path."""
        try:
            return self.get(kind, name)
        except UnknownNameError as err:
            raise ConfigError(self.name, path, str(err), self.origins.get(path, self.source)) from None

    def component(self, kind: str, spec: dict, path: str, label: str = "") -> Any:
        """``spec["settings"]`` of the ``kind`` component ``spec["name"]`` (the section at ``path``) checked
        and completed."""
        found = self.find(kind, spec["name"], f"{path}.name")
        owner = f"{kind} {spec['name']!r}" + (f" ({label})" if label else "")
        spec["settings"] = self.section(f"{path}.settings", spec.get("settings"), found.declared(), owner, found)
        return found

    def dataset(self, ds: dict) -> None:
        self.component("dataset", ds, "dataset")

    def runtime(self, given) -> dict:
        from benchmark.runtime.accelerator import RUNTIME_DEFAULTS

        return self.section("runtime", given, RUNTIME_DEFAULTS, "runtime")

    def preprocess(self, pre: dict) -> dict:
        """The top-level keys over their defaults; every other key names a modality, its settings checked."""
        from benchmark.preprocessing.plan import PREPROCESS_DEFAULTS

        for key, value in list(pre.items()):
            if key in PREPROCESS_DEFAULTS:
                continue
            try:
                modality = self.get("modality", key)
            except UnknownNameError:
                known = list(PREPROCESS_DEFAULTS) + list(self.names("modality"))
                origin = self.origins.get(f"preprocess.{key}", self.source)
                raise unknown_key(self.name, f"preprocess.{key}", key, "preprocess", known, origin) from None
            pre[key] = self.section(f"preprocess.{key}", value, modality.declared(), f"modality {key!r}", modality)
        top = {k: v for k, v in pre.items() if k in PREPROCESS_DEFAULTS}
        return {
            **self.section("preprocess", top, PREPROCESS_DEFAULTS, "preprocess"),
            **{k: pre[k] for k in pre if k not in top},
        }

    def experts(self, experts: dict, expert_training: dict) -> None:
        """Each expert's settings completed, its modality named (the expert's own by default), and its training
        overlay checked against the trainer's keys and laid over the expert's ``training_defaults``."""
        for eid, spec in experts.items():
            expert = self.component("expert", spec, f"experts.{eid}", eid)
            spec["modality"] = spec.get("modality") or expert.modality
            self.find("modality", spec["modality"], f"experts.{eid}.modality")
            training = spec.get("training")
            check(
                self.name,
                f"experts.{eid}.training",
                training,
                expert_training,
                "expert_training",
                self.source,
                self.origins,
            )
            spec["training"] = {**dict(expert.training_defaults), **dict(training or {})}

    def spotter(self, spot: dict, training: dict) -> None:
        self.component("spotter", spot, "spotter")
        spot["training"] = self.section("spotter.training", spot.get("training"), training, "spotter.training")
