"""The names of the stages and of their cache stores: the one place they are spelled.

A per-expert stage is ``<stage>:<expert id>`` (``train-expert:rgb``); the expert's two stages are grouped as
``expert:<id>`` so a tracker (and a sweep) sees one expert as one unit.
"""

from __future__ import annotations

PREPROCESS = "preprocess"
EXPERT = "expert"  # the group of one expert's training and extraction
TRAIN_EXPERT = "train-expert"
EXTRACT = "extract-features"
TRAIN_SPOTTER = "train-spotter"
DECODE = "decode"
SCORE = "score"

# file names the hand-off records point at (:mod:`benchmark.stages.handoffs`)
MANIFEST = "manifest.json"
CHECKPOINT = "checkpoint.pt"
SPOTTER_STATE = "spotter.pt"
PREDICTIONS = "predictions.pkl"
SEGMENTS = "segments.json"
REVIEW = "review.json"  # the test videos' media, ground truth and scored segments: what `bench review` reads
PER_VIDEO = "per_video.json"  # the primary metric's [tp, fp, fn] per test video: what `bench compare` pairs


def per_expert(stage: str, expert_id: str) -> str:
    """``train-expert:rgb``: one expert's stage (or group) by name."""
    return f"{stage}:{expert_id}"


def store_of(name: str) -> str:
    """The cache store of a stage by name: its name up to a ``:``."""
    return name.split(":")[0]
