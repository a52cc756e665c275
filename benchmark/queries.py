"""The query-by-example contract: a spotter given one example of each query sign instead of training on them
(the challenge's OSLWL track).  Part of the plugin API beside :mod:`benchmark.interfaces`."""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from typing import Any

from benchmark.interfaces import Spotter


class QuerySpotter(Spotter):
    """A spotter given one example of each query sign instead of training on them (query by example: the
    challenge's OSLWL track, ``bench lookup``).  The contract grows by as little as that needs:

    * a dataset with queries gives :meth:`benchmark.interfaces.Dataset.queries` / ``query_names`` for its
      validation and test splits (one example per query class, line i = class i); the run preprocesses them
      with the targets, the experts (trained on the ``train`` split's own classes) extract their features too;
    * ``spotter.settings.modality`` (when the spotter declares it) names a modality it reads frame by frame
      instead of the experts' clip features (``dtw``: ``pose``); the run preprocesses it;
    * nothing is trained: :meth:`match` turns a split's targets and queries into what a spotter's model gives,
      ``(probs [n_clips, Q + 1], offsets [n_clips, 2])`` per target, column ``q + 1`` the score of query
      ``q`` (column 0, background, is 0: the decoder's ``score_threshold`` decides), offsets in clips to the
      start and end of the best query's match; so MSSL's decoders (``segments-nms``, ``soft-nms``) and metric
      score it, and thresholds are chosen on validation like any decoder setting.
    """

    def create_model(self, feature_dim: int, num_outputs: int, settings: Mapping[str, Any]):
        raise TypeError(f"spotter {self.name!r} matches query examples: it has no model to train")

    @abc.abstractmethod
    def match(
        self, targets: Mapping[str, Any], queries: Sequence[Any], settings: Mapping[str, Any], clips, frames
    ) -> dict[str, tuple[Any, Any]]:
        """``{target_id: (probs, offsets)}`` for every target of a split.

        :param targets, queries: per video, the experts' concatenated clip features ``[n_clips, D]``, or the
            arrays of ``settings["modality"]`` ``[T, ...]`` with the video's frame size (``(array, (w, h))``)
        :param clips: the run's :class:`benchmark.engine.clips.ClipSpec`; ``frames``: ``{target_id: n_frames}``
        """
