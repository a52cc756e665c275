"""Weight files: atomic saves, ``weights_only`` loads, and loads that say exactly what did not fit.

:meth:`benchmark.interfaces.Expert.build` turns the ``pretrained`` setting into a file with
:func:`pretrained_path` and loads it with :func:`load_pretrained`.  A checkpoint that does not fit a model is a
user error (wrong depth, wrong modality, wrong file), so it raises :class:`benchmark.errors.BenchError` listing
the missing, unexpected and shape-mismatched layers instead of loading part of it silently.  ``strict=False``
loads what fits and logs what was skipped.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from benchmark.errors import BenchError
from benchmark.storage.files import atomic_write

log = logging.getLogger(__name__)

# Containers the public checkpoints put their weights under (pytorchvideo: model_state; P3D / most
# research code: state_dict; some trainers: model).
WRAPPER_KEYS = ("model_state", "state_dict", "model", "module")
MAX_LISTED = 12


def save_state(state_dict: Mapping[str, Any], path) -> Path:
    """Write ``state_dict`` (tensors moved to CPU) to ``path`` atomically: a killed run leaves no half file
    for the stage cache to trust."""
    import torch

    cpu = {k: (v.detach().cpu() if hasattr(v, "detach") else v) for k, v in state_dict.items()}
    with atomic_write(path) as f:
        torch.save(cpu, f)
    return Path(path)


def load_state(path) -> dict:
    """``torch.load(path, weights_only=True)`` on CPU; unreadable or unsafe files raise BenchError."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise BenchError(f"checkpoint {path} does not exist")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle.UnpicklingError, RuntimeError (zip), EOFError...
        raise BenchError(
            f"cannot load checkpoint {path} as plain weights (torch.load weights_only=True): "
            f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}. "
            "Only tensor/dict checkpoints are accepted; re-save it with torch.save(model.state_dict(), path)."
        ) from None
    if not isinstance(obj, Mapping):
        raise BenchError(f"checkpoint {path} holds a {type(obj).__name__}, expected a dict of tensors")
    return dict(obj)


