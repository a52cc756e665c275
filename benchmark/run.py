"""``bench run``: from command-line options to a resolved entry and a :class:`benchmark.pipeline.Pipeline` run.

No ``--profile``: on a GPU the entry runs as written (the paper's settings); otherwise its ``cpu`` profile is
used when it has one, and one line says so.  Everything is resolved and checked (names, settings, values)
before any work starts.  Swaps and ``--set`` are described in :mod:`benchmark.overrides`.
"""

from __future__ import annotations

from collections.abc import Callable

from benchmark.cache import StageCache
from benchmark.errors import BenchError, Terminated
from benchmark.overrides import Overrides, Swaps, adhoc_run_name, differences


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
    from benchmark.torch_setup import check_device, choose_device

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
    from benchmark.accelerator import runtime

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
    from benchmark.pipeline import Pipeline
    from benchmark.plugins import get_plugin_manager

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
    echo(
        f"bench run {name}"
        + (f" --profile {profile}" if profile else "")
        + f" on {device}, seed {resolved.config['seed']}"
    )
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
    try:
        return pipeline.run()
    except Terminated:
        raise
    except KeyboardInterrupt:
        raise BenchError("interrupted: finished stages are cached; run the same command again to resume") from None


def check_devices(devices) -> list[str]:
    """``--devices cuda:0,cuda:1``: each one a device this machine has (``cpu`` may repeat: CPU machines test the
    path with ``cpu,cpu``), before any work."""
    from benchmark.torch_setup import check_device, choose_device

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
