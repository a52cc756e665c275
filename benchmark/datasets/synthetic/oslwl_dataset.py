"""The ``synthetic-oslwl`` dataset: the embedded synthetic signer in the OSLWL layout
(:mod:`benchmark.datasets.synthetic.oslwl`), generated on first use into
``<cache>/datasets/synthetic-oslwl-<hash of the settings>`` and read by
:class:`~benchmark.datasets.oslwl.ChalearnOSLWL`.

It lives here rather than beside the reader: the generator imports the reader's layout, so the reader
importing the generator would make an import cycle.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from benchmark.datasets.oslwl import META_FILE, ChalearnOSLWL, report
from benchmark.datasets.synthetic.oslwl import (
    GENERATOR_VERSION,
    OSLWL_DEFAULTS,
    SETTINGS,
    checked_settings,
    generate_oslwl,
)
from benchmark.errors import BenchError, DataError


def settings_hash(params: Mapping[str, Any]) -> str:
    """12 hex digits naming the folder of the generator settings ``params`` (``workers`` does not count)."""
    key = checked_settings(**{k: params[k] for k in OSLWL_DEFAULTS if k in params})
    return hashlib.sha256(json.dumps([GENERATOR_VERSION, key], sort_keys=True).encode()).hexdigest()[:12]


def _rule(default, lowest, highest) -> str:
    """A generator bound as a value rule (:mod:`benchmark.config.rules`): ``int1..200``, ``4..3600``."""
    kind = "" if isinstance(default, float) else "int"
    return f"{kind}>={lowest}" if highest is None else f"{kind}{lowest}..{highest}"


class SyntheticOSLWL(ChalearnOSLWL):
    """The embedded synthetic signer in the OSLWL layout, generated on first use."""

    name = "synthetic-oslwl"
    description = (
        "embedded synthetic signer in the OSLWL layout (one-shot queries), generated on first use (settings: "
        "train_videos, train_classes, queries, targets_per_query, signers, seconds, target_seconds, size, fps, seed)"
    )
    defaults = {**OSLWL_DEFAULTS, "workers": 0}  # workers (0 = all cores) changes how it is made, not what
    rules = {**{name: _rule(*spec) for name, spec in SETTINGS.items()}, "workers": "int>=0"}

    @classmethod
    def open(cls, root: Path | None, settings: Mapping[str, Any], cache_dir: Path, *, progress: bool = True):
        """Without a root, generate once into ``cache_dir/datasets/synthetic-oslwl-<hash>`` and reuse it; with a
        root, read it (generating it first when the folder is missing or empty)."""
        params = cls.with_defaults(settings)
        unknown = sorted(set(params) - set(cls.defaults))
        if unknown:
            raise DataError(
                f"dataset {cls.name}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(cls.defaults)}"
            )
        workers = int(params.pop("workers") or 0) or (os.cpu_count() or 1)
        if root is None and cache_dir is None:
            raise DataError(f"dataset {cls.name} is generated under the stage cache: give a cache folder or a root")
        target = (
            Path(root).expanduser()
            if root is not None
            else Path(cache_dir) / "datasets" / f"{cls.name}-{settings_hash(params)}"
        )
        if not (target / META_FILE).is_file() and not (target.is_dir() and any(target.iterdir())):
            generate_oslwl(target, workers=workers, progress=progress, **params)
        return cls(target, cache_dir, progress=progress)

    @classmethod
    def check(
        cls, root: Path | None, settings: Mapping[str, Any], cache_dir: Path | None, *, open_media: bool = True
    ) -> dict[str, Any]:
        """The settings against their rules, then the (generated) folder's report."""
        from benchmark.datasets.check import problem_report
        from benchmark.datasets.settings import declared_problems

        problems = declared_problems(cls, cls.with_defaults(settings))
        if problems:
            return problem_report(root, problems)
        try:
            ds = cls.open(root, settings, cache_dir, progress=False)
        except BenchError as e:
            return problem_report(root, [str(e)])
        return report(ds.scan_result, open_media)
