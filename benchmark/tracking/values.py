"""Run data -> the values MLflow accepts: param and metric keys, string params, float metrics, tags, config.yaml.

MLflow refuses a whole batch when one key has a character it does not allow or one value is longer than
its limit.  So every key goes through :func:`sanitize_key` and every value is converted and cut here, before
anything is sent.  Everything in this module is plain Python; nothing here imports mlflow.
"""

from __future__ import annotations

import json
import logging
import os
import posixpath
import re
import socket
from collections.abc import Mapping
from typing import Any

from benchmark.storage.jsonable import jsonable

log = logging.getLogger(__name__)

MAX_PARAM_VALUE = 6000  # mlflow.utils.validation.MAX_PARAM_VAL_LENGTH
MAX_TAG_VALUE = 8000  # mlflow.utils.validation.MAX_TAG_VAL_LENGTH
MAX_KEY = 250  # mlflow.utils.validation.MAX_ENTITY_KEY_LENGTH
MAX_DIGEST = 36  # mlflow.utils.validation.MAX_DATASET_DIGEST_SIZE

FIRST = ("f1", "precision", "recall")  # the run's headline numbers: logged first, so listed first
IOU_METRIC = re.compile(r"^(?P<prefix>(?:.+\.)?)f1_iou_(?P<iou>\d+(?:\.\d+)?)$")


def sanitize_key(key: str) -> str:
    """Make ``key`` a valid MLflow param/metric name (alphanumerics, ``_ - . / space``; no ``..`` paths)."""
    key = re.sub(r"[^\w.\- /]", "_", str(key))
    key = re.sub(r"/+", "/", key).strip("/") or "_"
    if posixpath.normpath(key) != key or key in (".", "..") or key.startswith(".."):
        key = key.replace("/", "_").replace("..", "__")
    return key[:MAX_KEY]


def truncate(text: Any, limit: int = MAX_TAG_VALUE) -> str:
    """``str(text)``, cut to ``limit`` characters (ending in ``...`` when cut)."""
    text = str(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _param_value(value: Any) -> str:
    """A param as text: strings as they are, anything else as JSON (lists stay readable)."""
    value = jsonable(value)
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, default=str)
    except (TypeError, ValueError):
        return str(value)


def flatten_config(config: Mapping, prefix: str = "") -> dict[str, str]:
    """Nested config -> ``{"spotter.training.lr": "0.0001", ...}``.

    Lists become JSON strings, empty mappings ``"{}"``, ``None`` ``"null"``; values longer than MLflow's
    param limit are skipped (the whole config is logged as ``config.yaml`` anyway).
    """
    out: dict[str, str] = {}
    for k, v in config.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, Mapping) and v:
            out.update(flatten_config(v, key))
            continue
        value = _param_value(v)
        if len(value) > MAX_PARAM_VALUE:
            log.debug("param %s skipped: %d characters", key, len(value))
            continue
        out[sanitize_key(key)] = value
    return out


def numeric_items(metrics: Mapping | None) -> dict[str, float]:
    """The entries of ``metrics`` that are real numbers (bools become 0/1), keys sanitized."""
    out: dict[str, float] = {}
    for k, v in (metrics or {}).items():
        if isinstance(v, bool):
            v = int(v)
        try:
            out[sanitize_key(k)] = float(v)
        except (TypeError, ValueError):
            continue
    return out


def config_yaml(config: Mapping) -> str:
    """The run's whole config as YAML, in its own key order (the params are a flattened, cut-down copy)."""
    import yaml

    return yaml.safe_dump(jsonable(dict(config)), sort_keys=False, default_flow_style=False)


