"""The structure of a benchmark entry (its sections, names and required keys) and its own sections' value rules.

What a component's *settings* may hold is the component's business (:mod:`benchmark.config.settings`); this
module checks what every entry has whatever its components: the top-level sections, the expert specs, the names,
and the values of the clips, preprocess, runtime and trainer sections (in the vocabulary of
:mod:`benchmark.config.rules`), so that even a registry without plugins (a test's) checks them.
"""

from __future__ import annotations

from benchmark.config.rules import each, optional, type_problem, value_problems
from benchmark.config.settings import CLIP_RULES, EXPERT_KEYS, PREPROCESS_RULES
from benchmark.errors import ConfigError, UnknownNameError

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

OPTIMIZERS = ("adam", "adamw", "sgd")

# The trainers' value rules, for expert_training, each expert's training overlay and spotter.training; their keys
# and types are those of registry.yaml's ``defaults`` section.
LOSS_RULES = {
    "classification": ("ce", "balanced", "focal"),
    "regression": ("diou", "iou", "l1", "none"),
    "regression_weight": ">=0",
    "clip_extent": ">=0",
    "focal_gamma": ">=0",
    "focal_alpha": optional("0<..<1"),
    "beta": "0..<1",
}
TRAINER_RULES = {
    "rounds": (1, 2),
    "epochs": "int>=1",
    "batch_size": "int>=1",
    "optimizer": OPTIMIZERS,
    "lr": ">=0",
    "weight_decay": ">=0",
    "momentum": ">=0",
    "milestones": each("int>=1"),
    "gamma": ">0",
    "input_size": "int>=1",
    "hflip": "0..1",
    "max_clips_per_epoch": optional("int>=1"),
    "extract_batch_size": "int>=1",
    "grad_clip": optional(">0"),
    "select": ("best", "last"),
    "seed": optional("int>=0"),
    "loss": LOSS_RULES,
}


def section_rules(config: dict) -> dict:
    """The value rules of the entry's own sections, nested as the entry is (an expert's training under its id)."""
    from benchmark.runtime.accelerator import RUNTIME_RULES

    return {
        "seed": "int>=0",
        "dataset": {"on_bad_annotation": ("fail", "clip")},
        "clips": CLIP_RULES,
        "preprocess": PREPROCESS_RULES,
        "runtime": RUNTIME_RULES,
        "experts": {eid: {"training": TRAINER_RULES} for eid in config.get("experts") or {}},
        "expert_training": TRAINER_RULES,
        "spotter": {"training": TRAINER_RULES},
    }


def _expect(entry: str, path: str, value, types, source=None) -> None:
    problem = type_problem(value, types)
    if problem:
        raise ConfigError(entry, path, problem, source)


def _unknown(entry: str, path: str, given, known, source) -> None:
    """An error for the first key of ``given`` outside ``known``."""
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise ConfigError(entry, f"{path}.{unknown[0]}", f"unknown key; expected {', '.join(known)}", source)


def validate_entry(entry: str, config: dict, source: str | None = None, resolved: bool = True) -> None:
    """The entry's structure (sections, names, required keys), then its own sections' value rules; raises
    :class:`ConfigError` for the first problem.  An overlay (``resolved=False``) is checked at the top only."""
    _check_top(entry, config, source, resolved)
    if not resolved:
        return
    for key in _REQUIRED:
        if key not in config:
            raise ConfigError(entry, key, "missing (required)", source)
    _check_dataset(entry, config["dataset"], source)
    for key in ("length", "stride", "pad_left"):
        if config["clips"].get(key) is not None:
            _expect(entry, f"clips.{key}", config["clips"][key], int, source)
    own = ((config.get("spotter") or {}).get("settings") or {}).get("modality")
    _check_experts(entry, config["experts"], source, query_spotter=bool(own))
    _expect(entry, "expert_training", config["expert_training"], dict, source)
    _check_spotter_decoder(entry, config, source)
    if not config["metrics"] or not all(isinstance(m, str) for m in config["metrics"]):
        raise ConfigError(
            entry, "metrics", f"expected a non-empty list of metric names, got {config['metrics']!r}", source
        )
    for path, message in value_problems(config, section_rules(config)):
        raise ConfigError(entry, path, message, source)


def _check_top(entry: str, config: dict, source, resolved: bool) -> None:
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


def _check_dataset(entry: str, ds: dict, source) -> None:
    _expect(entry, "dataset.name", ds.get("name"), str, source)
    if ds.get("path") is not None:
        _expect(entry, "dataset.path", ds["path"], str, source)
    _unknown(entry, "dataset", ds, ("name", "path", "settings", "on_bad_annotation"), source)
    _expect(entry, "dataset.settings", ds.get("settings", {}), dict, source)


def _check_experts(entry: str, experts: dict, source, query_spotter: bool = False) -> None:
    """At least one expert, unless the spotter reads a modality itself (``spotter.settings.modality``: a query
    spotter such as ``dtw``, which trains nothing)."""
    if not experts and not query_spotter:
        raise ConfigError(
            entry, "experts", "expected at least one expert (or a spotter reading spotter.settings.modality)", source
        )
    for eid, spec in experts.items():
        path = f"experts.{eid}"
        _expect(entry, path, spec, dict, source)
        _unknown(entry, path, spec, EXPERT_KEYS, source)
        _expect(entry, f"{path}.name", spec.get("name"), str, source)
        if spec.get("modality") is not None:
            _expect(entry, f"{path}.modality", spec["modality"], str, source)
        _expect(entry, f"{path}.settings", spec.get("settings") or {}, dict, source)
        _expect(entry, f"{path}.training", spec.get("training") or {}, dict, source)


def _check_spotter_decoder(entry: str, config: dict, source) -> None:
    for part, keys in (("spotter", ("name", "settings", "training")), ("decoder", ("name", "settings"))):
        _expect(entry, f"{part}.name", config[part].get("name"), str, source)
        _expect(entry, f"{part}.settings", config[part].get("settings") or {}, dict, source)
        _unknown(entry, part, config[part], keys, source)
    _expect(entry, "spotter.training", config["spotter"].get("training") or {}, dict, source)
