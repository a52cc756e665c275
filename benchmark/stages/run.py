"""``bench run``: from command-line options to a resolved entry and a :class:`benchmark.stages.pipeline.Pipeline` run.

No ``--profile``: on a GPU the entry runs as written (the paper's settings); otherwise its ``cpu`` profile is
used when it has one, and one line says so.  Everything is resolved and checked (names, settings, values)
before any work starts.  Swaps and ``--set`` are described in :mod:`benchmark.config.overrides`.
"""

from __future__ import annotations

from collections.abc import Callable

from benchmark.config.overrides import Overrides, Swaps, adhoc_run_name, differences
from benchmark.errors import BenchError, Terminated
from benchmark.storage.cache import StageCache


def resolve_run(
    registry,
    name: str,
    *,
    profile=None,
    sets=(),
    seed=None,
    device=None,
    swaps: Swaps | None = None,
    echo: Callable[[str], None] = print,
):
    """The resolved entry a ``bench run`` will execute, and the device and profile it chose."""
    from benchmark.runtime.torch_setup import check_device, choose_device

    if device is not None:
        check_device(device)  # a typo fails here, before torch is imported or anything resolved
    swaps = swaps if swaps is not None else Swaps()
    overrides = Overrides(swaps=swaps, sets=tuple(sets), seed=seed)
    entry = registry.resolve(name, overrides=overrides)  # the name first (did-you-mean), its device and profiles
    device = choose_device(device or entry.config.get("device", "auto"))
    if profile is None and device == "cpu" and "cpu" in entry.profiles:
        profile = "cpu"
        echo(f"No GPU found: using the `cpu` profile of {name} (smaller sizes and epochs; --profile to choose).")
    resolved = registry.resolve(name, profile, overrides=overrides)
    resolved.config["device"] = device
    from benchmark.runtime.accelerator import runtime

    runtime(device, resolved.config.get("runtime"))  # e.g. fp16 asked of a CPU: said now, not after preprocessing
    for note in resolved.notes:
        echo(f"note: {note}")
    return resolved, device, profile


def run_benchmark(
    *,
    registry,
    name: str,
    profile=None,
    sets=(),
    seed=None,
    device=None,
    swaps: Swaps | None = None,
    workers=None,
    threads=None,
    run_name=None,
    cache_dir=None,
    progress=True,
    echo: Callable[[str], None] = print,
    manager=None,
    track: bool = True,
    allow_untracked: bool = False,
    devices=(),
) -> dict:
    from benchmark.plugins import get_plugin_manager
    from benchmark.stages.pipeline import Pipeline

    pm = manager or get_plugin_manager()
    swaps = swaps if swaps is not None else Swaps()
    devices = check_devices(devices)
    if devices and device is None:
        device = devices[0]  # the spotter, decoding and anything not spread runs on the first
    resolved, device, profile = resolve_run(
        registry, name, profile=profile, sets=sets, seed=seed, device=device, swaps=swaps, echo=echo
    )
    cache = StageCache(cache_dir)
    cache.check_writable()
    track = check_tracking(pm, track, allow_untracked, echo)
    base_seed = entry_seed(registry, name, profile) if seed is not None else None
    changed = differences(Overrides(swaps, tuple(sets), seed), resolved.config, base_seed)
    run_name = run_name or adhoc_run_name(name, profile, changed)
    _announce(name, profile, device, resolved.config["seed"], threads, echo)
    pipeline = Pipeline(
        resolved,
        pm,
        cache,
        device=device,
        run_name=run_name,
        workers=workers,
        threads=threads,
        progress=progress,
        track=track,
        overrides=changed,
        devices=devices,
    )
    summary = _run(pipeline)
    if not expectation_applies(resolved.config, entry_dataset(registry, name, profile)):
        summary["expectation"] = summary["within_expectation"] = None
    return summary


def _announce(name: str, profile, device: str, seed, threads, echo: Callable[[str], None]) -> None:
    """One line saying what runs where; without ``--threads``, a warning when other processes keep the cores
    this run would take busy."""
    echo(f"bench run {name}" + (f" --profile {profile}" if profile else "") + f" on {device}, seed {seed}")
    if threads is None:
        warning = load_warning(*measure_load())
        if warning:
            echo(warning)


def _run(pipeline) -> dict:
    """Run the pipeline; Ctrl-C becomes a one-line error saying how to resume (a SIGTERM stays ``Terminated``,
    which the command line turns into its own exit code)."""
    try:
        return pipeline.run()
    except Terminated:
        raise
    except KeyboardInterrupt:
        raise BenchError("interrupted: finished stages are cached; run the same command again to resume") from None


