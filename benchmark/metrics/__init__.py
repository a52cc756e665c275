"""Metrics: the official ChaLearn sign spotting F1 (``chalearn-f1``) and a strict one-to-one variant.

Cheap to import (no numpy here): ``score`` and ``score_strict`` load :mod:`benchmark.metrics.chalearn` on
first use.
"""

from __future__ import annotations

__all__ = ["THRESHOLDS", "score", "score_strict"]


def __getattr__(name: str):
    if name in __all__:
        from benchmark.metrics import chalearn

        return getattr(chalearn, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
