"""A sweep: a base benchmark entry, a grid of axes and seeds, expanded into trials.

An axis is a component choice or any dotted setting of the entry:

* ``spotter: [conv-bilstm, tcn]``, ``decoder: [vote, argmax]`` swap the component by name, as ``bench run
  --spotter`` does (settings the new one does not declare are dropped);
* ``experts: [[rgb, skeleton], [skeleton]]`` keeps only those expert ids of the base entry;
* ``spotter.training.lr: [1.0e-4, 1.0e-3]`` (anything ``--set`` takes) sets that key.

``seeds`` vary the spotter's seed (``spotter.training.seed``) by default, so every seed shares the expert
features; ``seed_scope: run`` varies the whole run's seed, which re-trains the experts per seed.  A decoder
axis also fixes ``spotter.training.select_decoder`` to the base entry's decoder, so trials that differ only in
their decoder share one trained spotter (its epoch is chosen with the base decoder).

Each kind of axis is one :class:`Axis` subclass in :data:`AXIS_KINDS` (how its ``--grid`` values parse, how
they are checked, what they change in a trial, how the table shows them): a new kind is one more class there.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, ClassVar

import yaml

from benchmark.config.overrides import Overrides, Swaps
from benchmark.config.settings import closest
from benchmark.errors import ConfigError

SEED_SCOPES = ("spotter", "run")
SWEEP_KEYS = ("description", "benchmark", "profile", "grid", "seeds", "seed_scope")


@dataclass(frozen=True)
class Sweep:
    name: str
    benchmark: str
    grid: dict[str, list]
    seeds: tuple[int, ...] = (0,)
    seed_scope: str = "spotter"
    profile: str | None = None
    description: str = ""
    source: str | None = None


@dataclass(frozen=True)
class Trial:
    """One grid point with one seed."""

    index: int
    values: dict[str, Any]  # axis -> value
    seed: int
    overrides: Overrides = field(compare=False)

    @property
    def config(self) -> str:
        """The configuration, as the table shows it: ``spotter=tcn decoder=vote`` (the seed apart)."""
        return " ".join(f"{axis}={axis_for(axis).label(value)}" for axis, value in self.values.items()) or "base"

    @property
    def name(self) -> str:
        return f"{self.config} seed={self.seed}"


def _show(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "+".join(str(v) for v in value)
    return str(value)


@dataclass
class Draft:
    """A trial's overrides while its axes add to them: swaps by kind, ``--set`` lines, and lines set after all
    axes (so an axis can fix a key that another axis's own lines must not override)."""

    swaps: dict[str, str] = field(default_factory=dict)  # Swaps field -> name
    sets: list[str] = field(default_factory=list)
    last: list[str] = field(default_factory=list)


class Axis:
    """One kind of axis; an instance is one axis of a grid (``name``)."""

    names: ClassVar[tuple[str, ...]] = ()  # the axis names this kind takes (the catch-all kind takes any other)

    def __init__(self, name: str):
        self.name = name

    @classmethod
    def claims(cls, name: str) -> bool:
        return name in cls.names

    def parse(self, item: str) -> Any:
        """One value of ``--grid AXIS=V1,V2``, parsed as YAML."""
        return yaml.safe_load(item) if item else ""

    def check(self, sweep: Sweep, values: list, base: dict, components) -> None:
        """Refuse, before any work, a value the base entry or the component registries do not know."""

    def apply(self, value: Any, base: dict, draft: Draft) -> None:
        """Add what ``value`` changes to the trial's overrides."""
        raise NotImplementedError

    def label(self, value: Any) -> str:
        """The value as the table, the trial's name and its tags show it."""
        return _show(value)


class SpotterAxis(Axis):
    """``spotter: [conv-bilstm, tcn]`` swaps the component by name, as ``bench run --spotter`` does."""

    names = ("spotter",)

    def check(self, sweep, values, base, components) -> None:
        for value in values:
            components(self.name).get(str(value))  # unknown name -> did-you-mean

    def apply(self, value, base, draft) -> None:
        draft.swaps[self.name] = str(value)


class DecoderAxis(SpotterAxis):
    """``decoder: [vote, argmax]`` swaps the decoder; the spotter's epoch is still chosen with the base entry's
    decoder, so trials that differ only in their decoder share one trained spotter."""

    names = ("decoder",)

    def apply(self, value, base, draft) -> None:
        super().apply(value, base, draft)
        draft.last.append(f"spotter.training.select_decoder={base['decoder']['name']}")


class ExpertsAxis(Axis):
    """``experts: [[rgb, skeleton], [skeleton]]`` keeps only those expert ids of the base entry (``--grid
    experts=rgb+skeleton,skeleton``)."""

    names = ("experts",)

    def parse(self, item: str) -> list[str]:
        return [e for e in item.split("+") if e]

    def check(self, sweep, values, base, components) -> None:
        for value in values:
            keep = [value] if isinstance(value, str) else value
            if not isinstance(keep, list) or not keep:
                raise ConfigError(
                    sweep.name, "grid.experts", f"expected lists of expert ids, got {value!r}", sweep.source
                )
            for eid in keep:
                if eid not in base["experts"]:
                    hint = closest(eid, base["experts"])
                    raise ConfigError(
                        sweep.name,
                        "grid.experts",
                        f"unknown expert id {eid!r} of benchmark "
                        f"{sweep.benchmark!r}{f'; did you mean {hint!r}?' if hint else ''} "
                        f"Expert ids: {', '.join(base['experts'])}",
                        sweep.source,
                    )

    def apply(self, value, base, draft) -> None:
        keep = [value] if isinstance(value, str) else list(value)
        draft.sets += [f"experts.{eid}=null" for eid in base["experts"] if eid not in keep]


class SettingAxis(Axis):
    """``spotter.training.lr: [1.0e-4, 1.0e-3]``: any dotted key ``--set`` takes (checked like ``--set`` when each
    trial is resolved).  The catch-all: an undotted name no other kind takes is an unknown axis."""

    @classmethod
    def claims(cls, name: str) -> bool:
        return True

    def check(self, sweep, values, base, components) -> None:
        if "." in self.name:
            return
        known = list(COMPONENT_AXES) + [k for k, v in base.items() if not isinstance(v, dict)]
        hint = closest(self.name, known + [f"{k}." for k, v in base.items() if isinstance(v, dict)])
        raise ConfigError(
            sweep.name,
            f"grid.{self.name}",
            f"unknown axis {self.name!r}"
            + (f"; did you mean {hint!r}?" if hint else "")
            + f" An axis is {', '.join(COMPONENT_AXES)} or a dotted setting such as "
            "spotter.training.lr",
            sweep.source,
        )

    def apply(self, value, base, draft) -> None:
        draft.sets.append(f"{self.name}={_yaml_value(value)}")


AXIS_KINDS: tuple[type[Axis], ...] = (SpotterAxis, DecoderAxis, ExpertsAxis, SettingAxis)  # first that claims wins
COMPONENT_AXES = tuple(name for kind in AXIS_KINDS for name in kind.names)


def axis_for(name: str) -> Axis:
    """The axis ``name`` of a grid, as the first kind of :data:`AXIS_KINDS` that claims it."""
    return next(kind for kind in AXIS_KINDS if kind.claims(name))(name)


def check_sweep(name: str, spec: Any, source: str | None = None) -> Sweep:
    """A sweep entry of a registry file (structure only; axes are checked against the entry when planned)."""
    if not isinstance(spec, dict):
        raise ConfigError(name, "", f"a sweep must be a mapping, got {type(spec).__name__}", source)
    for key in spec:
        if key not in SWEEP_KEYS:
            hint = closest(key, SWEEP_KEYS)
            raise ConfigError(
                name,
                key,
                f"unknown sweep key{f' (did you mean {hint!r}?)' if hint else ''}; expected {', '.join(SWEEP_KEYS)}",
                source,
            )
    if not isinstance(spec.get("benchmark"), str):
        raise ConfigError(name, "benchmark", "expected the name of the benchmark entry to sweep", source)
    grid = spec.get("grid") or {}
    if not isinstance(grid, dict):
        raise ConfigError(name, "grid", f"expected a mapping of axis -> list of values, got {grid!r}", source)
    for axis, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(name, f"grid.{axis}", f"expected a non-empty list of values, got {values!r}", source)
    seeds = spec.get("seeds", [0])
    if not isinstance(seeds, list) or not seeds or not all(type(s) is int for s in seeds):
        raise ConfigError(name, "seeds", f"expected a non-empty list of integers, got {seeds!r}", source)
    scope = spec.get("seed_scope", "spotter")
    if scope not in SEED_SCOPES:
        raise ConfigError(name, "seed_scope", f"expected one of {', '.join(SEED_SCOPES)}, got {scope!r}", source)
    profile = spec.get("profile")
    if profile is not None and not isinstance(profile, str):
        raise ConfigError(name, "profile", f"expected a profile name or null, got {profile!r}", source)
    return Sweep(
        name,
        spec["benchmark"],
        {str(k): list(v) for k, v in grid.items()},
        tuple(seeds),
        scope,
        profile,
        str(spec.get("description") or "").strip(),
        source,
    )


def parse_grid(options: list[str]) -> dict[str, list]:
    """``--grid spotter=conv-bilstm,tcn --grid spotter.training.lr=1e-4,1e-3`` -> axes; values parsed as YAML,
    ``+`` joins expert ids (``--grid experts=rgb+skeleton,skeleton``)."""
    grid: dict[str, list] = {}
    for option in options:
        axis, sep, raw = option.partition("=")
        axis = axis.strip()
        if not sep or not axis or not raw.strip():
            raise ConfigError("--grid", option, "expected AXIS=VALUE,VALUE (e.g. spotter=conv-bilstm,tcn)")
        kind = axis_for(axis)
        values = [kind.parse(item.strip()) for item in raw.split(",")]
        grid[axis] = values
    return grid


def parse_seeds(text: str) -> tuple[int, ...]:
    try:
        seeds = tuple(int(s) for s in str(text).split(",") if s.strip())
    except ValueError:
        raise ConfigError("--seeds", text, "expected comma-separated integers, e.g. 0,1,2") from None
    if not seeds:
        raise ConfigError("--seeds", text, "expected at least one seed")
    return seeds


def trials(sweep: Sweep, base_config: dict, sets: tuple[str, ...] = ()) -> list[Trial]:
    """Every grid point x every seed, in grid order (seeds innermost).  ``sets`` apply to every trial first."""
    axes = list(sweep.grid)
    out = []
    for point in itertools.product(*(sweep.grid[a] for a in axes)):
        values = dict(zip(axes, point))
        for seed in sweep.seeds:
            out.append(Trial(len(out), values, seed, _overrides(sweep, base_config, values, seed, sets)))
    return out


def _overrides(sweep: Sweep, base: dict, values: dict, seed: int, sets: tuple[str, ...]) -> Overrides:
    draft = Draft(sets=list(sets))
    for axis, value in values.items():
        axis_for(axis).apply(value, base, draft)
    trial_sets = draft.sets + draft.last
    swaps = Swaps(**draft.swaps)
    if sweep.seed_scope == "spotter":
        trial_sets.append(f"spotter.training.seed={seed}")
        return Overrides(swaps, tuple(trial_sets))
    return Overrides(swaps, tuple(trial_sets), seed)


def _yaml_value(value: Any) -> str:
    """``value`` as ``--set`` reads it back (one line of YAML)."""
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


def check_axes(sweep: Sweep, base: dict, components) -> None:
    """Every axis names a component axis or a setting the entry has; every value is known.  Errors name the
    closest axis; a dotted axis is checked like ``--set`` when each trial is resolved."""
    for axis, values in sweep.grid.items():
        axis_for(axis).check(sweep, values, base, components)
