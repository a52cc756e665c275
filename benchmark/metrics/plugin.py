"""Built-in metric plugin: ``chalearn-f1`` (the organisers' scorer), ``chalearn-f1-strict`` and ``tal-map``
(the detection literature's mAP, which ranks segments by the decoder's scores).

Cheap to import: the metric objects load numpy and their modules only in ``compute``.
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


class TalMap(Metric):
    """Temporal action localisation mAP over tIoU 0.3..0.7, ActivityNet toolkit style (needs scored segments)."""

    name = "tal-map"
    description = "temporal action localisation mAP (tIoU 0.3:0.1:0.7, ActivityNet toolkit; needs scores)"

    def compute(self, ground_truth: Segments, predictions: Segments) -> dict[str, Any]:
        from benchmark.metrics.tal_map import tal_map

        return tal_map(ground_truth, predictions)


METRIC_CLASSES = (ChalearnF1, ChalearnF1Strict, TalMap)


@hookimpl
def register_metrics(registry):
    for cls in METRIC_CLASSES:
        registry.add(cls.name, cls())