def unwrap(obj: Mapping[str, Any], path: str | os.PathLike | None = None) -> dict:
    """The tensor dict inside a checkpoint: looks under ``model_state`` / ``state_dict`` / ``model`` and drops
    a DataParallel ``module.`` prefix."""
    import torch

    state = obj
    for _ in range(3):
        if any(isinstance(v, torch.Tensor) for v in state.values()):
            break
        for key in WRAPPER_KEYS:
            if isinstance(state.get(key), Mapping):
                state = state[key]
                break
        else:
            break
    tensors = {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        where = f" {path}" if path else ""
        raise BenchError(
            f"checkpoint{where} holds no tensors (top-level keys: {', '.join(map(str, list(obj)[:10]))}); "
            f"expected a state dict, possibly under one of {', '.join(WRAPPER_KEYS)}"
        )
    if all(k.startswith("module.") for k in tensors):
        tensors = {k[len("module.") :]: v for k, v in tensors.items()}
    return tensors


def _listing(title: str, names: list[str]) -> str:
    shown = names[:MAX_LISTED]
    more = f" ... and {len(names) - len(shown)} more" if len(names) > len(shown) else ""
    return f"{title} ({len(names)}): {', '.join(shown)}{more}"


def compare(model_state: Mapping[str, Any], state: Mapping[str, Any], ignore_missing: Iterable[str] = ()):
    """``(missing, unexpected, mismatched)`` key lists; mismatched entries read ``name: ckpt -> model``."""
    ignore = tuple(ignore_missing)
    missing = [k for k in model_state if k not in state and not k.startswith(ignore)]
    unexpected = [k for k in state if k not in model_state]
    mismatched = [
        f"{k}: {tuple(state[k].shape)} -> {tuple(model_state[k].shape)}"
        for k in state
        if k in model_state and tuple(state[k].shape) != tuple(model_state[k].shape)
    ]
    return missing, unexpected, mismatched


def load_into(
    model,
    state: Mapping[str, Any],
    strict: bool = True,
    *,
    source: str = "checkpoint",
    ignore_missing: Iterable[str] = (),
) -> dict:
    """Load ``state`` into ``model``.

    ``strict``: any missing (except keys starting with one of ``ignore_missing``), unexpected or
    shape-mismatched layer raises BenchError listing them.  Non-strict: loads the entries that fit and logs
    what was skipped.  Returns ``{"loaded": n, "missing": [...], "unexpected": [...], "mismatched": [...]}``.
    """
    model_state = model.state_dict()
    missing, unexpected, mismatched = compare(model_state, state, ignore_missing)
    problems = [
        (t, n)
        for t, n in (
            ("missing in the checkpoint", missing),
            ("unexpected in the checkpoint", unexpected),
            ("shape mismatch", mismatched),
        )
        if n
    ]
    if problems and strict:
        detail = "; ".join(_listing(t, n) for t, n in problems)
        raise BenchError(
            f"{source} does not fit {type(model).__name__}: {detail}. Check the expert settings (depth, width, "
            "modality/channels) match the checkpoint, or set pretrained_strict: false to load what fits."
        )
    bad = {m.split(":")[0] for m in mismatched}
    fitting = {k: v for k, v in state.items() if k in model_state and k not in bad}
    model.load_state_dict(fitting, strict=False)
    if problems:
        log.warning(
            "non-strict load of %s into %s skipped %s",
            source,
            type(model).__name__,
            "; ".join(_listing(t, n) for t, n in problems),
        )
    return {"loaded": len(fitting), "missing": missing, "unexpected": unexpected, "mismatched": mismatched}


def pretrained_path(value, *, filename: str, url: str | None, what: str) -> Path | None:
    """The file the ``pretrained`` setting ``value`` names for ``what``.

    ``value``: None/False/"" -> none; True or ``"auto"`` -> ``filename`` in the torch hub cache
    (``torch.hub.get_dir()/checkpoints``); a path -> that file, or the hub cache copy of the same name.
    Never downloads (a benchmark run must not depend on a network): a missing file raises BenchError saying
    where to put it and where to get it.
    """
    if value is None or value is False or value == "":
        return None
    import torch

    hub = Path(torch.hub.get_dir()) / "checkpoints"
    candidates = []
    if value is True or str(value).lower() in ("auto", "true", "hub"):
        if not filename:
            raise BenchError(
                f"{what} has no public checkpoint to look up: set pretrained to a file path, "
                "or pretrained: null to train from scratch"
            )
        candidates.append(hub / filename)
    else:
        p = Path(os.path.expanduser(str(value)))
        candidates += [p, hub / p.name]
    for c in candidates:
        if c.is_file():
            return c
    get = f" Download it from {url} (e.g. `curl -L -o {hub / filename} {url}`)" if url else ""
    raise BenchError(
        f"pretrained weights for {what} not found (looked at {', '.join(map(str, candidates))}).{get}"
        f" and set the expert's `pretrained` setting to its path, or set pretrained: null to train from scratch."
    )


def load_pretrained(expert, model, path, strict: bool = True) -> dict:
    """Load a public or own checkpoint file into ``model`` through ``expert.convert_checkpoint``.

    A classifier of another class count is a replaced head, not an error: it is dropped and left as built.
    Returns :func:`load_into`'s report.
    """
    state = expert.convert_checkpoint(unwrap(load_state(path), path), model)
    own = model.state_dict()
    for key in [k for k in state if k.startswith("classifier.")]:
        if key in own and tuple(own[key].shape) != tuple(state[key].shape):
            del state[key]
    report = load_into(model, state, strict, source=f"checkpoint {path}", ignore_missing=("classifier.",))
    log.info("%s: loaded %d tensors from %s", expert.name, report["loaded"], path)
    return report


def adapt_input_channels(state: dict, model_state: Mapping[str, Any]) -> dict:
    """Cross-modality initialisation (TSN): a first-layer conv pretrained on RGB (3 input channels) loaded into
    a model with another channel count (2 for flow) gets the colour-averaged kernel repeated per channel."""
    out = dict(state)
    for key, w in state.items():
        own = model_state.get(key)
        if own is None or w.ndim < 4 or w.ndim != own.ndim or tuple(w.shape) == tuple(own.shape):
            continue
        if w.shape[1] == 3 and own.shape[1] != 3 and w.shape[0] == own.shape[0] and w.shape[2:] == own.shape[2:]:
            c = own.shape[1]
            out[key] = w.mean(dim=1, keepdim=True).repeat(1, c, *([1] * (w.ndim - 2))).contiguous()
            log.info("adapted %s from 3 to %d input channels (RGB weights averaged)", key, c)
    return out
