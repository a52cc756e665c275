"""The six contracts between the core and its plugins: Dataset, Modality, Expert, Spotter, Decoder, Metric.

The plugin API is this module (contracts, and the rule helpers ``each``, ``either``, ``optional``),
``benchmark.hookimpl``, :mod:`benchmark.hookspecs`, :mod:`benchmark.errors`, :mod:`benchmark.joints` and the
query-by-example contract :mod:`benchmark.queries`; a plugin may reuse :mod:`benchmark.engine`.  No torch here.

Array conventions shared by every stage:

* times are integer milliseconds in the input's own time line; annotations are ``[class_id, start_ms, end_ms]``
  with ``class_id`` in ``0..num_classes-1``.  Every input is brought to the entry's frame rate
  (``preprocess.fps``, default :data:`FPS` = 25, 40 ms a frame) when it is decoded, so array index ``f`` is the
  frame shown at ``f x 1000 / fps`` ms of the original, at any source rate (see :mod:`benchmark.engine.clips`);
* frame labels and clip labels are ``class_id + 1`` inside a sign and ``0`` for background, so a classifier over
  signs has ``num_classes + 1`` outputs (61 for MSSL);
* modality arrays are saved per video as ``.npy`` with time first (``[T, ...]``): ``pose`` float32
  ``[T, 75, 4]``, ``rgb-crop`` / ``rgb-hands`` uint8 ``[T, S, S, 3]``, ``flow-tvl1`` uint8 ``[T, S, S, 2]``,
  ``skeleton`` float32 ``[T, 57, 3]`` (layouts in :mod:`benchmark.joints`);
* clip features are float32 ``[n_clips, dim]`` per video and expert.

Settings: ``defaults`` (name -> default) with ``rules`` (what a value may be), merged under an entry's settings;
undeclared keys and broken rules fail before any work (:mod:`benchmark.config.settings`).
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from benchmark.config.rules import each, either, optional, require

FPS = 25
MS_PER_FRAME = 40

Annotation = Sequence[int]  # [class_id, start_ms, end_ms]
Segments = dict  # {video_id: [[class_id, start_ms, end_ms], ...]}; predictions may add a score: [..., score]
EpochCallback = Callable[[int, Mapping[str, float]], None]  # on_epoch(epoch counted from 1, metrics)


@dataclass(frozen=True)
class VideoRecord:
    """One continuous video of a dataset split.  ``video_path`` or ``pose_path`` may be None (not both)."""

    video_id: str
    split: str
    video_path: Path | None = None
    pose_path: Path | None = None
    annotations: tuple[tuple[int, int, int], ...] | None = None  # None: unlabelled (e.g. a test split)
    fps: float = FPS  # the source's own rate when the dataset knows it (informative: decoding reads the file's)
    # spans (start_ms, end_ms) neither sign nor background (ELAN's `variants: ignore`): not trained on, not scored
    ignored: tuple[tuple[int, int], ...] = ()


class Configurable:
    """What every component has: a name, a one-line description and its declared settings."""

    name: str = ""
    description: str = ""
    defaults: ClassVar[dict] = {}  # the settings this component reads, with their defaults
    shared_defaults: ClassVar[dict] = {}  # set by a base class: keys every component of its kind accepts
    # what each value may be (checked before any work): choices, ">=0", "0..1", "int>=1", each(), either(), optional()
    rules: ClassVar[dict] = {}
    shared_rules: ClassVar[dict] = {}

    @classmethod
    def declared(cls) -> dict:
        """Every settings key this component accepts, with its default."""
        return {**cls.shared_defaults, **cls.defaults}

    @classmethod
    def value_rules(cls) -> dict:
        """The value rules of :meth:`declared` settings."""
        return {**cls.shared_rules, **cls.rules}

    @classmethod
    def with_defaults(cls, settings: Mapping[str, Any] | None) -> dict:
        """``settings`` over the declared defaults (checking unknown keys is the core's job, earlier)."""
        return {**cls.declared(), **dict(settings or {})}

    @classmethod
    def checked(cls, settings: Mapping[str, Any] | None, error: type[Exception] = ValueError) -> dict:
        """:meth:`with_defaults`, rules kept: for settings that skipped an entry's resolution (Python callers)."""
        merged = cls.with_defaults(settings)
        require(cls.name or cls.__name__, merged, cls.value_rules(), error)
        return merged


class Dataset(Configurable, abc.ABC):
    """A dataset on disk, read-only, with splits ``train``, ``validation``, ``test``.  A plugin registers the class:
    the core calls :meth:`open` once per run."""

    root: Path
    class_names: list[str]
    warnings: list[str] = []  # problems worth knowing that do not stop a run (printed by ``bench run``)

    @classmethod
    @abc.abstractmethod
    def open(cls, root: Path | None, settings: Mapping[str, Any], cache_dir: Path, *, progress: bool = True) -> Dataset:
        """Open (or, for a dataset that can create itself, create under ``cache_dir``) the dataset.

        :param root: the folder (``--data``), or None; ``settings``: ``dataset.settings`` merged over :attr:`defaults`
        :param cache_dir: the stage cache's root (datasets generated on first use); ``progress``: a bar may show
        """

    @classmethod
    def check(
        cls, root: Path | None, settings: Mapping[str, Any], cache_dir: Path | None, *, open_media: bool = True
    ) -> dict[str, Any]:
        """``bench data check``: the dataset at ``root`` with ``settings`` (as given; merged over :attr:`defaults`
        here) checked, every problem collected instead of raised.

        Default, for any dataset: the settings against their declaration, :meth:`open` (what it raises is the
        problem), each split's videos and their annotations against the class list, then every video's media
        opened unless ``open_media`` is false (frame counts, rates, decodability, signs past the end) and the
        statistics (:func:`benchmark.datasets.check.check_opened`).  Override it to report a folder problem by
        problem where :meth:`open` stops at the first, or to add a format's own notes (ChaLearn MSSL, ELAN).

        :param cache_dir: the stage cache's root (None: nothing may be cached)
        :return: the report :func:`benchmark.datasets.check.format_report` prints (``problems`` empty: usable)
        """
        from benchmark.datasets.check import check_opened

        return check_opened(cls, root, settings, cache_dir, open_media=open_media)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @abc.abstractmethod
    def splits(self) -> list[str]:
        """The splits present, in ``train, validation, test`` order."""

    @abc.abstractmethod
    def videos(self, split: str) -> list[VideoRecord]:
        """The videos of ``split``, sorted by id."""

    def labelled(self, split: str) -> bool:
        """Whether ``split`` carries ground truth (every video has ``annotations``)."""
        videos = self.videos(split)
        return bool(videos) and all(v.annotations is not None for v in videos)

    def missing_ground_truth(self, split: str) -> dict[str, str]:
        """Videos of a labelled split that its ground truth does not mention: ``{video_id: ground-truth file}``
        (their ``annotations`` are empty; ``--on-bad-annotation`` decides whether that is an error)."""
        return {}

    def queries(self, split: str) -> list[VideoRecord]:
        """Query by example (:class:`benchmark.queries.QuerySpotter`): one example per class of ``split``, in
        class order, its ``video_id`` the gloss.  Empty for a closed vocabulary (MSSL)."""
        return []

    @abc.abstractmethod
    def fingerprint(self) -> str:
        """A short hash identifying the exact content, for cache keys and tags."""


class FrameProcessor(abc.ABC):
    """Per-frame work done during the single decoding pass of a video (pose estimation)."""

    @abc.abstractmethod
    def process(self, rgb) -> Any:
        """One uint8 ``[H, W, 3]`` RGB frame -> this frame's row of the modality array."""

    def close(self) -> None:  # noqa: B027 - optional to override: most processors hold nothing to release
        """Release what the processor holds (a model, a graph)."""


class Modality(Configurable, abc.ABC):
    """A per-video preprocessing output (pose, crops, flow, skeleton), cached as one ``.npy`` per video.  Each
    video is decoded once: :meth:`open_stream` sees every frame while decoding; :meth:`compute` gets the (maybe
    downscaled, :meth:`frame_size`) frames afterwards, or only the arrays of the modalities it ``requires``."""

    requires: tuple[str, ...] = ()  # modalities whose arrays ``compute`` receives in ``inputs``
    needs_frames: bool = True  # whether ``compute`` (or ``open_stream``) needs the decoded RGB frames
    settings_from: tuple[str, ...] = ()  # other ``preprocess`` sections merged under this one's settings
    channels: int = 3  # channels of one frame as a model sees it (rgb 3, flow 2, skeleton x/y/z 3)
    version: str = "1"  # bump to invalidate cached outputs when the algorithm changes

    def prepare(self, settings: Mapping[str, Any]) -> dict:
        """Settings as they will run, resolved once before any video (model files checked, fallbacks chosen);
        part of the cache key, so it must say what the outputs depend on."""
        return dict(settings)

    def read_file(self, video: VideoRecord, settings: Mapping[str, Any]):
        """``(array [T, ...], meta)`` read from a file the dataset ships (e.g. a ``.pose`` file), ``meta`` holding
        ``width``, ``height``, ``fps``, ``frames``; None when the video has none (the modality is computed)."""
        return None

    def resample(self, array, source_fps: float, fps: float):
        """An array read by :meth:`read_file` at ``source_fps`` brought to the ``fps`` grid: by default the nearest
        source frame; a modality whose values vary smoothly may interpolate (pose does)."""
        from benchmark.preprocessing.resample import nearest

        return nearest(array, source_fps, fps)

    def frame_bytes(self, settings: Mapping[str, Any], inputs: Mapping[str, int]) -> int | None:
        """Bytes one frame of this modality's array takes on disk, for the free-space check before preprocessing
        (``inputs``: the same for each modality of :attr:`requires`); None when unknown (not counted)."""
        return None

    def frame_size(self, width: int, height: int, settings: Mapping[str, Any]) -> tuple[int, int] | None:
        """The smallest ``(w, h)`` the frames may be downscaled to before :meth:`compute` (None: full size)."""
        return None

    def open_stream(self, video: VideoRecord, settings: Mapping[str, Any], fps: float) -> FrameProcessor | None:
        """A :class:`FrameProcessor` fed every frame while the video is decoded, or None (see :meth:`compute`)."""
        return None

    @abc.abstractmethod
    def compute(self, video: VideoRecord, frames, inputs: Mapping[str, Any], settings: Mapping[str, Any]):
        """The modality array ``[T, ...]`` of one video.
        :param frames: uint8 ``[T, H, W, 3]`` RGB (maybe downscaled) when :attr:`needs_frames`, else None
        :param inputs: the arrays of :attr:`requires` by name, plus ``meta`` (``width``, ``height`` of the source
            video; ``fps`` and ``frames`` of the grid the arrays are on; ``source_fps``)
        :param settings: the prepared settings (:meth:`prepare`)
        """


class Expert(Configurable, abc.ABC):
    """A clip classifier whose pooled features feed the spotter.  A subclass says what it reads (:attr:`modality`),
    its feature size (:meth:`feature_dim`) and how to create its model (:meth:`create_model`), whose
    ``forward(x)`` returns ``(features [B, D] (the pool before the classifier), logits [B, num_outputs])`` and
    whose last layer is a ``Linear`` named ``classifier``; the base builds it (channels, pretrained weights)."""

    modality: str = "rgb-crop"  # the modality read when the entry names none
    input_kind: str = "video"  # video: uint8 [B, L, S, S, C] -> [B, C, L, s, s]; skeleton: [B, L, V, C] -> [B, C, L, V]
    training_defaults: ClassVar[dict] = {}  # over the entry's expert_training (e.g. ST-GCN: adam, lr 5e-4)
    pretrained_filename: str = ""  # the public checkpoint's file name (looked up in the torch hub cache)
    pretrained_url: str | None = None  # where that file can be downloaded (printed, never fetched)
    shared_defaults: ClassVar[dict] = {"pretrained": None, "pretrained_strict": True, "in_channels": None}

    @abc.abstractmethod
    def feature_dim(self, settings: Mapping[str, Any]) -> int:
        """Size of the pooled feature for these settings (must match what the model returns)."""

    @abc.abstractmethod
    def create_model(
        self, in_channels: int, num_outputs: int, settings: Mapping[str, Any], *, pretrained: bool = False
    ):
        """A fresh ``torch.nn.Module`` (see the class docstring); import torch and the model here.  ``settings``
        are merged; ``pretrained``: whether weights a library provides itself should be loaded (e.g. timm's hub;
        checkpoint files named by the ``pretrained`` setting are loaded by :meth:`build`)."""

    def build(
        self,
        num_outputs: int,
        settings: Mapping[str, Any] | None,
        modality: Modality | None = None,
        *,
        pretrained: bool = True,
    ):
        """The model for ``num_outputs`` classes reading ``modality`` (None: 3 channels, even for P3D's flow);
        ``pretrained=False`` skips the ``pretrained`` setting (a trained state is loaded next)."""
        s = self.checked(settings)
        in_channels = int(s["in_channels"] or (modality.channels if modality is not None else 3))
        model = self.create_model(in_channels, int(num_outputs), s, pretrained=pretrained)
        path = self.pretrained_file(s["pretrained"]) if pretrained else None
        if path is not None:
            from benchmark.engine.checkpoints import load_pretrained

            load_pretrained(self, model, path, strict=bool(s["pretrained_strict"]))
        return model

    def pretrained_file(self, value) -> Path | None:
        """The checkpoint file the ``pretrained`` setting names (None: from scratch): a path, or ``auto`` for
        :attr:`pretrained_filename` in the torch hub cache; never downloads."""
        from benchmark.engine.checkpoints import pretrained_path

        return pretrained_path(value, filename=self.pretrained_filename, url=self.pretrained_url, what=self.name)

    def convert_checkpoint(self, state: dict, model) -> dict:
        """Map a public checkpoint's tensors onto this expert's layer names (drop its classifier...)."""
        return state

    def clip_input(self, windows, train: bool, training: Mapping[str, Any], rng):
        """A batch of modality windows -> the model's input tensor (augmented when ``train``)."""
        from benchmark.engine import transforms

        return transforms.clip_input(windows, train, training, rng)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} modality={self.modality!r}>"


