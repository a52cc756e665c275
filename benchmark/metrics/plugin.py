"""Built-in metric plugin: ``chalearn-f1`` (the organisers' scorer), ``chalearn-f1-strict``, ``tal-map``
(the detection literature's mAP, which ranks segments by the decoder's scores) and ``segmentation`` (the
sign-segmentation literature's segment IoU and boundary F1 at +-1 and +-2 frames, classes ignored).

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


class Segmentation(Metric):
    """Segment IoU and boundary F1 at +-1 / +-2 frames of 25 fps (40 ms, the pipeline's default frame), every
    class merged into one: how well the spotted signs cut the signing, whatever their glosses
    (:mod:`benchmark.metrics.segmentation`; ``bench score --fps`` scores other frame rates)."""

    name = "segmentation"
    description = "segment IoU and boundary F1 at +-1/+-2 frames (25 fps), classes merged (sign segmentation)"

    def compute(self, ground_truth: Segments, predictions: Segments) -> dict[str, Any]:
        from benchmark.metrics.segmentation import segmentation

        kept = {video: predictions.get(video, []) for video in ground_truth}  # as the F1: videos with ground truth
        return segmentation(ground_truth, kept)


METRIC_CLASSES = (ChalearnF1, ChalearnF1Strict, TalMap, Segmentation)


@hookimpl
def register_metrics(registry):
    for cls in METRIC_CLASSES:
        registry.add(cls.name, cls())
