"""From ``bench sweep`` options to a checked plan and its run (or, with ``--dry-run``, its description).

Everything is checked before any work: the sweep or benchmark name, every trial's settings (as ``bench run``
checks them), the axes, and where the workers can reach the cache and the tracking store.  Joining a Ray
cluster (``--address``) needs a cache every node mounts (``--cache-shared``) and a tracking store every node
reaches (``MLFLOW_TRACKING_URI`` = an ``mlflow server`` or a database server): a local path, a ``file:`` or a
``sqlite:`` store is refused.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace

from benchmark.config.overrides import Swaps
from benchmark.errors import BenchError, UnknownNameError
from benchmark.storage.cache import StageCache
from benchmark.sweep.spec import Sweep, check_axes, parse_grid, parse_seeds, trials


@dataclass(frozen=True)
class SweepOptions:
    name: str
    grids: tuple[str, ...] = ()
    seeds: str | None = None
    seed_scope: str | None = None
    profile: str | None = None
    sets: tuple[str, ...] = ()
    data_path: str | None = None
    dataset: str | None = None
    device: str | None = None
    executor: str = "local"
    jobs: int = 1
    address: str | None = None
    cpus_per_trial: float | None = None
    gpus_per_trial: float = 0.0
    cache_shared: bool = False
    progress: bool = True


def choose_sweep(registry, options: SweepOptions) -> Sweep:
    """A declared sweep (``--grid``/``--seeds`` adjust it), or an ad-hoc one over a benchmark entry."""
    grid = parse_grid(list(options.grids))
    seeds = parse_seeds(options.seeds) if options.seeds else None
    if options.name in registry.sweeps:
        sweep = registry.sweeps[options.name]
        sweep = replace(
            sweep,
            grid={**sweep.grid, **grid},
            seeds=seeds or sweep.seeds,
            seed_scope=options.seed_scope or sweep.seed_scope,
            profile=options.profile or sweep.profile,
        )
    elif options.name in registry:
        if not grid and not seeds:
            raise BenchError(
                f"{options.name} is a benchmark, not a sweep: give its axes with --grid AXIS=V1,V2 "
                f"and/or --seeds 0,1,2 (declared sweeps: {', '.join(registry.sweeps) or 'none'})"
            )
        axes = " ".join(f"{a}={','.join(map(str, v))}" for a, v in grid.items())
        seeds = seeds or (0,)
        sweep = Sweep(
            f"{options.name} {axes} seeds={','.join(map(str, seeds))}".replace("  ", " "),
            options.name,
            grid,
            seeds,
            options.seed_scope or "spotter",
            options.profile,
            "ad-hoc sweep",
        )
    else:
        raise UnknownNameError("sweep or benchmark", options.name, list(registry.sweeps) + registry.names())
    if sweep.benchmark not in registry:
        raise UnknownNameError("benchmark", sweep.benchmark, registry.names(), hint=f"(the base of sweep {sweep.name})")
    return sweep


def check_cluster(options: SweepOptions) -> None:
    """Refuse, before any work, a multi-node run whose workers could not reach the cache or the tracking store."""
    if options.executor != "ray" or not options.address:
        return
    if not options.cache_shared:
        raise BenchError(
            "--address joins a Ray cluster whose nodes must all read and write the same cache: put it "
            "on storage every node mounts (--cache-dir /shared/signspot-cache or $SIGNSPOT_CACHE_DIR) "
            "and pass --cache-shared"
        )
    uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    if not uri or uri.startswith(("file:", "sqlite:", "/", ".")) or "://" not in uri:
        raise BenchError(
            f"--address needs a tracking store every node reaches, but MLFLOW_TRACKING_URI is "
            f"{uri or 'unset (a local mlflow.db)'}: start `mlflow server --host 0.0.0.0` and set "
            "MLFLOW_TRACKING_URI=http://<host>:5000 (or a database server URI)"
        )


def sweep_main(
    registry, options: SweepOptions, *, cache_dir=None, dry_run: bool = False, echo: Callable[[str], None] = print
):
    """Resolve the sweep and its trials (before any work), plan its tasks, then run them on the executor."""
    from benchmark.config.overrides import Overrides
    from benchmark.plugins import get_plugin_manager
    from benchmark.stages.base import say
    from benchmark.stages.run import check_tracking
    from benchmark.sweep.plan import describe, make_plan

    pm = get_plugin_manager()
    sweep = choose_sweep(registry, options)
    check_cluster(options)
    base_swaps = Swaps(dataset=options.dataset, data_path=options.data_path)
    entry = registry.resolve(sweep.benchmark, overrides=Overrides(swaps=base_swaps, sets=options.sets))
    device = _device(options, entry)
    profile = sweep.profile
    if profile is None and device == "cpu" and "cpu" in entry.profiles:
        profile = "cpu"
        echo(f"No GPU found: using the `cpu` profile of {sweep.benchmark} (--profile to choose).")
    sweep = replace(sweep, profile=profile)
    base = registry.resolve(sweep.benchmark, profile, overrides=Overrides(swaps=base_swaps, sets=options.sets))
    check_axes(sweep, base.config, pm.components)
    cache = StageCache(cache_dir)
    cache.check_writable()
    check_tracking(pm, True, False, echo)  # a sweep's trials are its tracked child runs: a reachable tracker first

    def resolve(trial):
        o = trial.overrides
        swaps = replace(o.swaps, dataset=options.dataset, data_path=options.data_path)
        resolved = registry.resolve(sweep.benchmark, profile, overrides=Overrides(swaps, o.sets, o.seed))
        resolved.config["device"] = device
        return resolved

    planned = trials(sweep, base.config, options.sets)
    plan = make_plan(sweep, planned, resolve, pm.components, cache, progress=options.progress, echo=say)
    if dry_run:
        return describe(plan)
    return _run(plan, options, pm, cache, device, echo)


def _device(options: SweepOptions, entry) -> str:
    """The trials' device: chosen here for a local sweep; a cluster's workers choose their own (``auto``)."""
    if options.executor != "local":
        return options.device or "auto"
    from benchmark.runtime.torch_setup import choose_device

    return choose_device(options.device or entry.config.get("device", "auto"))


def _run(plan, options: SweepOptions, pm, cache: StageCache, device: str, echo):
    from benchmark.runtime.cpus import available_cores
    from benchmark.sweep.executors import LocalExecutor
    from benchmark.sweep.run import run_sweep, task_env

    if not plan.tasks:  # everything finished earlier: nothing to start (no pool, no cluster)
        cpus, executor = 1, LocalExecutor(1)
    elif options.executor == "ray":
        from benchmark.sweep.executors import RayExecutor

        cpus = options.cpus_per_trial or 1.0
        executor = RayExecutor(options.address, cpus, options.gpus_per_trial)
    else:
        cpus = options.cpus_per_trial or max(1, available_cores() // options.jobs)
        executor = LocalExecutor(options.jobs)
    env = task_env(pm, cache, device, max(1, int(cpus)))
    shares = plan.shares()
    echo(
        f"sweep {plan.sweep.name}: {len(plan.trials)} trials on {executor.name} ({device}); tasks: "
        + ", ".join(f"{n} {k}" for k, n in shares.items())
    )
    return run_sweep(plan, executor, env, pm, cache, progress=options.progress)