def run_tags(run: Any) -> dict[str, str]:
    """Tags describing a run: benchmark, entry version, profile, component names, plugins, seed, device..."""
    comps = getattr(run, "components", None) or {}
    tags = {
        "benchmark": getattr(run, "benchmark", None),
        "entry_version": getattr(run, "entry_version", None),
        "profile": getattr(run, "profile", None) or "none",
        "seed": getattr(run, "seed", None),
        "device": getattr(run, "device", None),
        "git_commit": getattr(run, "git_commit", None),
        "dataset_fingerprint": getattr(run, "dataset_fingerprint", None),
        "mlflow.source.git.commit": getattr(run, "git_commit", None),
        "signspot.kind": "sweep-trial" if getattr(run, "parent_run_id", None) else "bench-run",
        "signspot.overrides": "; ".join(getattr(run, "overrides", None) or []) or "none",
        "signspot.host": socket.gethostname(),
        "signspot.pid": os.getpid(),
    }
    parent = getattr(run, "parent_run_id", None)
    if parent:
        tags["mlflow.parentRunId"] = parent
    tags.update(getattr(run, "tags", None) or {})
    tags["mlflow.note.content"] = run_note(run) or None  # the run's description in the MLflow UI
    experts = comps.get("experts")
    if experts is not None:
        tags["experts"] = ",".join(map(str, experts)) if not isinstance(experts, str) else experts
    for kind in ("spotter", "decoder", "dataset"):
        if comps.get(kind) is not None:
            tags[kind] = comps[kind]
    for plugin in getattr(run, "plugins", None) or []:
        name = plugin.get("name") if isinstance(plugin, Mapping) else getattr(plugin, "name", None)
        if not name:
            continue
        get = plugin.get if isinstance(plugin, Mapping) else (lambda k, p=plugin: getattr(p, k, None))
        dist, version = get("distribution"), get("version")
        tags[f"plugin.{sanitize_key(name)}"] = f"{dist or 'built-in'}=={version or 'unknown'}"
    return {k: truncate(v) for k, v in tags.items() if v is not None}


def final_metrics(metrics: Mapping[str, float]) -> dict[str, float]:
    """The run's metrics in the order to log them: ``f1``, ``precision``, ``recall``, then the rest as given.

    MLflow's run page lists metrics in the order they were first logged.
    """
    return {**{k: metrics[k] for k in FIRST if k in metrics}, **{k: v for k, v in metrics.items() if k not in FIRST}}


def iou_curves(metrics: Mapping[str, float]) -> dict[str, dict[int, float]]:
    """``f1_iou_0.20`` ... ``f1_iou_0.80`` (and ``<metric>.f1_iou_*``) as one curve per metric:
    ``{"f1_by_iou": {20: f1, 25: f1, ...}}``.

    One metric whose step is the threshold is what MLflow draws as a line; steps must be integers, so the
    step is the IoU in hundredths.
    """
    curves: dict[str, dict[int, float]] = {}
    for key, value in metrics.items():
        m = IOU_METRIC.match(key)
        if m:
            curves.setdefault(f"{m['prefix']}f1_by_iou", {})[round(float(m["iou"]) * 100)] = float(value)
    return {k: dict(sorted(v.items())) for k, v in curves.items()}


def epoch_metrics(metrics: Mapping[str, float]) -> dict[str, float]:
    """Per-epoch values with ``seconds`` renamed ``epoch_seconds`` (``round1/seconds`` -> ``round1/epoch_seconds``):
    a stage's ``seconds`` is its total, and one key holding both would chart neither."""
    out = {}
    for key, value in metrics.items():
        head, _, last = key.rpartition("/")
        if last == "seconds":
            key = f"{head}/epoch_seconds" if head else "epoch_seconds"
        out[key] = value
    return out


def _experts(run: Any) -> list[str]:
    """``name (modality)`` per expert, from the resolved config (else the components' ``name:id``)."""
    experts = (getattr(run, "config", None) or {}).get("experts")
    if isinstance(experts, Mapping) and experts:
        return [
            f"{spec.get('name', eid)} ({spec['modality']})"
            if isinstance(spec, Mapping) and spec.get("modality")
            else str(spec.get("name", eid) if isinstance(spec, Mapping) else eid)
            for eid, spec in experts.items()
        ]
    experts = (getattr(run, "components", None) or {}).get("experts") or []
    return [experts] if isinstance(experts, str) else [str(e) for e in experts]


