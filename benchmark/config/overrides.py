"""What ``bench run`` (and ``bench sweep``) change on top of an entry: ``--set`` and ad-hoc component swaps.

Decisions written down:

* ``--expert NAME`` replaces the experts.  Experts of the entry that use plugin ``NAME`` are kept with their
  settings (``--expert i3d`` keeps both I3D experts of the reference); another name gets an expert of its own
  with the plugin's default modality (``NAME:MODALITY`` chooses one).
* ``--spotter`` / ``--decoder`` replace the name and keep the entry's settings that the new component
  declares (spotters share the size keys, decoders the post-filters); the others are dropped with a note.
* ``--data PATH`` selects the ``chalearn-mssl`` dataset unless ``--dataset`` names another; the settings of
  a replaced dataset are pruned the same way.
* ``--set`` applies after the swaps, so it can tune a swapped-in component
  (``--set experts.x3d.settings.width=small``); its keys are checked strictly against the component in use.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from benchmark.config.settings import prune
from benchmark.errors import ConfigError


@dataclass(frozen=True)
class Swaps:
    """Ad-hoc replacements of an entry's components (``bench run --expert/--spotter/--decoder/--data``)."""

    experts: tuple[str, ...] = ()
    spotter: str | None = None
    decoder: str | None = None
    dataset: str | None = None
    data_path: str | None = None

    @property
    def components(self) -> bool:
        """Whether a component is swapped (the run is then named after what it runs)."""
        return bool(self.experts or self.spotter or self.decoder)


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


def apply_sets(config: dict, assignments: Iterable[str]) -> tuple[dict, list[str]]:
    """``config`` with each ``key.path=value`` applied (``null`` deletes); also returns the paths set."""
    out = copy.deepcopy(config)
    paths = []
    for assignment in assignments:
        path, value = parse_set(assignment)
        paths.append(".".join(path))
        node = out
        for part in path[:-1]:
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        if value is None:
            node.pop(path[-1], None)
        else:
            node[path[-1]] = value
    return out, paths


def apply_swaps(config: dict, swaps: Swaps, component: Callable[[str, str], Any], notes: list[str]) -> dict:
    """``config`` with the swaps applied; ``component(kind, name)`` looks a component up (unknown names raise)."""
    config = copy.deepcopy(config)
    if swaps.experts:
        new = {}
        for item in swaps.experts:
            name, _, modality = item.partition(":")
            component("expert", name)  # unknown name -> error listing what exists
            kept = {
                eid: spec
                for eid, spec in config["experts"].items()
                if spec["name"] == name and (not modality or spec.get("modality") == modality)
            }
            if not kept:
                kept = {name if not modality else f"{name}-{modality}": {"name": name, "modality": modality or None}}
            for eid, spec in kept.items():
                new[eid if eid not in new else f"{eid}-{len(new)}"] = spec
        config["experts"] = new
    for kind, name in (("spotter", swaps.spotter), ("decoder", swaps.decoder)):
        if name:
            replace_component(config, kind, name, component, notes, f"--{kind} {name}")
    if swaps.dataset or swaps.data_path:
        name = swaps.dataset or "chalearn-mssl"
        if name != config["dataset"]["name"]:
            replace_component(config, "dataset", name, component, notes, f"dataset {name}")
            config["dataset"]["path"] = None
        if swaps.data_path:
            config["dataset"]["path"] = str(Path(swaps.data_path).expanduser().resolve())
    return config


def replace_component(
    section_owner: dict,
    kind: str,
    name: str,
    component: Callable[[str, str], Any],
    notes: list[str],
    why: str,
    key: str | None = None,
) -> None:
    """Put component ``name`` in ``section_owner[key or kind]``, pruning the old one's settings it does not declare."""
    key = key or kind
    section = section_owner.setdefault(key, {})
    new = component(kind, name)
    old = section.get("name")
    section["name"] = name
    if old == name:
        return
    kept, note = prune(section.get("settings"), new.declared(), f"{kind} {name!r}", f"{why} replaces {old!r}")
    section["settings"] = kept
    if note:
        notes.append(note)


MAX_RUN_NAME = 200  # MLflow shows run names in one table cell: past this, "..." (the description has it all)


def differences(overrides: Overrides, config: dict, entry_seed: int | None = None) -> list[str]:
    """What a command line changed on its entry, short, in the order it applies: swapped components
    (``experts=i3d+p3d``, ``spotter=tcn``, ``decoder=argmax``, ``dataset=elan``), each ``--set`` as given, and
    ``seed=N`` when it is not the entry's (``entry_seed``; None: whenever ``--seed`` was given)."""
    swaps, out = overrides.swaps, []
    if swaps.experts:
        out.append("experts=" + "+".join(dict.fromkeys(spec["name"] for spec in config["experts"].values())))
    out += [f"{kind}={config[kind]['name']}" for kind in ("spotter", "decoder") if getattr(swaps, kind)]
    if swaps.dataset or swaps.data_path:
        out.append(f"dataset={config['dataset']['name']}")
    out += [s.strip() for s in overrides.sets]
    if overrides.seed is not None and int(overrides.seed) != entry_seed:
        out.append(f"seed={int(overrides.seed)}")
    return out


def adhoc_run_name(base: str, profile: str | None, changed: Iterable[str] = ()) -> str:
    """``reference-mssl [cpu] spotter=tcn seed=3``: the entry, its profile, then what differs from it.

    What differs comes right after the entry so runs of one experiment tell apart at a glance.
    """
    name = " ".join([base + (f" [{profile}]" if profile else ""), *changed])
    return name if len(name) <= MAX_RUN_NAME else name[: MAX_RUN_NAME - 3] + "..."


@dataclass
class Overrides:
    """Everything a command line changes on an entry, in the order it applies: swaps, then ``--set``, seed."""

    swaps: Swaps = field(default_factory=Swaps)
    sets: tuple[str, ...] = ()
    seed: int | None = None
