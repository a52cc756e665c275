"""Strict settings, one policy for every section of an entry.

What a section may hold is declared once: a component's ``declared()`` settings (its ``defaults`` plus its
kind's shared keys), the trainers' ``defaults`` section of ``registry.yaml``, the preprocessing top-level keys
and the clip keys.  Against that declaration:

* an unknown key is an error naming the key, the component and the closest known key;
* a value whose type differs from its default's is an error naming the key (a ``None`` default takes
  anything; a number default takes a number, an integer default an integer; a text default takes text
  or an integer, as ``width: small | 32`` does; a list default a list; a mapping default is checked key by
  key);
* settings inherited from a component that was replaced (``extends``, ``--spotter``, a profile written
  for another component) are pruned instead: keys the new component does not declare are dropped, with a
  one-line note.

Nothing here imports a component's module beyond its torch-free class, so a misspelled key fails in
seconds, before any work starts.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from benchmark.errors import ConfigError, UnknownNameError

CLIP_DEFAULTS = {"length": 8, "stride": 8, "pad_left": None}
PREPROCESS_RULES = {"workers": ">=0", "on_bad_video": ("fail", "skip"), "frame_buffer_mb": ">0", "fps": ">0"}
EXPERT_KEYS = ("name", "modality", "settings", "training")


def closest(key: str, known: Iterable[str]) -> str | None:
    """The known key a misspelling most likely meant (by similarity, else the longest shared prefix)."""
    known = [str(k) for k in known]
    found = difflib.get_close_matches(str(key), known, n=1, cutoff=0.5)
    if found:
        return found[0]
    prefixed = [k for k in known if str(key).startswith(k) or k.startswith(str(key))]
    return max(prefixed, key=len) if prefixed else None


def unknown_key(entry: str, path: str, key: str, owner: str, known: Iterable[str], source: str | None) -> ConfigError:
    known = sorted(str(k) for k in known)
    hint = closest(key, known)
    message = f"unknown setting {key!r} of {owner}"
    message += f"; did you mean {hint!r}?" if hint else "."
    message += f" Known: {', '.join(known) if known else '(none)'}"
    return ConfigError(entry, path, message, source)


def _type_error(value: Any, default: Any) -> str | None:
    """Why ``value`` cannot stand where ``default`` does, or None when it can."""
    if default is None:
        return None
    if isinstance(default, bool):
        return None if isinstance(value, bool) else f"expected true or false (like the default {default!r})"
    if isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
        return None if ok else f"expected an integer (like the default {default!r})"
    if isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return None if ok else f"expected a number (like the default {default!r})"
    if isinstance(default, str):
        ok = isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))
        return None if ok else f"expected a string (like the default {default!r})"
    if isinstance(default, (list, tuple)):
        return None if isinstance(value, list) else f"expected a list (like the default {list(default)!r})"
    if isinstance(default, Mapping):
        return None if isinstance(value, Mapping) else "expected a mapping"
    return None


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
    """Every key of ``given`` is declared, typed like its default (mappings recursively) and keeps its value
    rule (:attr:`benchmark.interfaces.Configurable.rules`).

    ``sources`` maps dotted key paths to where they were set (``--set``), so the error says where to fix it.
    """
    from benchmark.config.schema import rule_problem

    if given is None:
        return
    if not isinstance(given, Mapping):
        raise ConfigError(entry, path, f"expected a mapping, got {type(given).__name__} {given!r}", source)
    for key, value in given.items():
        where = f"{path}.{key}" if path else str(key)
        origin = (sources or {}).get(where, source)
        if key not in declared:
            raise unknown_key(entry, where, key, owner, declared, origin)
        default = declared[key]
        if value is None:
            continue
        problem = _type_error(value, default)
        if problem:
            raise ConfigError(entry, where, f"{problem}, got {type(value).__name__} {value!r}", origin)
        problem = rule_problem(value, (rules or {})[key]) if key in (rules or {}) else None
        if problem:
            raise ConfigError(entry, where, f"{problem} ({owner})", origin)
        if isinstance(default, Mapping) and default:
            check(entry, where, value, default, owner, source, sources)


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
    """
    from benchmark.preprocessing.plan import PREPROCESS_DEFAULTS

    config = copy.deepcopy(config)
    config.setdefault("seed", 0)
    config.setdefault("device", "auto")

    def section(path: str, given, declared: dict, owner: str, component=None) -> dict:
        rules = component.value_rules() if component is not None and hasattr(component, "value_rules") else None
        check(name, path, given, declared, owner, source, origins, rules)
        return merged(given, declared)

    ds = config["dataset"]
    dataset = get("dataset", ds["name"])
    ds["settings"] = section(
        "dataset.settings", ds.get("settings"), dataset.declared(), f"dataset {ds['name']!r}", dataset
    )
    config["clips"] = section("clips", config["clips"], CLIP_DEFAULTS, "clips")
    from benchmark.runtime.accelerator import RUNTIME_DEFAULTS, RUNTIME_RULES

    check(name, "runtime", config.get("runtime"), RUNTIME_DEFAULTS, "runtime", source, origins, RUNTIME_RULES)
    config["runtime"] = merged(config.get("runtime"), RUNTIME_DEFAULTS)
    modalities = {}
    pre = dict(config.get("preprocess") or {})
    for key, value in list(pre.items()):
        if key in PREPROCESS_DEFAULTS:
            continue
        try:
            modalities[key] = get("modality", key)
        except UnknownNameError:
            known = list(PREPROCESS_DEFAULTS) + list(names("modality"))
            raise unknown_key(
                name, f"preprocess.{key}", key, "preprocess", known, origins.get(f"preprocess.{key}", source)
            ) from None
        pre[key] = section(f"preprocess.{key}", value, modalities[key].declared(), f"modality {key!r}", modalities[key])
    top = {k: v for k, v in pre.items() if k in PREPROCESS_DEFAULTS}
    check(name, "preprocess", top, PREPROCESS_DEFAULTS, "preprocess", source, origins, PREPROCESS_RULES)
    config["preprocess"] = {**merged(top, PREPROCESS_DEFAULTS), **{k: v for k, v in pre.items() if k not in top}}
    expert_training = trainers["expert_training"]
    for eid, spec in config["experts"].items():
        expert = get("expert", spec["name"])
        spec["modality"] = spec.get("modality") or expert.modality
        get("modality", spec["modality"])
        spec["settings"] = section(
            f"experts.{eid}.settings",
            spec.get("settings"),
            expert.declared(),
            f"expert {spec['name']!r} ({eid})",
            expert,
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
        "spotter.settings", spot.get("settings"), spotter.declared(), f"spotter {spot['name']!r}", spotter
    )
    spot["training"] = section(
        "spotter.training", spot.get("training"), trainers["spotter"]["training"], "spotter.training"
    )
    dec = config["decoder"]
    decoder = get("decoder", dec["name"])
    dec["settings"] = section(
        "decoder.settings", dec.get("settings"), decoder.declared(), f"decoder {dec['name']!r}", decoder
    )
    if spot["training"]["select_decoder"] is not None:
        get("decoder", spot["training"]["select_decoder"])
    for metric in config["metrics"]:
        get("metric", metric)
    return config
