"""The checks of ``bench doctor`` (:mod:`benchmark.commands.doctor`): what this machine can run, and whether
``bench run reference-mssl`` will work.

Each check is ``ok``, ``info`` (a fact, nothing to do), ``warn`` (the run works, differently from the paper's
settings) or ``fail`` (the default run cannot work here: torch, OpenCV's contrib TV-L1 or MLflow missing, the
cache not writable, the tracking server not answering, a pretrained file the entry names missing).  The exit
code is 1 when any check fails, so a script can stop before spending hours.  Every check catches its own
errors: a broken library is reported as a failed check, never as a traceback.

The estimate of the default run's time uses the figures the last ``bench perf`` kept under the cache for this
kind of device (:func:`benchmark.perf.measure.load_figures`) and the arithmetic of
:mod:`benchmark.perf.estimate`.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

STATUSES = ("ok", "info", "warn", "fail")
FREE_SPACE_WARN_GIB = 10.0  # preprocessed arrays of MSSL's 4 h (crops, hands, flow) take tens of GB


def _check(report: dict, name: str, fn: Callable[[], tuple[str, str, dict]]) -> None:
    """Run one check: ``fn() -> (status, summary, details)``; an exception is a failed check naming it."""
    try:
        status, summary, details = fn()
    except Exception as exc:  # a broken install must be reported, not crash the report
        status, summary, details = "fail", f"{type(exc).__name__}: {exc}", {}
    report["checks"].append({"name": name, "status": status, "summary": summary})
    report[name] = details


def _torch() -> tuple[str, str, dict]:
    if importlib.util.find_spec("torch") is None:
        return "fail", "torch is not installed (pip install -e .)", {"installed": False}
    import torch

    cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    details = {
        "installed": True,
        "version": torch.__version__,
        "cuda_build": torch.version.cuda,
        "cudnn": cudnn,
        "cuda_available": torch.cuda.is_available(),
    }
    build = f"CUDA build {torch.version.cuda}" if torch.version.cuda else "CPU-only build"
    seen = "a CUDA device is visible" if details["cuda_available"] else "no CUDA device visible"
    return "ok", f"{torch.__version__} ({build}{f', cuDNN {cudnn}' if cudnn else ''}); {seen}", details


def _gpus() -> tuple[str, str, dict]:
    import torch

    from benchmark.perf.flops import peak_for

    gpus = []
    for i in range(torch.cuda.device_count() if torch.cuda.is_available() else 0):
        props = torch.cuda.get_device_properties(i)
        peak = peak_for(props.name)
        gpus.append(
            {
                "index": i,
                "name": props.name,
                "memory_gib": round(props.total_memory / 2**30, 1),
                "capability": f"{props.major}.{props.minor}",
                "bf16": props.major >= 8,  # native bf16 tensor cores from Ampere (sm_80) on
                "peak_bf16_tflops": peak.tflops if peak else None,
            }
        )
    if not gpus:
        return "info", "none: bench run uses the cpu profile (smaller sizes and epochs)", {"gpus": []}
    no_bf16 = [g["name"] for g in gpus if not g["bf16"]]
    text = "; ".join(
        f"cuda:{g['index']} {g['name']}, {g['memory_gib']:g} GiB, bf16 {'yes' if g['bf16'] else 'no'}"
        + (f", peak {g['peak_bf16_tflops']:g} TFLOP/s" if g["peak_bf16_tflops"] else "")
        for g in gpus
    )
    if no_bf16:
        text += " -- without bf16 tensor cores: set expert_training.amp=false"
    return ("warn" if no_bf16 else "ok"), text, {"gpus": gpus}


def _cpus() -> tuple[str, str, dict]:
    from benchmark.runtime.cpus import available_cores

    usable, count = available_cores(), os.cpu_count()
    return "ok", f"{usable} usable by this process (os.cpu_count {count})", {"available": usable, "cpu_count": count}


def _mediapipe(wanted_complexity: int) -> Callable[[], tuple[str, str, dict]]:
    def check():
        if importlib.util.find_spec("mediapipe") is None:
            return "fail", "mediapipe is not installed: videos without .pose files cannot be preprocessed", {}
        import mediapipe

        from benchmark.modalities.pose import legacy_model_path

        folder = legacy_model_path(2).parent
        files = {0: legacy_model_path(0), 1: folder / "pose_landmark_full.tflite", 2: legacy_model_path(2)}
        present = {c: p.is_file() for c, p in files.items()}
        offline = [str(c) for c, ok in present.items() if ok]
        details = {"version": mediapipe.__version__, "pose_models": {c: str(p) for c, p in files.items()}}
        details["offline_complexities"] = [int(c) for c in offline]
        text = f"{mediapipe.__version__}; pose models offline: complexity {', '.join(offline) or 'none'}"
        if not present.get(wanted_complexity):
            missing = files[wanted_complexity]
            text += (
                f"; the entry's complexity {wanted_complexity} falls back to 1 (put {missing.name} in {missing.parent})"
            )
            return ("warn" if present[1] else "fail"), text, details
        return "ok", text, details

    return check


def _opencv() -> tuple[str, str, dict]:
    if importlib.util.find_spec("cv2") is None:
        return "fail", "OpenCV is not installed (opencv-contrib-python)", {"installed": False}
    import cv2

    tvl1 = hasattr(cv2, "optflow") and hasattr(cv2.optflow, "DualTVL1OpticalFlow_create")
    details = {"installed": True, "version": cv2.__version__, "tvl1": tvl1}
    if not tvl1:
        return "fail", f"{cv2.__version__} without cv2.optflow (TV-L1 flow): install opencv-contrib-python", details
    return "ok", f"{cv2.__version__} with TV-L1 (cv2.optflow)", details


def _ray() -> tuple[str, str, dict]:
    if importlib.util.find_spec("ray") is None:
        return "info", "not installed (only `bench sweep --executor ray` needs it: pip install -e .[ray])", {}
    from importlib.metadata import version

    return "info", f"{version('ray')} installed (bench sweep --executor ray)", {"version": version("ray")}


def _tracking(pm) -> Callable[[], tuple[str, str, dict]]:
    def check():
        if importlib.util.find_spec("mlflow") is None:
            return "fail", "mlflow is not installed: runs cannot be tracked (or pass --no-track)", {}
        from benchmark.tracking.store import check_server, is_server, tracking_uri

        uri = tracking_uri()
        details: dict[str, Any] = {"uri": uri, "server": is_server(uri)}
        problems = [p for p in pm.collect("tracking_problem") if p]  # what `bench run` asks before any work
        if is_server(uri):
            try:
                check_server(uri, timeout=5.0)
                details["answers"] = True
            except ConnectionError:
                details["answers"] = False
        details["problems"] = problems
        if problems:
            return "fail", f"{uri}: {'; '.join(problems)}", details
        return "ok", f"{uri} ({'server answers' if is_server(uri) else 'local store'})", details

    return check


def _cache(cache_dir) -> Callable[[], tuple[str, str, dict]]:
    def check():
        from benchmark.errors import BenchError
        from benchmark.storage.cache import StageCache

        cache = StageCache(cache_dir)
        probe = cache.root
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        free = shutil.disk_usage(probe).free / 2**30
        details = {"path": str(cache.root), "free_gib": round(free, 1)}
        try:
            cache.check_writable()
            details["writable"] = True
        except BenchError as exc:
            details["writable"] = False
            return "fail", str(exc), details
        text = f"{cache.root}, writable, {free:.1f} GiB free"
        if free < FREE_SPACE_WARN_GIB:
            return "warn", text + f" (MSSL's preprocessed arrays need more than {FREE_SPACE_WARN_GIB:g} GiB)", details
        return "ok", text, details

    return check


def _pretrained(config: dict, pm) -> Callable[[], tuple[str, str, dict]]:
    def check():
        import torch

        from benchmark.errors import BenchError

        hub = Path(torch.hub.get_dir()) / "checkpoints"
        rows, status = [], "ok"
        for eid, spec in config["experts"].items():
            expert = pm.components("expert").get(spec["name"])
            value = (spec.get("settings") or {}).get("pretrained")
            expected = getattr(expert, "pretrained_filename", "") or None
            row = {
                "expert": eid,
                "name": spec["name"],
                "pretrained": value,
                "expected_file": expected,
                "hub_path": str(hub / expected) if expected else None,
                "in_hub": bool(expected) and (hub / expected).is_file(),
            }
            if value in (None, False, ""):
                row["state"] = "from scratch (pretrained: null)"
            else:
                try:
                    row["file"] = str(expert.pretrained_file(value))
                    row["state"] = f"loads {row['file']}"
                except BenchError as exc:
                    row["state"] = f"missing: {exc}"
                    status = "fail"
            rows.append(row)
        states: dict[str, list[str]] = {}
        for r in rows:
            states.setdefault(r["state"], []).append(r["expert"])
        parts = [f"{', '.join(ids)}: {state}" for state, ids in states.items()]
        files = {r["expected_file"]: r["in_hub"] for r in rows if r["expected_file"]}
        if files:
            listed = ", ".join(f"{f} {'present' if ok else 'absent'}" for f, ok in files.items())
            parts.append(f"public weights (pretrained: auto) in {hub}: {listed}")
        return status, "; ".join(parts), {"hub": str(hub), "experts": rows}

    return check


def _default_run(registry, name: str, cache_dir, device: str | None) -> Callable[[], tuple[str, str, dict]]:
    def check():
        from benchmark.perf import estimate as est
        from benchmark.perf.measure import figures_path, load_figures
        from benchmark.stages.run import resolve_run
        from benchmark.storage.cache import StageCache

        notes: list[str] = []
        resolved, chosen, profile = resolve_run(registry, name, device=device, echo=notes.append)
        config = resolved.config
        size = {"cpu": "cpu", "tiny": "tiny", None: "reference"}.get(profile, "reference")
        details: dict[str, Any] = {"entry": name, "profile": profile, "device": chosen, "expert_size": size}
        plan = f"bench run {name}: {f'profile {profile}' if profile else 'the paper settings (no profile)'} on {chosen}"
        root = StageCache(cache_dir).root
        saved = load_figures(root, chosen)
        rows = (saved or {}).get("rows", [])
        figures = est.figures_from_rows(rows, size)
        if config["dataset"]["name"] != "synthetic":
            details["estimate"] = None
            return "ok", plan + "; no estimate for a dataset other than the embedded one", details
        fraction, source = _synthetic_query_fraction(config, root)
        work = est.synthetic_workload(config, fraction)
        result = est.estimate(work, figures)
        frames = work.all_clips * int(config["clips"].get("stride") or 8)
        pre = est.preprocess_seconds(rows, frames, skip=("pose",)) if profile == "cpu" else None
        result.update(preprocess_s=pre, query_fraction=fraction, query_fraction_from=source)
        details["estimate"] = result
        details["figures"] = {"file": str(figures_path(root, chosen)), "measured": (saved or {}).get("parts")}
        if result["missing"]:
            details["estimate_text"] = f"run `bench perf experts spotter decode --size {size}` for an estimate"
            return "ok", f"{plan}; estimate: {details['estimate_text']}", details
        total = result["total_s"] + (pre or 0.0)
        details["estimated_s"] = total
        text = f"{plan}; estimated {_duration(total)}"
        text += (
            " (preprocessing included)" if pre is not None else " (preprocessing not measured: bench perf preprocess)"
        )
        return "ok", text, details

    return check


def _synthetic_query_fraction(config: dict, cache_root: Path) -> tuple[float, str]:
    """The query-sign share of the synthetic training clips when the data is already in the cache, else MSSL's."""
    from benchmark.datasets.synthetic import DEFAULTS, settings_hash
    from benchmark.datasets.synthetic.writer import GT_FILES
    from benchmark.engine.clips import ClipSpec
    from benchmark.perf.estimate import MSSL_QUERY_FRACTION, query_sign_fraction
    from benchmark.storage.safe_pickle import load_annotations

    params = {**DEFAULTS, **(config["dataset"].get("settings") or {})}
    gt = Path(cache_root) / "datasets" / f"synthetic-{settings_hash(params)}" / GT_FILES["train"]
    if not gt.is_file():
        return MSSL_QUERY_FRACTION, "MSSL's (the synthetic data is not generated yet)"
    counted = query_sign_fraction(load_annotations(gt), ClipSpec.from_settings(config["clips"]))
    return counted["fraction"], str(gt)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 3 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def gather(registry, pm, name: str = "reference-mssl", cache_dir=None, device: str | None = None) -> dict:
    """Every check, in the order printed: ``{"ok", "checks": [{"name", "status", "summary"}], <name>: details}``."""
    report: dict[str, Any] = {"checks": [], "python": platform.python_version(), "machine": platform.machine()}
    _check(report, "torch", _torch)
    torch_ok = report["torch"].get("installed", False)
    if torch_ok:
        _check(report, "gpu", _gpus)
    _check(report, "cpus", _cpus)
    config = None
    try:
        config = registry.resolve(name).config
    except Exception as exc:
        report["checks"].append({"name": "entry", "status": "fail", "summary": f"{name}: {exc}"})
    wanted = int(((config or {}).get("preprocess", {}).get("pose") or {}).get("model_complexity", 1))
    _check(report, "mediapipe", _mediapipe(wanted))
    _check(report, "opencv", _opencv)
    _check(report, "ray", _ray)
    _check(report, "tracking", _tracking(pm))
    _check(report, "cache", _cache(cache_dir))
    if torch_ok and config is not None:
        _check(report, "pretrained", _pretrained(config, pm))
        _check(report, "default_run", _default_run(registry, name, cache_dir, device))
    report["ok"] = not any(c["status"] == "fail" for c in report["checks"])
    return report
