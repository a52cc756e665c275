"""Running a planned sweep: tasks in dependency order on an executor, results stored, the table tracked.

A task starts when every task it depends on has finished; one that fails fails only what depends on it (those
trials are recorded FAILED in MLflow with the error).  A finished trial's result is stored in the cache, so the
same sweep run again computes nothing for it.  Ctrl-C or a signal cancels what runs and ends the sweep's run
KILLED or FAILED; runs of workers that were killed are closed by the next ``bench`` start (see the tracker).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

from benchmark.stages.base import RunContext, SweepContext
from benchmark.stages.names import SCORE
from benchmark.storage.cache import StageCache
from benchmark.sweep.plan import TRIAL_STORE, Plan, TrialPlan, attribution, output_folder
from benchmark.sweep.results import table, write_results
from benchmark.sweep.spec import axis_for
from benchmark.sweep.tasks import TaskEnv


@dataclass
class SweepResult:
    run_id: str | None
    links: dict
    trials: list[dict]
    table: list[dict]
    output_dir: Path
    seconds: float


def trial_tags(tp: TrialPlan, sweep_name: str) -> tuple[dict, dict]:
    """The trial's axis values as tags and params (``sweep.<axis>``), plus its seed, index and sweep."""
    values = {f"sweep.{axis}": axis_for(axis).label(v) for axis, v in tp.trial.values.items()}
    tags = {
        **values,
        "sweep.seed": str(tp.trial.seed),
        "sweep.trial": str(tp.trial.index),
        "sweep.name": sweep_name,
        "sweep.config": tp.trial.config,
    }
    return tags, {**values, "sweep.seed": str(tp.trial.seed)}


def run_sweep(plan: Plan, executor, env: TaskEnv, pm, cache: StageCache, *, progress: bool = True) -> SweepResult:
    start = time.perf_counter()
    sweep = plan.sweep
    out = output_folder(cache, sweep)
    context = SweepContext(
        sweep.name,
        sweep.benchmark,
        sweep.profile,
        sweep.grid,
        list(sweep.seeds),
        sweep.seed_scope,
        plan.key,
        len(plan.trials),
        out,
        sweep.description,
    )
    pm.notify("sweep_started", sweep=context)
    env = replace(env, parent_run_id=context.run_id, sweep=sweep.name)
    results: dict[str, dict] = {}
    try:
        _schedule(plan, executor, env, results, progress)
    except BaseException as exc:
        pm.notify("sweep_failed", sweep=context, error=exc)
        raise
    finally:
        executor.shutdown(cancel=True)
    trials = _trial_rows(plan, results, cache, pm, context)
    rows = table(trials)
    for trial in trials:  # stored with the trial; too long for its printed and tracked records
        trial.pop("counts", None)
    meta = {
        "name": sweep.name,
        "benchmark": sweep.benchmark,
        "profile": sweep.profile,
        "grid": sweep.grid,
        "seeds": list(sweep.seeds),
        "seed_scope": sweep.seed_scope,
        "sweep_run_id": context.run_id,
        "key": plan.key,
    }
    artifacts = write_results(out, rows, trials, meta)
    pm.notify("sweep_finished", sweep=context, table=rows, artifacts=artifacts)
    return SweepResult(context.run_id, dict(context.links), trials, rows, out, time.perf_counter() - start)


def _schedule(plan: Plan, executor, env: TaskEnv, results: dict, progress: bool) -> None:
    from benchmark.runtime.progress import bar as progress_bar

    tasks = plan.tasks
    tags = {tp.key: trial_tags(tp, plan.sweep.name) for tp in plan.trials}
    pending = list(tasks)
    running: dict = {}  # handle -> task id
    done_trials = sum(tp.stored is not None for tp in plan.trials)
    bar = progress_bar(
        desc=f"sweep {plan.sweep.name}",
        unit="trial",
        total=len(plan.trials),
        initial=done_trials,
        enabled=progress,
        leave=True,  # a whole command's work: the bar stays (runtime/progress.py)
    )
    try:
        while pending or running:
            for task_id in list(pending):
                task = tasks[task_id]
                failed = [d for d in task.deps if d in results and results[d]["status"] != "FINISHED"]
                if failed:
                    results[task_id] = {
                        "status": "FAILED",
                        "error": f"{tasks[failed[0]].name} failed: {results[failed[0]].get('error')}",
                        "computed": [],
                        "reused": [],
                        "dependency": True,
                    }
                    pending.remove(task_id)
                    bar.update(task.kind == "trial")
                    continue
                if all(d in results for d in task.deps) and (
                    executor.capacity is None or len(running) < executor.capacity
                ):
                    t_tags, t_params = tags.get(task.key, (None, None)) if task.kind == "trial" else (None, None)
                    running[executor.submit(task, env, t_tags, t_params)] = task_id
                    pending.remove(task_id)
            bar.set_postfix_str(", ".join(tasks[t].name for t in running.values())[:80], refresh=True)
            if not running:
                continue
            for handle in executor.wait(list(running)):
                task_id = running.pop(handle)
                results[task_id] = executor.result(handle)
                if tasks[task_id].kind == "trial":
                    bar.update(1)
    except BaseException:
        if hasattr(executor, "ray"):
            executor.shutdown(cancel=True, handles=list(running))
        raise
    finally:
        bar.close()


