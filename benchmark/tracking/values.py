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

from benchmark.jsonable import jsonable

log = logging.getLogger(__name__)

MAX_PARAM_VALUE = 6000  # mlflow.utils.validation.MAX_PARAM_VAL_LENGTH
MAX_TAG_VALUE = 8000  # mlflow.utils.validation.MAX_TAG_VAL_LENGTH
MAX_KEY = 250  # mlflow.utils.validation.MAX_ENTITY_KEY_LENGTH


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
        "signspot.host": socket.gethostname(),
        "signspot.pid": os.getpid(),
    }
    parent = getattr(run, "parent_run_id", None)
    if parent:
        tags["mlflow.parentRunId"] = parent
    tags.update(getattr(run, "tags", None) or {})
    description = (getattr(run, "config", None) or {}).get("description")
    if isinstance(description, str) and description.strip():
        tags["mlflow.note.content"] = description.strip()  # the run's description in the MLflow UI
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