# Settings every spotter accepts (the README promises them): the sizes a profile sets for whichever spotter runs,
# and the targets' clamp, which the trainer reads.  A spotter that has no use for one ignores it.
SHARED_SPOTTER_SETTINGS = {
    "reduce_dims": [512],
    "hidden": 256,
    "head_dim": 256,
    "dropout": 0.5,
    "reg_bias": 0.0,
    "offset_clamp": None,
}
SHARED_SPOTTER_RULES = {
    "reduce_dims": each("int>=1"),
    "hidden": ">=1",
    "head_dim": ">=1",
    "dropout": "0..<1",
    "offset_clamp": ">=0",
}


class Spotter(Configurable, abc.ABC):
    """A temporal model over clip features: ``spotter.build(feature_dim, num_outputs, settings)`` is a module with
    ``forward(x [B, T, D], lengths [B]) -> (logits [B, T, num_outputs], offsets [B, T, 2])``: column 0 of the
    logits is background, offsets are non-negative distances (in clips) to the start and the end of the sign.  A
    pyramid spotter adds its outputs at every level, ``[(logits_l [B, T_l, C], offsets_l [B, T_l, 2] in level-0
    clips, stride_l), ...]``, level 0 first (the same tensors, stride 1), for decoders such as ``soft-nms``.
    Positions ``t >= lengths[b]`` are padding: they never change valid outputs, and their own outputs are zero."""

    shared_defaults: ClassVar[dict] = SHARED_SPOTTER_SETTINGS
    shared_rules: ClassVar[dict] = SHARED_SPOTTER_RULES

    @abc.abstractmethod
    def create_model(self, feature_dim: int, num_outputs: int, settings: Mapping[str, Any]):
        """The ``torch.nn.Module`` (import torch and the model here); ``settings`` are merged."""

    def build(self, feature_dim: int, num_outputs: int, settings: Mapping[str, Any] | None = None):
        if int(feature_dim) < 1 or int(num_outputs) < 2:
            raise ValueError(
                f"spotter {self.name!r}: feature_dim must be >= 1 and num_outputs >= 2, "
                f"got {feature_dim}, {num_outputs}"
            )
        return self.create_model(int(feature_dim), int(num_outputs), self.checked(settings))

    def loss(self, settings: Mapping[str, Any], loss_settings: Mapping[str, Any], class_counts=None):
        """The training loss, ``loss(outputs, batch) -> (total, classification, regression)`` (torch scalars), from
        the spotter's merged settings, the complete ``spotter.training.loss`` and the training clips per output
        class (``classification: balanced``).  Default: :class:`benchmark.engine.losses.SpottingLoss` on level 0;
        ``batch`` is a :class:`benchmark.engine.spotter_training.Batch`."""
        from benchmark.engine.losses import SpottingLoss

        return SpottingLoss(loss_settings, class_counts=class_counts).on_batch


