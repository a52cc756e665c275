"""What ``bench perf`` measures, side by side in one process so ratios are meaningful on a noisy machine."""

from __future__ import annotations

import dataclasses
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


def measure(parts: set[str], quick: bool = False, echo: Callable[[str], None] = print) -> list[dict]:
    rows: list[dict] = []
    for part, (message, measure_part) in MEASURES.items():
        if "all" in parts or part in parts:
            echo(f"measuring {message} ...")
            rows += measure_part(quick)
    return rows


def _preprocess(quick: bool) -> list[dict]:
    from benchmark.datasets.synthetic import generate
    from benchmark.perf.preprocess import measure_preprocess
    from benchmark.plugins import get_plugin_manager

    settings = get_plugin_manager().components("benchmark").resolve("reference-mssl", "cpu").config["preprocess"]
    settings = {**settings, "pose": {**settings.get("pose", {}), "model_complexity": 1}}
    modalities = get_plugin_manager().components("modality")
    with tempfile.TemporaryDirectory(prefix="signspot-perf-") as tmp:
        from benchmark.datasets.chalearn import ChalearnMSSL

        root = generate(
            Path(tmp) / "data", videos=3, classes=3, signers=1, seconds=4 if quick else 12, seed=0, progress=False
        )
        dataset = ChalearnMSSL(root)
        videos = [v for s in dataset.splits() for v in dataset.videos(s)][:2]
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
            }
        )
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


def _experts(quick: bool) -> list[dict]:
    from benchmark.perf.experts import measure_experts

    rows = measure_experts(size="tiny" if quick else "cpu", steps=2 if quick else 3)
    return [
        {
            "what": f"expert {r['expert']} {r['phase']} ({r['size']}, batch {r['batch']})",
            "value": r["clips_per_s"],
            "unit": "clips/s",
        }
        for r in rows
    ]


def _spotter(quick: bool) -> list[dict]:
    from benchmark.perf.spotters import measure_training

    rows = []
    for name, dim in [(name, 6400) for name in ("conv-bilstm", "tcn", "transformer", "actionformer", "temporalmaxer")]:
        cps = measure_training(name, feature_dim=dim, clips_per_video=100 if quick else 400, steps=2 if quick else 3)
        rows.append({"what": f"spotter {name} training ({dim}-d)", "value": cps, "unit": "clips/s"})
    return rows


def _decode(quick: bool) -> list[dict]:
    from benchmark.perf.spotters import measure_decode

    hours = 10.0 if quick else 100.0
    d = measure_decode(hours=hours, details=True)
    return [
        {"what": f"vote decode {hours:g} h of clips", "value": d["decode_s"], "unit": "s"},
        {"what": f"official score of {d['predictions']} segments", "value": d["score_s"], "unit": "s"},
        {"what": f"decode + score {hours:g} h ({d['clips']} clips)", "value": d["seconds"], "unit": "s"},
    ]


MEASURES = {  # part -> (what is measured, function(quick) -> rows), in the order they run
    "preprocess": ("preprocessing (1 worker and all cores)", _preprocess),
    "experts": ("experts (training and extraction)", _experts),
    "spotter": ("spotter training", _spotter),
    "decode": ("vote decode + official score", _decode),
}


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
