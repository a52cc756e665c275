"""Built-in metric plugin: ``chalearn-f1`` (the organisers' scorer) and ``chalearn-f1-strict``.

Cheap to import: the metric objects load numpy and :mod:`benchmark.metrics.chalearn` only in ``compute``.
"""

from __future__ import annotations

from typing import Any

from benchmark import hookimpl
from benchmark.interfaces import Metric, Segments


class ChalearnF1(Metric):
    """Official ChaLearn 2022 sign spotting F1: pooled over 13 IoU thresholds 0.20..0.80, quirks included."""

    name = "chalearn-f1"
    description = "official ChaLearn 2022 sign spotting F1 (pooled over IoU 0.20..0.80, organisers' quirks)"

    def compute(self, ground_truth: Segments, predictions: Segments) -> dict[str, Any]:
        from benchmark.metrics.chalearn import score

        return score(ground_truth, predictions)


class ChalearnF1Strict(Metric):
    """ChaLearn F1 with one-to-one greedy matching (highest IoU first) and no overlap filtering."""

    name = "chalearn-f1-strict"
    description = "ChaLearn F1 with strict one-to-one matching (each prediction matches at most one sign)"

    def compute(self, ground_truth: Segments, predictions: Segments) -> dict[str, Any]:
        from benchmark.metrics.chalearn import score_strict

        return score_strict(ground_truth, predictions)


@hookimpl
def register_metrics(registry):
    registry.add(ChalearnF1.name, ChalearnF1())
    registry.add(ChalearnF1Strict.name, ChalearnF1Strict())
