"""The contracts between the core and its plugins.

Nothing here imports torch, mediapipe or mlflow: plugins do that in their own modules, when used.
Array conventions (shared by every stage):

* times are integer milliseconds at 25 fps (40 ms per frame); annotations are ``[class_id, start_ms, end_ms]``
  with ``class_id`` in ``0..num_classes-1``;
* frame labels and clip labels are ``class_id + 1`` inside a sign and ``0`` for background, so a classifier
  over signs has ``num_classes + 1`` outputs (61 for MSSL);
* modality arrays are saved per video as ``.npy``: ``pose`` float32 ``[T, 75, 4]`` (33 body, 21 left hand,
  21 right hand; x, y in [0, 1] of the frame, z, visibility; NaN where missing), ``rgb-crop`` and
  ``rgb-hands`` uint8 ``[T, S, S, 3]`` RGB, ``flow-tvl1`` uint8 ``[T, S, S, 2]`` (the T-1 flow frames plus the
  last one repeated, so every modality has T frames), ``skeleton`` float32 ``[T, 57, 3]``;
* clip features are float32 ``[n_clips, dim]`` per video and expert.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

FPS = 25
MS_PER_FRAME = 40

Annotation = Sequence[int]  # [class_id, start_ms, end_ms]
Predictions = dict  # {video_id: [[class_id, start_ms, end_ms], ...]}


@dataclass(frozen=True)
class VideoRecord:
    """One continuous video of a dataset split.  ``video_path`` or ``pose_path`` may be None (not both)."""

    video_id: str
    split: str
    video_path: Path | None = None
    pose_path: Path | None = None
    annotations: tuple[tuple[int, int, int], ...] | None = None  # None: unlabelled (e.g. the test split)
    fps: float = FPS


class Dataset(abc.ABC):
    """A dataset on disk, read-only.  Splits are named ``train``, ``validation`` and ``test``."""

    name: str = ""
    root: Path
    class_names: list[str]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @abc.abstractmethod
    def splits(self) -> list[str]:
        """The splits present, in ``train, validation, test`` order."""

    @abc.abstractmethod
    def videos(self, split: str) -> list[VideoRecord]:
        """The videos of ``split``, sorted by id."""

    def ground_truth(self, split: str) -> Predictions:
        """``{video_id: [[class, start_ms, end_ms], ...]}`` for a labelled split (the scorer's input)."""
        return {v.video_id: [list(a) for a in (v.annotations or ())] for v in self.videos(split)}

    @abc.abstractmethod
    def fingerprint(self) -> str:
        """A short hash identifying the exact content (file names, sizes, annotations) for cache keys and tags."""


# factory(root, settings, cache_dir) -> Dataset.  root is None for datasets that can create themselves.
DatasetFactory = Callable[[Path | None, Mapping[str, Any], Path], Dataset]


class Modality(abc.ABC):
    """A per-video preprocessing output (pose, crops, flow, skeleton), cached as one ``.npy`` per video."""

    name: str = ""
    requires: tuple[str, ...] = ()  # modalities whose arrays ``compute`` receives in ``inputs``
    needs_frames: bool = True  # whether ``compute`` needs the decoded RGB frames
    version: str = "1"  # bump to invalidate cached outputs when the algorithm changes
    description: str = ""

    @abc.abstractmethod
    def compute(self, video: VideoRecord, frames, inputs: Mapping[str, Any], settings: Mapping[str, Any]):
        """Return the modality array for one video.  ``frames`` is uint8 ``[T, H, W, 3]`` RGB or None."""


class Metric(abc.ABC):
    """Scores predictions against ground truth (both in the challenge's pickle format)."""

    name: str = ""
    description: str = ""

    @abc.abstractmethod
    def compute(self, ground_truth: Predictions, predictions: Predictions) -> dict[str, Any]:
        """Return at least ``f1``, ``precision``, ``recall`` (floats); more keys are logged when numeric."""


class Decoder(abc.ABC):
    """Turns one video's per-clip outputs into segments ``[[class_id, start_ms, end_ms], ...]``."""

    name: str = ""
    description: str = ""

    @abc.abstractmethod
    def decode(self, probs, offsets, clips, settings: Mapping[str, Any]) -> list[list[int]]:
        """``probs`` float ``[n_clips, num_classes + 1]`` (column 0 = background), ``offsets`` float
        ``[n_clips, 2]`` (clips to the start and the end of the sign), ``clips`` a
        :class:`benchmark.clips.ClipSpec`."""


@dataclass
class Component:
    """What a registry holds: the component plus who provided it."""

    name: str
    obj: Any
    plugin: str
    distribution: str | None = None
    description: str = ""
    extra: dict = field(default_factory=dict)