def _trial_rows(plan: Plan, results: dict, cache: StageCache, pm, context: SweepContext) -> list[dict]:
    """One record per trial (``config, seed, f1, status, run_id, computed, reused``...); finished trials are
    stored so a rerun reuses them, failed ones that never started a run get a FAILED run of their own."""
    credit = attribution(plan)
    rows = []
    for tp in plan.trials:
        trial = tp.trial
        if tp.stored is not None:
            rows.append({**tp.stored, "computed": [], "reused": [name for name, _ in tp.stages]})
            continue
        task_id = dict(tp.stages)[SCORE]
        result = results.get(task_id, {"status": "FAILED", "error": "not run", "computed": [], "reused": []})
        computed, reused = credit[trial.index]
        if result["status"] != "FINISHED":
            failure = next(
                (
                    results[t]
                    for _, t in tp.stages
                    if t in results and results[t]["status"] != "FINISHED" and not results[t].get("dependency")
                ),
                result,
            )
            result = {**result, "error": failure.get("error")}
            if result.get("dependency") or (result.get("run_id") is None and task_id not in results):
                result["run_id"] = _record_failure(tp, result["error"], pm, context)
            computed = []
        summary = result.get("summary") or {}
        # what the trial cost: its own run, plus the shared tasks it was the first to need
        shared = {t for name, t in tp.stages if name in computed and t != task_id and t in results}
        seconds = float(summary.get("seconds", result.get("seconds") or 0.0))
        seconds += sum(float(results[t].get("seconds") or 0.0) for t in shared)
        row = {
            "trial": trial.index,
            "config": trial.config,
            "values": trial.values,
            "seed": trial.seed,
            "f1": summary.get("f1"),
            "f1_ci": [summary["f1_ci_low"], summary["f1_ci_high"]] if "f1_ci_low" in summary else None,
            "counts": result.get("counts"),  # per video [tp, fp, fn]: the table's intervals (dropped from output)
            "val_f1": summary.get("val_f1"),
            "map": summary.get("tal-map.map"),
            "precision": summary.get("precision"),
            "recall": summary.get("recall"),
            "seconds": seconds,
            "status": result["status"],
            "run_id": result.get("run_id"),
            "node": result.get("node"),
            "error": result.get("error"),
            "computed": computed,
            "reused": reused,
        }
        if result["status"] == "FINISHED":
            cache.run(TRIAL_STORE, tp.key, lambda folder, row=row: {"result": row})
        rows.append(row)
    return rows


def _record_failure(tp: TrialPlan, error: str, pm, context: SweepContext) -> str | None:
    """A trial that could not start (a stage it depends on failed) is still a FAILED child run with the error."""
    res = tp.resolved
    tags, params = trial_tags(tp, context.name)
    c = res.config
    run = RunContext(
        res.name,
        res.version,
        res.profile,
        c,
        f"{context.name}: {tp.trial.name}",
        int(c["seed"]),
        str(c.get("device", "cpu")),
        {
            "spotter": c["spotter"]["name"],
            "decoder": c["decoder"]["name"],
            "experts": [f"{s['name']}:{e}" for e, s in c["experts"].items()],
            "dataset": c["dataset"]["name"],
        },
        [],
        None,
        None,
        context.output_dir,
        context.output_dir,
        parent_run_id=context.run_id,
        tags=tags,
        params=params,
    )
    pm.notify("run_started", run=run)
    pm.notify("run_failed", run=run, error=RuntimeError(error))
    return run.run_id


def task_env(pm, cache: StageCache, device: str, threads: int) -> TaskEnv:
    """What every worker gets: the plugin selection, and the variables trackers need to reach their store from
    another process or node (``task_environment`` hook)."""
    environ = {k: os.environ[k] for k in ("SIGNSPOT_PLUGINS", "SIGNSPOT_CACHE_DIR") if k in os.environ}
    for values in pm.collect("task_environment"):
        environ.update({str(k): str(v) for k, v in (values or {}).items()})
    return TaskEnv(str(cache.root), device, threads, environ)
