"""Training-free matchers: query-by-example sign spotting that needs no trained model (``bench lookup``)."""

from benchmark.matching.dtw import (
    detect,
    local_costs,
    match_many,
    normalised_joints,
    score_curve,
    subsequence_dtw,
    subsequence_dtw_costs,
)

__all__ = [
    "detect",
    "local_costs",
    "match_many",
    "normalised_joints",
    "score_curve",
    "subsequence_dtw",
    "subsequence_dtw_costs",
]