# The post-filters every decoder accepts (spotters.decoders.filters).
SHARED_DECODER_SETTINGS = {"min_clips": 1, "merge_gap": 0, "score_threshold": 0.0}


class Decoder(Configurable, abc.ABC):
    """Turns one video's spotter outputs into segments ``[[class_id, start_ms, end_ms, score], ...]``."""

    shared_defaults: ClassVar[dict] = SHARED_DECODER_SETTINGS
    shared_rules: ClassVar[dict] = {"min_clips": ">=1", "merge_gap": ">=0", "score_threshold": "0..1"}

    @abc.abstractmethod
    def decode(
        self, probs, offsets, clips, settings: Mapping[str, Any], n_frames: int | None = None, levels=None
    ) -> list[list]:
        """Segments of one video, each ``[class_id, start_ms, end_ms]`` or ``[class_id, start_ms, end_ms, score]``
        (a score in [0, 1], higher = more confident: ``tal-map`` ranks by it; the challenge's pickle drops it).

        :param probs, offsets: float ``[n_clips, num_classes + 1]`` (column 0 = background) and ``[n_clips, 2]``
        :param clips: the run's :class:`benchmark.engine.clips.ClipSpec` (clip index -> frames -> ms)
        :param settings: merged over :attr:`declared`
        :param n_frames: the video's frame count (segments are clamped to it)
        :param levels: a pyramid spotter's outputs at every level, ``[(probs_l [T_l, C], offsets_l [T_l, 2] in
            level-0 clips, stride_l), ...]`` (level 0 first: ``probs``, ``offsets``, 1), or None; point ``p`` of a
            level stands at clip ``p * stride_l + (stride_l - 1) / 2``
        """


class Metric(Configurable, abc.ABC):
    """Scores predictions against ground truth (``{video_id: [[class_id, start_ms, end_ms], ...]}``; predicted
    segments may carry a 4th element, the decoder's score)."""

    @abc.abstractmethod
    def compute(self, ground_truth: Segments, predictions: Segments) -> dict[str, Any]:
        """Numbers by name (numeric values are logged; a ``note`` string is printed).  The entry's first metric
        selects the spotter's epoch and is the run's headline: it must give ``f1``, ``precision`` and ``recall``."""


KINDS = {contract.__name__.lower(): contract for contract in (Dataset, Modality, Expert, Spotter, Decoder, Metric)}

__all__ = [
    "FPS",
    "KINDS",
    "MS_PER_FRAME",
    "SHARED_DECODER_SETTINGS",
    "SHARED_SPOTTER_RULES",
    "SHARED_SPOTTER_SETTINGS",
    "Annotation",
    "Configurable",
    "Dataset",
    "Decoder",
    "EpochCallback",
    "Expert",
    "FrameProcessor",
    "Metric",
    "Modality",
    "Segments",
    "Spotter",
    "VideoRecord",
    "each",
    "either",
    "optional",
]
