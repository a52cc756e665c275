"""What one stage hands to the next: small, picklable records of paths and keys (arrays stay on disk).

RunData --preprocess--> Preprocessed --expert features (per expert)--> ExpertFeatures ... = Features
        --train spotter--> TrainedSpotter --decode--> Predictions --score--> RunSummary
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from benchmark.interfaces import Segments, VideoRecord
from benchmark.stages.names import PREDICTIONS, SEGMENTS, SPOTTER_STATE


@dataclass(frozen=True)
class RunData:
    """The splits a run uses: ``train``, the selection split (``validation`` when it exists and is not the one
    scored) and the evaluation split (``test`` when labelled, else ``validation``)."""

    dataset: str
    root: Path | None
    fingerprint: str
    class_names: tuple[str, ...]
    videos: dict[str, tuple[VideoRecord, ...]]
    eval_split: str
    select_split: str | None
    frames: dict[str, int] = field(default_factory=dict)  # video -> frame count, known once preprocessed
    # query by example: per split, one example per query class (class i = query_names[split][i])
    queries: dict[str, tuple[VideoRecord, ...]] = field(default_factory=dict)
    query_names: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def num_outputs(self) -> int:
        """Classifier outputs: the classes plus background."""
        return len(self.class_names) + 1

    @property
    def splits(self) -> list[str]:
        """The splits used, in order: train, [selection], evaluation."""
        return ["train"] + ([self.select_split] if self.select_split else []) + [self.eval_split]

    def all_videos(self) -> list[VideoRecord]:
        """Every video a run preprocesses (and its experts extract): the splits' videos, then their queries."""
        return [v for split in self.splits for v in (*self.videos[split], *self.queries.get(split, ()))]

    def names_of(self, split: str) -> tuple[str, ...]:
        """The classes ``split``'s annotations are in: its queries' glosses, or :attr:`class_names`."""
        return self.query_names.get(split) or self.class_names

    def ground_truth(self, split: str) -> Segments:
        return {v.video_id: [list(a) for a in v.annotations or ()] for v in self.videos[split]}

    def scorable(self, split: str, predictions: Segments) -> Segments:
        """``predictions`` of ``split`` without the segments inside its videos' ignored spans (scored as
        neither right nor wrong, :func:`benchmark.engine.clips.outside_ignored`)."""
        from benchmark.engine.clips import outside_ignored

        ignored = {v.video_id: v.ignored for v in self.videos[split] if v.ignored}
        if not ignored:
            return predictions
        return {vid: outside_ignored(segs, ignored.get(vid, ())) for vid, segs in predictions.items()}

    def n_frames(self, video_id: str) -> int:
        return int(self.frames[video_id])


@dataclass(frozen=True)
class Preprocessed:
    """Per-video modality arrays in one cache folder: ``index[video][modality]`` is a path relative to it."""

    key: str
    folder: Path
    index: dict[str, dict[str, str]]
    frames: dict[str, int]
    skipped: dict[str, str]  # video -> why it was left out (on_bad_video: skip)
    input_keys: dict[str, str]  # modality -> what its arrays depend on (dataset + its modality chain's settings)

    def array(self, video_id: str, modality: str):
        """The modality array of one video, memory-mapped."""
        import numpy as np

        return np.load(self.folder / self.index[video_id][modality], mmap_mode="r")

    def restrict(self, data: RunData) -> RunData:
        """``data`` with its frame counts, without the videos left out as bad (they drop out of every stage)."""
        from benchmark.errors import DataError

        videos = {s: tuple(v for v in vs if v.video_id in self.index) for s, vs in data.videos.items()}
        lost = [q for qs in data.queries.values() for q in qs if q.video_id not in self.index]
        if lost:  # a class without its example cannot be spotted at all: never skipped quietly
            where = ", ".join(str(q.video_path or q.pose_path) for q in lost)
            raise DataError(f"query example(s) could not be preprocessed: {where}")
        kept = [v for vs in videos.values() for v in vs] + [q for qs in data.queries.values() for q in qs]
        frames = {v.video_id: int(self.frames[v.video_id]) for v in kept}
        return replace(data, videos=videos, frames=frames)


@dataclass(frozen=True)
class ExpertFeatures:
    """One expert's clip features: ``folder/<video>.npy`` float32 ``[n_clips, dim]``; ``checkpoint``: the trained
    weights they were extracted with."""

    expert_id: str
    train_key: str
    key: str
    folder: Path
    dim: int
    checkpoint: Path

    def load(self, video_id: str):
        import numpy as np

        return np.load(self.folder / f"{video_id}.npy")


@dataclass(frozen=True)
class Features:
    """The spotter's input: the experts' features concatenated per clip, in the entry's expert order."""

    experts: tuple[ExpertFeatures, ...]

    @property
    def dim(self) -> int:
        return sum(e.dim for e in self.experts)

    @property
    def keys(self) -> list[str]:
        return [e.key for e in self.experts]

    def video(self, video_id: str):
        import numpy as np

        return np.concatenate([e.load(video_id) for e in self.experts], axis=1)


@dataclass(frozen=True)
class TrainedSpotter:
    key: str
    folder: Path
    feature_dim: int
    best_epoch: int | None
    val_f1: float | None = None  # the selection split's F1 at the chosen epoch (None without a selection split)

    @property
    def state_path(self) -> Path:
        return self.folder / SPOTTER_STATE


@dataclass(frozen=True)
class Predictions:
    """The decoded segments of the evaluation split, as the challenge's pickle."""

    key: str
    folder: Path
    split: str

    @property
    def path(self) -> Path:
        return self.folder / PREDICTIONS

    @property
    def scored_path(self) -> Path:
        return self.folder / SEGMENTS

    def load(self) -> Segments:
        """The challenge's segments ``[class, start_ms, end_ms]`` (from the pickle, through the safe loader)."""
        from benchmark.storage.safe_pickle import load_annotations

        return load_annotations(self.path)

    def load_scored(self) -> Segments:
        """The segments with the decoder's scores (``[class, start_ms, end_ms, score]`` where it gave one)."""
        import json

        if not self.scored_path.is_file():
            return self.load()
        return {v: [list(s) for s in segs] for v, segs in json.loads(self.scored_path.read_text()).items()}


@dataclass
class RunSummary:
    """A run's result: the primary metric's numbers (``f1``, ``precision``, ``recall``, ``f1_iou_*``), the
    other metrics' prefixed by their name, and where the outputs are."""

    metrics: dict[str, float]
    scores: dict[str, Any]
    eval_split: str
    output_dir: Path
    artifacts: list[Path] = field(default_factory=list)
    pipeline: Path | None = None  # the trained pipeline's folder (:mod:`benchmark.storage.bundle`)

    def as_dict(self) -> dict:
        ci = [self.metrics[k] for k in ("f1_ci_low", "f1_ci_high") if k in self.metrics]
        return {
            **self.metrics,
            **({"f1_ci": ci} if len(ci) == 2 else {}),
            "eval_split": self.eval_split,
            "artifacts": list(self.artifacts),
            "output_dir": str(self.output_dir),
            "pipeline": str(self.pipeline) if self.pipeline else None,
        }


@dataclass
class Walk:
    """The hand-offs of the stages walked so far (:func:`benchmark.stages.graph.walk`)."""

    data: RunData
    pre: Preprocessed | None = None
    experts: list[ExpertFeatures] = field(default_factory=list)
    spotter: TrainedSpotter | None = None
    predictions: Predictions | None = None
    summary: RunSummary | None = None

    @property
    def features(self) -> Features:
        return Features(tuple(self.experts))
