"""What ``bench perf`` measures, side by side in one process so ratios are meaningful on a noisy machine.

Every row has ``what``, ``value`` and ``unit`` (the printed table) and ``part``; the experts' and the spotter's
rows carry their details too (clips/s, FLOPs, fraction of peak, memory).  The last figures of each part are
kept per device kind under the cache (``<cache>/perf/figures-<cpu|cuda>.json``), where ``bench doctor`` reads
them to estimate how long ``bench run`` takes here.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


@dataclasses.dataclass(frozen=True)
class Options:
    """How the parts run: ``sizes`` of the experts (None: ``default_sizes``), ``experts`` measured (any
    registered; None: the built-in ones), ``peak_tflops`` overriding the peak table, ``entry`` that ``scale`` runs."""

    quick: bool = False
    device: str = "cpu"
    sizes: tuple[str, ...] | None = None
    experts: tuple[str, ...] | None = None
    peak_tflops: float | None = None
    entry: str = "reference-mssl"


def default_sizes(device: str, quick: bool) -> tuple[str, ...]:
    """The expert sizes measured when none are named: the test sizes with ``--quick``; on a GPU the paper's
    and the ``cpu`` profile's; on a CPU the ``cpu`` profile's only (the paper's take minutes a step there)."""
    if quick:
        return ("tiny",)
    return ("reference", "cpu") if str(device).startswith("cuda") else ("cpu",)


def measure(
    parts: set[str], quick: bool = False, echo: Callable[[str], None] = print, options: Options | None = None
) -> list[dict]:
    options = options or Options(quick=quick)
    rows: list[dict] = []
    for part, (message, measure_part) in MEASURES.items():
        if ("all" in parts and part != "scale") or part in parts:  # scale runs whole pipelines: only when named
            echo(f"measuring {message} ...")
            rows += [{"part": part, **r} for r in measure_part(options)]
    return rows


def _preprocess(options: Options) -> list[dict]:
    """Frames/s per modality with 1 worker and with all cores, on as many videos as cores (a worker takes a
    video: fewer videos than cores would leave cores idle), at the ``cpu`` profile's settings."""
    from benchmark.datasets.synthetic import generate
    from benchmark.perf.preprocess import measure_preprocess
    from benchmark.plugins import get_plugin_manager
    from benchmark.runtime.cpus import available_cores

    settings = get_plugin_manager().components("benchmark").resolve("reference-mssl", "cpu").config["preprocess"]
    settings = {**settings, "pose": {**settings.get("pose", {}), "model_complexity": 1}}
    modalities = get_plugin_manager().components("modality")
    with tempfile.TemporaryDirectory(prefix="signspot-perf-") as tmp:
        from benchmark.datasets.chalearn import ChalearnMSSL

        quick = options.quick
        n = max(2, min(available_cores(), 8 if quick else 16))
        root = generate(
            Path(tmp) / "data",
            videos=max(3, n),
            classes=3,
            signers=1,
            seconds=4 if quick else 12,
            seed=0,
            progress=False,
        )
        dataset = ChalearnMSSL(root)
        videos = [v for s in dataset.splits() for v in dataset.videos(s)][:n]
        # time MediaPipe too: drop the exact .pose files the synthetic data ships
        videos = [dataclasses.replace(v, pose_path=None) for v in videos]
        mods = {m: modalities.get(m) for m in ("pose", "rgb-crop", "rgb-hands", "flow-tvl1", "skeleton")}
        rows = measure_preprocess(videos, mods, settings, workers_list=(1, 0), out_dir=Path(tmp) / "out")
    out = []
    for r in rows:
        variant = f"{r['workers']} worker{'s' if r['workers'] > 1 else ''}"
        out.append(
            {
                "what": f"preprocess {r['modality']} ({variant})",
                "value": r["fps"],
                "unit": "frames/s",
                "item": r["modality"],
                "variant": variant,
                "workers": r["workers"],
                "videos": n,
                "frames": r["frames"],
                "seconds": r["seconds"],
            }
        )
    one = {r["item"]: r["value"] for r in out if r["workers"] == 1}
    for r in out:  # the all-cores rows: their speed-up over one worker (side_by_side prints it too)
        if r["workers"] > 1 and one.get(r["item"]):
            r["speed_up"] = round(r["value"] / one[r["item"]], 3)
    return out


def side_by_side(rows: list[dict]) -> str:
    """The rows that have ``item`` and ``variant`` (preprocessing: modality x workers) as one table, a
    column per variant and the speed-up of the last over the first; empty when there are none."""
    rows = [r for r in rows if "item" in r and "variant" in r]
    if not rows:
        return ""
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    items = list(dict.fromkeys(r["item"] for r in rows))
    value = {(r["item"], r["variant"]): r["value"] for r in rows}
    unit = rows[0]["unit"]
    head = f"{unit:<14}" + "".join(f"{v:>12}" for v in variants) + (f"{'speed-up':>10}" if len(variants) > 1 else "")
    lines = [head]
    for item in items:
        vals = [value.get((item, v), float("nan")) for v in variants]
        line = f"{item:<14}" + "".join(f"{x:>12.2f}" for x in vals)
        if len(variants) > 1:
            line += f"{vals[-1] / vals[0]:>9.2f}x" if vals[0] else f"{'-':>10}"
        lines.append(line)
    return "\n".join(lines)


def _experts(options: Options) -> list[dict]:
    from benchmark.perf.experts import measure_experts

    cuda = options.device.startswith("cuda")
    steps, warmup = (2, 1) if options.quick else ((10, 3) if cuda else (3, 2))  # a GPU step is short: time more
    rows = []
    for size in options.sizes or default_sizes(options.device, options.quick):
        rows += measure_experts(
            options.experts,
            size=size,
            device=options.device,
            steps=steps,
            warmup=warmup,
            peak_tflops=options.peak_tflops,
        )
    return [
        {
            "what": f"expert {r['expert']} {r['phase']} ({r['size']}, batch {r['batch']})",
            "value": r["clips_per_s"],
            "unit": "clips/s",
            **r,
        }
        for r in rows
    ]


def _spotter(options: Options) -> list[dict]:
    """Training clips/s of each built-in spotter that trains (the registry's, in registration order; query
    spotters train nothing) on 6400-d features."""
    from benchmark.perf.memory import peak, reset_peak
    from benchmark.perf.spotters import measure_training
    from benchmark.plugins import get_plugin_manager
    from benchmark.queries import QuerySpotter

    rows, dim, quick = [], 6400, options.quick
    pm = get_plugin_manager()
    trained = [n for n in pm.builtin_names("spotter") if not isinstance(pm.components("spotter").get(n), QuerySpotter)]
    for name in trained:
        reset_peak(options.device)
        cps = measure_training(
            name, feature_dim=dim, clips_per_video=100 if quick else 400, steps=2 if quick else 3, device=options.device
        )
        rows.append(
            {
                "what": f"spotter {name} training ({dim}-d)",
                "value": cps,
                "unit": "clips/s",
                "spotter": name,
                "feature_dim": dim,
                "clips_per_s": round(cps, 2),
                "device": options.device,
                **peak(options.device),
            }
        )
    return rows


def _decode(options: Options) -> list[dict]:
    from benchmark.perf.spotters import measure_decode

    hours = 10.0 if options.quick else 100.0
    d = measure_decode(hours=hours, details=True)
    return [
        {"what": f"vote decode {hours:g} h of clips", "value": d["decode_s"], "unit": "s"},
        {"what": f"official score of {d['predictions']} segments", "value": d["score_s"], "unit": "s"},
        {
            "what": f"decode + score {hours:g} h ({d['clips']} clips)",
            "value": d["seconds"],
            "unit": "s",
            "clips": d["clips"],
            "clips_per_s": round(d["clips"] / d["seconds"], 1) if d["seconds"] else None,
        },
    ]


def _scale(options: Options) -> list[dict]:
    from benchmark.perf.scale import measure_scale
    from benchmark.stages.base import say

    result = measure_scale(options.entry, quick=options.quick, device=options.device, echo=say)
    rows = []
    for run in result["runs"]:
        details = {k: v for k, v in run.items() if k != "stages"}  # the stages are rows of their own
        rows.append(
            {
                "what": f"scale {run['videos']} videos: wall",
                "value": run["wall_s"],
                "unit": "s",
                "kind": "run",
                **details,
            }
        )
        for s in run["stages"]:
            rows.append(
                {
                    "what": f"scale {run['videos']} videos: {s['stage']}",
                    "value": s["seconds"],
                    "unit": "s",
                    "kind": "stage",
                    "videos": run["videos"],
                    **s,
                }
            )
    for fit in result["fits"]:
        rows.append(
            {"what": f"scale {fit['stage']}: time exponent", "value": fit["time_k"], "unit": "k", "kind": "fit", **fit}
        )
    return rows


MEASURES = {  # part -> (what is measured, function(options) -> rows), in the order they run
    "preprocess": ("preprocessing (1 worker and all cores)", _preprocess),
    "experts": ("experts (training and extraction)", _experts),
    "spotter": ("spotter training", _spotter),
    "decode": ("vote decode + official score", _decode),
    "scale": ("whole runs on growing synthetic data (fresh cache each)", _scale),
}


def figures_path(cache_root: Path, device: str) -> Path:
    """Where the last figures measured on this kind of device live."""
    return Path(cache_root) / "perf" / f"figures-{'cuda' if str(device).startswith('cuda') else 'cpu'}.json"


def save_figures(cache_root: Path, device: str, rows: Sequence[dict], info: dict | None = None) -> Path:
    """Keep ``rows`` as the last figures of their parts on this device kind (other parts' figures stay)."""
    import json

    from benchmark.storage.files import write_json
    from benchmark.storage.jsonable import jsonable

    path = figures_path(cache_root, device)
    try:
        saved = json.loads(path.read_text()) if path.is_file() else {}
    except ValueError:
        saved = {}
    measured = {r["part"] for r in rows}
    kept = [r for r in saved.get("rows", []) if r.get("part") not in measured]
    parts = {**saved.get("parts", {}), **{p: time.strftime("%Y-%m-%dT%H:%M:%S") for p in measured}}
    write_json(path, jsonable({"device": info or saved.get("device"), "parts": parts, "rows": kept + list(rows)}))
    return path


def load_figures(cache_root: Path, device: str) -> dict[str, Any] | None:
    """The saved figures of this device kind (``{"device", "parts": {part: when}, "rows"}``), or None."""
    import json

    path = figures_path(cache_root, device)
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def log_to_mlflow(rows: list[dict]) -> str:
    import mlflow

    mlflow.set_experiment("bench-perf")
    with mlflow.start_run(run_name=f"perf {time.strftime('%Y-%m-%d %H:%M')}") as run:
        for r in rows:
            key = "".join(c if c.isalnum() or c in "._-/ " else "_" for c in r["what"]).replace(" ", "_")[:250]
            mlflow.log_metric(key, float(r["value"]))
        import os
        import platform

        mlflow.set_tags(
            {"machine": platform.machine(), "cpus": str(os.cpu_count()), "python": platform.python_version()}
        )
    return run.info.run_id
