"""From ``bench run`` options to a resolved configuration and a :class:`benchmark.pipeline.Pipeline` run.

Decisions written down:

* No ``--profile``: on a GPU the entry runs as written (the paper's settings); otherwise its ``cpu`` profile is
  used when it has one, and one line says so.
* ``--expert NAME`` replaces the experts.  Experts of the entry that use plugin ``NAME`` are kept with their
  settings (``--expert i3d`` keeps both I3D experts of the reference); another name gets an expert of its own
  with the plugin's default modality (``NAME:MODALITY`` chooses one).  ``--spotter``/``--decoder`` replace
  the name and keep the entry's settings and training: spotters share the size keys (``reduce_dims``,
  ``hidden``, ``head_dim``, ``dropout``) and decoders the post-filters, and each ignores keys it does not
  use, so a profile's sizes apply to whichever spotter runs.
* ``--set`` applies after the swap, so it can tune an ad-hoc expert (``--set experts.x3d.settings.width=small``).
* ``--data PATH`` selects the ``chalearn-mssl`` dataset unless ``--dataset`` names another.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Callable

from benchmark.cache import StageCache
from benchmark.entries import validate_entry
from benchmark.errors import BenchError


def apply_adhoc(config: dict, pm, experts=(), spotter=None, decoder=None, dataset_name=None, data_path=None) -> dict:
    config = copy.deepcopy(config)
    if experts:
        registry = pm.components("expert")
        new = {}
        for item in experts:
            name, _, modality = item.partition(":")
            registry.get(name)  # unknown name -> error listing what exists
            kept = {eid: spec for eid, spec in config["experts"].items()
                    if spec["name"] == name and (not modality or spec.get("modality") == modality)}
            if not kept:
                kept = {name if not modality else f"{name}-{modality}": {"name": name, "modality": modality or None}}
            for eid, spec in kept.items():
                new[eid if eid not in new else f"{eid}-{len(new)}"] = spec
        config["experts"] = new
    if spotter:
        pm.components("spotter").get(spotter)
        config["spotter"]["name"] = spotter
    if decoder:
        pm.components("decoder").get(decoder)
        config["decoder"]["name"] = decoder
    if dataset_name or data_path:
        name = dataset_name or "chalearn-mssl"
        pm.components("dataset").get(name)
        if name != config["dataset"]["name"]:
            config["dataset"] = {"name": name, "path": None, "settings": {}}
        if data_path:
            config["dataset"]["path"] = str(Path(data_path).expanduser().resolve())
    return config


def adhoc_run_name(base: str, config: dict, profile: str | None) -> str:
    experts = "+".join(dict.fromkeys(spec["name"] for spec in config["experts"].values()))
    name = f"{base}: {experts} / {config['spotter']['name']} / {config['decoder']['name']}"
    return name + (f" [{profile}]" if profile else "")


def run_benchmark(*, registry, name: str, profile=None, sets=(), seed=None, device=None, data_path=None,
                  dataset_name=None, experts=(), spotter=None, decoder=None, workers=None, run_name=None,
                  cache_dir=None, progress=True, echo: Callable[[str], None] = print, manager=None) -> dict:
    from benchmark.pipeline import Pipeline
    from benchmark.torch_setup import resolve_device
    from benchmark.plugins import get_plugin_manager

    pm = manager or get_plugin_manager()
    entry = registry.resolve(name)  # validates the name first (did-you-mean)
    requested_device = device or entry.config.get("device", "auto")
    device = resolve_device(requested_device)
    if profile is None and device == "cpu" and "cpu" in entry.profiles:
        profile = "cpu"
        echo(f"No GPU found: using the `cpu` profile of {name} (smaller sizes and epochs; --profile to choose).")
    from benchmark.entries import apply_sets

    resolved = registry.resolve(name, profile)
    adhoc = bool(experts or spotter or decoder)
    resolved.config = apply_adhoc(resolved.config, pm, experts, spotter, decoder, dataset_name, data_path)
    resolved.config = apply_sets(resolved.config, sets)  # after the ad-hoc swap, so --set can tune new parts
    if seed is not None:
        resolved.config["seed"] = int(seed)
    resolved.config["device"] = device
    validate_entry(name, resolved.config, resolved.source)
    if not run_name:
        run_name = adhoc_run_name(name, resolved.config, profile) if adhoc else None
    echo(f"bench run {name}" + (f" --profile {profile}" if profile else "") + f" on {device}, seed {resolved.config.get('seed', 0)}")
    pipeline = Pipeline(resolved, pm, StageCache(cache_dir), device=device, run_name=run_name,
                        data_path=resolved.config["dataset"].get("path"), workers=workers, progress=progress)
    try:
        return pipeline.run()
    except KeyboardInterrupt:
        raise BenchError("interrupted: finished stages are cached; run the same command again to resume") from None
