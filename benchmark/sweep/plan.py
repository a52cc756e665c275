"""Planning a sweep: every trial resolved and keyed, then the stage graph with each shared stage once.

Tasks, in dependency order: ``preprocess`` (one per dataset and preprocessing settings), ``expert`` (one per
distinct expert training + extraction), ``spotter`` (one per distinct spotter training), ``trial`` (decode and
score, tracked as the trial's run; every earlier stage is a cache hit by then).  A task runs with the
configuration of the first trial that needs it; stages already in the cache, and trials whose result is
stored from an earlier run of the same sweep, are not tasks at all.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path

from benchmark.config.entries import ResolvedBenchmark
from benchmark.errors import ConfigError
from benchmark.stages.data import open_dataset, run_data
from benchmark.stages.decode import decode_key
from benchmark.stages.experts import feature_key, train_key
from benchmark.stages.handoffs import RunData
from benchmark.stages.preprocess import input_keys, needed_modalities, preprocess_key
from benchmark.stages.spotter import spotter_key
from benchmark.storage.cache import StageCache, make_key
from benchmark.sweep.spec import Sweep, Trial

TRIAL_STORE = "sweep-trial"  # cache folder of finished trials' results


@dataclass
class Task:
    id: str
    kind: str  # preprocess | expert | spotter | trial
    name: str  # what it computes, for people: preprocess, expert:rgb, train-spotter, the trial's name
    key: str
    deps: list[str]
    trial: int  # the first trial that needs it: its configuration runs the task
    resolved: ResolvedBenchmark
    expert_id: str | None = None
    stages: list[str] = field(default_factory=list)  # the stage names it computes


@dataclass
class TrialPlan:
    trial: Trial
    resolved: ResolvedBenchmark
    key: str  # the stored result's key
    stages: list[tuple[str, str]]  # (stage name, task id or "cached") in run order
    stored: dict | None = None  # the result of an earlier run of the same sweep


@dataclass
class Plan:
    sweep: Sweep
    trials: list[TrialPlan]
    tasks: dict[str, Task]  # in dependency order

    @property
    def key(self) -> str:
        """Identifies the sweep's trials: a second run of the same sweep continues the same tracked run."""
        return make_key("sweep", self.sweep.name, [t.key for t in self.trials])

    def shares(self) -> dict[str, int]:
        return {
            kind: sum(1 for t in self.tasks.values() if t.kind == kind)
            for kind in ("preprocess", "expert", "spotter", "trial")
        }


def make_plan(
    sweep: Sweep, trials: list[Trial], resolve, components, cache: StageCache, *, progress: bool = True
) -> Plan:
    """``resolve(trial) -> ResolvedBenchmark`` (strict, before any work); keys computed without running."""
    resolved = []
    for trial in trials:
        try:
            resolved.append(resolve(trial))
        except ConfigError as exc:
            raise ConfigError(sweep.name, "grid", f"trial {trial.name}: {exc}", sweep.source) from None
    datasets: dict[str, RunData] = {}
    tasks: dict[str, Task] = {}
    plans = []
    for trial, res in zip(trials, resolved):
        ds_id = json.dumps(res.config["dataset"], sort_keys=True, default=str)
        if ds_id not in datasets:
            datasets[ds_id] = run_data(open_dataset(res.config, components, cache.root, progress=progress))
        plans.append(_plan_trial(trial, res, datasets[ds_id], components, cache, tasks))
    return Plan(sweep, plans, tasks)


class _Tasks:
    """Adds a trial's tasks to the plan, each once: ``add`` returns its id, or ``"cached"`` when it is done."""

    def __init__(self, tasks: dict[str, Task], trial: Trial, resolved: ResolvedBenchmark):
        self.tasks, self.trial, self.resolved = tasks, trial, resolved

    def add(
        self,
        kind: str,
        name: str,
        key: str,
        deps: list[str],
        done: bool,
        computes: list[str],
        expert_id: str | None = None,
    ) -> str:
        if done:
            return "cached"
        task_id = f"{kind}:{key}"
        if task_id not in self.tasks:
            self.tasks[task_id] = Task(
                task_id,
                kind,
                name,
                key,
                [d for d in deps if d != "cached"],
                self.trial.index,
                self.resolved,
                expert_id,
                computes,
            )
        return task_id