def entry_dataset(registry, name: str, profile: str | None) -> dict | None:
    """The dataset section the entry runs with when nothing is overridden (None if it cannot be resolved alone)."""
    try:
        return registry.resolve(name, profile).config.get("dataset")
    except Exception:  # only the expected-F1 line depends on it: then it is not printed
        return None


def expectation_applies(config: dict, default_dataset: dict | None) -> bool:
    """Whether the entry's ``expected:`` F1 says anything about this run: those numbers were measured on the
    entry's own dataset as the entry (and its profile) configures it, so the run's dataset name, path and
    settings must all be the entry's own.  ``--data``, ``--dataset`` or any ``--set dataset.*`` that changes them
    (a real corpus, more synthetic videos) makes the comparison meaningless, and the line is left out."""
    if not default_dataset:
        return False
    ours = config.get("dataset") or {}
    return all(ours.get(k) == default_dataset.get(k) for k in ("name", "path", "settings"))


def measure_load(interval: float = 0.2) -> tuple[float, float, int]:
    """``(busy cores of the whole machine, busy cores of this process and its children, usable cores)`` over
    ``interval`` seconds (psutil; a short sample, the run's start costs that much)."""
    import time

    import psutil

    from benchmark.runtime.cpus import available_cores

    def own() -> float:
        me = psutil.Process()
        t = me.cpu_times()
        return t.user + t.system + t.children_user + t.children_system

    before_all, before_own, t0 = psutil.cpu_times(), own(), time.perf_counter()
    time.sleep(interval)
    after_all, after_own, wall = psutil.cpu_times(), own(), time.perf_counter() - t0
    busy = sum(after_all) - sum(before_all) - (after_all.idle - before_all.idle)
    busy -= getattr(after_all, "iowait", 0.0) - getattr(before_all, "iowait", 0.0)
    return max(busy, 0.0) / wall, max(after_own - before_own, 0.0) / wall, available_cores()


def load_warning(busy_cores: float, own_cores: float, cores: int, threshold: float = 0.8) -> str | None:
    """One warning when other processes already keep more than about one core busy (``threshold`` cores): torch
    and OpenCV threads fighting over the same cores make a run many times slower (two runs sharing 2 cores ran
    20x slower), so it suggests ``--threads`` for the cores left."""
    others = max(busy_cores - own_cores, 0.0)
    if others <= threshold:
        return None
    free = max(1, int(cores - others + 0.5))
    return (
        f"warning: other processes keep about {others:.1f} of the {cores} cores busy; this run's threads would "
        f"compete with them and run many times slower: wait for them, or run with --threads {free}"
    )


def check_devices(devices) -> list[str]:
    """``--devices cuda:0,cuda:1``: each one a device this machine has (``cpu`` may repeat: CPU machines test the
    path with ``cpu,cpu``), before any work."""
    from benchmark.runtime.torch_setup import check_device, choose_device

    names = [d.strip() for item in devices or () for d in str(item).split(",") if d.strip()]
    for name in names:
        check_device(name)
    if not names:
        return []
    if "auto" in names:
        raise BenchError("--devices takes explicit devices (cpu, cuda:0, cuda:1 ...), not auto")
    chosen = [choose_device(name) for name in names]
    repeated = sorted({d for d in chosen if d != "cpu" and chosen.count(d) > 1})
    if repeated:
        raise BenchError(f"--devices names {repeated[0]} twice: give each GPU once (cuda:0,cuda:1)")
    return chosen


def entry_seed(registry, name: str, profile: str | None) -> int | None:
    """The seed the entry runs with when no ``--seed`` is given (None if it cannot be resolved alone)."""
    try:
        return int(registry.resolve(name, profile).config["seed"])
    except Exception:  # only the run name depends on it: `seed=N` is then always shown
        return None


def check_tracking(pm, track: bool, allow_untracked: bool, echo: Callable[[str], None]) -> bool:
    """Whether to track: trackers are asked first (``tracking_problem``) so an unreachable server stops the run
    in seconds, not after it; ``--allow-untracked`` goes on untracked, ``--no-track`` does not ask."""
    if not track:
        return False
    problems = [p for p in pm.collect("tracking_problem") if p]
    if not problems:
        return True
    if allow_untracked:
        for problem in problems:
            echo(f"warning: {problem}; going on untracked (--allow-untracked)")
        return False
    raise BenchError("; ".join(problems))
