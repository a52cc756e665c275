"""The structure of a benchmark entry: its sections, names and required keys, and the trainers' value rules.

What each section's *settings* may hold is the components' business (:mod:`benchmark.config.settings`); this module
checks what every entry has whatever its components: the top-level sections, the expert specs, the names.
"""

from __future__ import annotations

from benchmark.config.settings import EXPERT_KEYS
from benchmark.errors import ConfigError, UnknownNameError

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
    "runtime": dict,
    "spotter": dict,
    "decoder": dict,
    "metrics": list,
    "profiles": dict,
    "expected": dict,
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


# Value rules of the trainers' settings beyond their type: (lowest, highest, inclusive?) or a tuple of choices.
TRAINER_RULES = {
    "rounds": (1, 2),
    "epochs": ">=1",
    "batch_size": ">=1",
    "optimizer": _OPTIMIZERS,
    "lr": ">=0",
    "weight_decay": ">=0",
    "momentum": ">=0",
    "gamma": ">0",
    "input_size": ">=1",
    "hflip": "0..1",
    "max_clips_per_epoch": ">=1",
    "extract_batch_size": ">=1",
    "grad_clip": ">0",
    "select": ("best", "last"),
}
LOSS_RULES = {
    "classification": ("ce", "balanced", "focal"),
    "regression": ("diou", "iou", "l1", "none"),
    "regression_weight": ">=0",
    "clip_extent": ">=0",
    "focal_gamma": ">=0",
    "focal_alpha": "0<..<1",
    "beta": "0..<1",
}


def rule_problem(value, rule) -> str | None:
    """Why ``value`` breaks ``rule`` (None when it keeps it, or when it is None: the default applies)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(rule, tuple):
        return None if value in rule else f"expected one of {', '.join(map(str, rule))}, got {value!r}"
    if not isinstance(value, (int, float)):
        return None  # the type check names that
    checks = {
        ">=1": (value >= 1, "a positive integer" if isinstance(value, int) else ">= 1"),
        ">=0": (value >= 0, ">= 0"),
        ">0": (value > 0, "> 0"),
        "0..1": (0 <= value <= 1, "between 0 and 1"),
        "0<..<1": (0 < value < 1, "strictly between 0 and 1 (or null)"),
        "0..<1": (0 <= value < 1, ">= 0 and < 1"),
    }
    ok, expected = checks[rule]
    return None if ok else f"expected {expected}, got {value!r}"


def _check_training(entry, path, training, source):
    """Values the trainers need beyond their type (the types are checked against the defaults)."""
    _expect(entry, path, training, dict, source)
    for key in ("epochs", "batch_size"):
        value = training.get(key)
        if key in training and not (isinstance(value, int) and not isinstance(value, bool)):
            raise ConfigError(
                entry, f"{path}.{key}", f"expected an integer, got {type(value).__name__} {value!r}", source
            )
    for rules, where, values in ((TRAINER_RULES, path, training), (LOSS_RULES, f"{path}.loss", training.get("loss"))):
        for key, rule in rules.items():
            problem = rule_problem((values or {}).get(key), rule) if isinstance(values, dict) else None
            if problem:
                raise ConfigError(entry, f"{where}.{key}", problem, source)
    milestones = training.get("milestones")
    if milestones is not None and not (
        isinstance(milestones, list)
        and all(isinstance(m, int) and not isinstance(m, bool) and m >= 1 for m in milestones)
    ):
        raise ConfigError(entry, f"{path}.milestones", f"expected a list of epochs >= 1, got {milestones!r}", source)


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
    unknown = set(ds) - {"name", "path", "settings", "on_bad_annotation"}
    if unknown:
        raise ConfigError(
            entry,
            f"dataset.{sorted(unknown)[0]}",
            "unknown key; expected name, path, settings, on_bad_annotation",
            source,
        )
    if ds.get("on_bad_annotation", "fail") not in ("fail", "clip"):
        raise ConfigError(
            entry, "dataset.on_bad_annotation", f"expected fail or clip, got {ds['on_bad_annotation']!r}", source
        )
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