def run_note(run: Any, metrics: Mapping[str, float] | None = None) -> str:
    """The run's description (Markdown): the entry's own text, then what this run ran, then what it changed, and
    once it finished, its F1 with the 95 % interval over its test videos.

    Built from the resolved components, so a run that swapped the spotter says so instead of carrying only the
    entry's description of the spotter it replaced.
    """
    comps = getattr(run, "components", None) or {}
    description = (getattr(run, "config", None) or {}).get("description")
    parts = []
    if isinstance(description, str) and description.strip():
        parts.append(description.strip())
    ran = []
    experts = _experts(run)
    if experts:
        ran.append("experts " + ", ".join(experts))
    ran += [f"{kind} {comps[kind]}" for kind in ("spotter", "decoder", "dataset") if comps.get(kind)]
    ran += [f"{k} {getattr(run, k)}" for k in ("seed", "profile", "device") if getattr(run, k, None) is not None]
    if ran:
        parts.append("**Ran:** " + " · ".join(ran))
    changed = list(getattr(run, "overrides", None) or [])
    if changed:
        entry = getattr(run, "benchmark", None) or "the entry"
        why = " (the description above is the entry's)" if isinstance(description, str) and description.strip() else ""
        parts.append(f"**Changed from {entry}:** " + ", ".join(f"`{c}`" for c in changed) + why)
    if metrics and "f1" in metrics:
        ci = (metrics.get("f1_ci_low"), metrics.get("f1_ci_high"))
        interval = f" (95 % CI {ci[0]:.3f}-{ci[1]:.3f}, bootstrap over test videos)" if None not in ci else ""
        parts.append(f"**Result:** F1 {float(metrics['f1']):.4f}{interval}")
    return truncate("\n\n".join(parts))


def dataset_input(run: Any) -> dict[str, str] | None:
    """The run's dataset as MLflow describes one (name, digest, source, schema, profile, context), or None when
    the run does not say which dataset it used.

    digest = the dataset's fingerprint (what the stage cache keys on), source = its folder, profile = videos
    per split; schema = one annotation row, the unit every split is made of.
    """
    info = dict(getattr(run, "dataset", None) or {})
    name = info.get("name") or (getattr(run, "components", None) or {}).get("dataset")
    digest = info.get("fingerprint") or getattr(run, "dataset_fingerprint", None)
    if not name or not digest:
        return None
    root = info.get("root")
    profile = {k: info[k] for k in ("splits", "signs", "classes", "eval_split") if info.get(k) is not None}
    schema = {
        "mlflow_colspec": [
            {"name": "video", "type": "string"},
            {"name": "class_id", "type": "long"},
            {"name": "start_ms", "type": "long"},
            {"name": "end_ms", "type": "long"},
        ]
    }
    splits = info.get("splits") or {}
    return {
        "name": str(name),
        "digest": str(digest)[:MAX_DIGEST],
        "source_type": "local",
        "source": json.dumps({"uri": str(root) if root else ""}),
        "schema": json.dumps(schema),
        "profile": json.dumps(profile),
        "context": "+".join(splits) if splits else "benchmark",
    }


def table_columns(path: Any) -> dict[str, list] | None:
    """A ``.json`` file holding a table (a list of records with the same flat keys, as ``per_class.json``) as
    columns ``{key: [values]}``, the form ``MlflowClient.log_table`` takes; None for any other file.

    Logged that way, MLflow shows it as a table and ``mlflow.load_table`` reads it across runs.
    """
    from pathlib import Path

    path = Path(path)
    if path.suffix != ".json" or not path.is_file() or path.stat().st_size > 50_000_000:
        return None
    try:
        rows = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        return None
    keys = list(rows[0])
    if any(list(r) != keys for r in rows):
        return None
    if any(not isinstance(v, (str, int, float, bool)) and v is not None for r in rows for v in r.values()):
        return None
    return {k: [r[k] for r in rows] for k in keys}