def _plan_trial(
    trial: Trial, res: ResolvedBenchmark, data: RunData, components, cache: StageCache, tasks: dict[str, Task]
) -> TrialPlan:
    config = res.config
    registry = components("modality")
    pre_key = preprocess_key(data, config, registry)
    inputs = input_keys(data, config, registry)
    experts = {}
    for eid, spec in config["experts"].items():
        expert = components("expert").get(spec["name"])
        trained = train_key(expert, inputs[spec["modality"]], data, config, eid)
        experts[eid] = (trained, feature_key(expert, trained, config, eid))
    spotter = components("spotter").get(config["spotter"]["name"])
    spot_key = spotter_key(spotter, data, [f for _, f in experts.values()], config, components)
    decoder = components("decoder").get(config["decoder"]["name"])
    key = make_key(TRIAL_STORE, decode_key(decoder, spot_key, data, config), config["metrics"])
    names = [
        "preprocess",
        *(f"{s}:{eid}" for eid in experts for s in ("train-expert", "extract-features")),
        "train-spotter",
        "decode",
        "score",
    ]
    stored = _stored(cache, key)
    if stored is not None:  # finished by an earlier run of the sweep: nothing to compute for it
        return TrialPlan(trial, res, key, [(name, "cached") for name in names], stored)
    add = _Tasks(tasks, trial, res).add
    pre_task = add(
        "preprocess", "preprocess", pre_key, [], _preprocessed(cache, pre_key, data, config, registry), ["preprocess"]
    )
    if pre_task != "cached":  # a shared folder: the task computes what every trial needs
        _widen(tasks[pre_task], config)
    stages = [("preprocess", pre_task)]
    expert_tasks = []
    for eid, (trained, features) in experts.items():
        done = cache.is_done("train-expert", trained) and cache.is_done("extract-features", features)
        expert_task = add(
            "expert",
            f"expert:{eid}",
            features,
            [pre_task],
            done,
            [f"train-expert:{eid}", f"extract-features:{eid}"],
            expert_id=eid,
        )
        stages += [(f"train-expert:{eid}", expert_task), (f"extract-features:{eid}", expert_task)]
        expert_tasks.append(expert_task)
    spot_task = add(
        "spotter",
        "train-spotter",
        spot_key,
        [pre_task, *expert_tasks],
        cache.is_done("train-spotter", spot_key),
        ["train-spotter"],
    )
    stages.append(("train-spotter", spot_task))
    trial_task = add("trial", trial.name, key, [spot_task], False, ["decode", "score"])
    stages += [("decode", trial_task), ("score", trial_task)]
    return TrialPlan(trial, res, key, stages, None)


def _stored(cache: StageCache, key: str) -> dict | None:
    if not cache.is_done(TRIAL_STORE, key):
        return None
    return cache.manifest(TRIAL_STORE, key).get("result")


def _preprocessed(cache: StageCache, key: str, data: RunData, config: dict, registry) -> bool:
    """Whether the shared preprocessing folder already holds every modality this trial needs for every video."""
    from benchmark.preprocessing.plan import modality_plan

    path = cache.path("preprocess", key) / "manifest.json"
    if not path.is_file():
        return False
    manifest = json.loads(path.read_text())
    names = set(modality_plan(needed_modalities(config), registry))
    index, skipped = manifest.get("videos", {}), manifest.get("skipped", {})
    return all(v.video_id in skipped or names <= set(index.get(v.video_id, {})) for v in data.all_videos())


def _widen(task: Task, config: dict) -> None:
    """The preprocess task computes the modalities of every trial sharing its folder: their experts' union."""
    if task.resolved.config is config:
        return
    merged = copy.deepcopy(task.resolved.config)
    for eid, spec in config["experts"].items():
        merged["experts"].setdefault(eid, spec)
    task.resolved = ResolvedBenchmark(
        task.resolved.name,
        task.resolved.version,
        task.resolved.profile,
        merged,
        task.resolved.source,
        task.resolved.profiles,
        task.resolved.notes,
    )


def describe(plan: Plan) -> str:
    """What ``--dry-run`` prints: each trial and, per stage, whether it computes it or reuses it."""
    first = {}
    for tp in plan.trials:
        for _, task_id in tp.stages:
            first.setdefault(task_id, tp.trial.index)
    lines = [
        f"sweep {plan.sweep.name}: {len(plan.trials)} trials of {plan.sweep.benchmark} "
        f"({', '.join(f'{n} {k}' for k, n in plan.shares().items())} tasks to run)"
    ]
    for tp in plan.trials:
        parts = []
        for name, task_id in tp.stages:
            if task_id == "cached":
                parts.append(f"{name}: reuse (cached)")
            elif first[task_id] == tp.trial.index:
                parts.append(f"{name}: compute")
            else:
                parts.append(f"{name}: reuse (trial {first[task_id]})")
        status = " [finished earlier: reused]" if tp.stored is not None else ""
        lines.append(f"  trial {tp.trial.index}: {tp.trial.name}{status}")
        lines.append("      " + "; ".join(parts))
    return "\n".join(lines)


def attribution(plan: Plan) -> dict[int, tuple[list[str], list[str]]]:
    """Per trial, ``(computed, reused)`` stage names: a stage computed by a shared task counts as computed by
    the first trial that needs it, and as reused by the others."""
    first: dict[str, int] = {}
    out = {}
    for tp in plan.trials:
        computed, reused = [], []
        for name, task_id in tp.stages:
            if task_id != "cached" and first.setdefault(task_id, tp.trial.index) == tp.trial.index:
                computed.append(name)
            else:
                reused.append(name)
        out[tp.trial.index] = (computed, reused)
    return out


def output_folder(cache: StageCache, sweep: Sweep) -> Path:
    import time

    stamp = time.strftime("%Y%m%d-%H%M%S")
    return cache.root / "runs" / f"{stamp}-sweep-{''.join(c if c.isalnum() or c in '-_' else '-' for c in sweep.name)}"
