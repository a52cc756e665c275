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
from benchmark.stages import graph
from benchmark.stages.data import open_run_data
from benchmark.stages.handoffs import RunData
from benchmark.stages.names import DECODE, EXPERT, PREPROCESS, SCORE, TRAIN_SPOTTER, per_expert
from benchmark.storage.cache import StageCache, make_key
from benchmark.sweep.spec import Sweep, Trial

TRIAL_STORE = "sweep-trial"  # cache folder of finished trials' results
# the task that computes each stage of the graph: the shared stages once per sweep, decode and score per trial
TASK_KINDS = {PREPROCESS: "preprocess", EXPERT: "expert", TRAIN_SPOTTER: "spotter", DECODE: "trial", SCORE: "trial"}


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
    until: str = SCORE  # the graph stage a worker walks up to (:func:`benchmark.stages.graph.walk`)


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
            kind: sum(1 for t in self.tasks.values() if t.kind == kind) for kind in dict.fromkeys(TASK_KINDS.values())
        }


def make_plan(
    sweep: Sweep, trials: list[Trial], resolve, components, cache: StageCache, *, progress: bool = True, echo=None
) -> Plan:
    """``resolve(trial) -> ResolvedBenchmark`` (strict, before any work); keys computed without running, the data
    opened (and its annotations checked) before any task starts."""
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
            datasets[ds_id] = open_run_data(res.config, components, cache.root, progress=progress, echo=echo)
        plans.append(_plan_trial(trial, res, datasets[ds_id], components, cache, tasks))
    return Plan(sweep, plans, tasks)


class _Tasks:
    """Adds a trial's tasks to the plan, each once: ``add`` returns its id, or ``"cached"`` when it is done."""

    def __init__(self, tasks: dict[str, Task], trial: Trial, resolved: ResolvedBenchmark):
        self.tasks, self.trial, self.resolved = tasks, trial, resolved

    def add(self, kind: str, name: str, key: str, deps: list[str], done: bool, steps: list[graph.Step]) -> str:
        if done:
            return "cached"
        task_id = f"{kind}:{key}"
        if task_id not in self.tasks:
            deps = list(dict.fromkeys(d for d in deps if d != "cached"))
            stage = steps[-1].stage
            computes = [s.name for s in steps]
            self.tasks[task_id] = Task(
                task_id, kind, name, key, deps, self.trial.index, self.resolved, steps[0].expert_id, computes, stage
            )
        return task_id


def _plan_trial(
    trial: Trial, res: ResolvedBenchmark, data: RunData, components, cache: StageCache, tasks: dict[str, Task]
) -> TrialPlan:
    """The trial's steps (from the graph) grouped into tasks: one per shared stage unit, one for the trial."""
    config = res.config
    steps = graph.steps(config, data, components)
    # the trial's label and seed too: another sweep's trial of the same configuration is not this one's row
    key = make_key(
        TRIAL_STORE, next(s.key for s in steps if s.name == DECODE), config["metrics"], trial.config, trial.seed
    )
    stored = _stored(cache, key)
    if stored is not None:  # finished by an earlier run of the sweep: nothing to compute for it
        return TrialPlan(trial, res, key, [(s.name, "cached") for s in steps], stored)
    add = _Tasks(tasks, trial, res).add
    task_of: dict[str, str] = {}  # step name -> task id
    for group in _groups(steps):
        kind, last = TASK_KINDS[group[0].stage], group[-1]
        deps = [task_of[n] for n in _upstream(group, steps)]
        if kind == "trial":
            task_id = add(kind, trial.name, key, deps, False, group)
        else:
            done = all(graph.is_done(cache, s, config, data, components) for s in group)
            name = per_expert(EXPERT, last.expert_id) if last.expert_id else last.stage
            task_id = add(kind, name, last.key, deps, done, group)
        if kind == "preprocess" and task_id != "cached":  # a shared folder: the task computes every trial's needs
            _widen(tasks[task_id], config)
        task_of.update({s.name: task_id for s in group})
    return TrialPlan(trial, res, key, [(s.name, task_of[s.name]) for s in steps], None)


def _groups(steps: list[graph.Step]) -> list[list[graph.Step]]:
    """Consecutive steps computed by one task: same task kind and same expert."""
    groups: list[list[graph.Step]] = []
    for step in steps:
        head = groups[-1][0] if groups else None
        if head and TASK_KINDS[head.stage] == TASK_KINDS[step.stage] and head.expert_id == step.expert_id:
            groups[-1].append(step)
        else:
            groups.append([step])
    return groups


def _upstream(group: list[graph.Step], steps: list[graph.Step]) -> list[str]:
    """The steps ``group`` reads, directly or through others (in run order, the group's own left out): a task
    waits for every task upstream, so no two workers compute the same shared stage."""
    by_name = {s.name: s for s in steps}
    seen: set[str] = set()
    todo = [n for s in group for n in s.needs]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(by_name[name].needs)
    own = {s.name for s in group}
    return [s.name for s in steps if s.name in seen and s.name not in own]


def _stored(cache: StageCache, key: str) -> dict | None:
    if not cache.is_done(TRIAL_STORE, key):
        return None
    return cache.manifest(TRIAL_STORE, key).get("result")


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
