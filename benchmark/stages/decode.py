"""Stage 4: run the trained spotter on the evaluation split and decode its per-clip outputs into segments.

:func:`decode_batches` is the body, shared with ``bench spot``: the same batches of :data:`BATCH_VIDEOS` videos
(the spotter pads a batch to its longest video), the same decoder call, so a run's own test videos spotted
again give its test predictions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from benchmark.interfaces import VideoRecord
from benchmark.queries import QuerySpotter
from benchmark.stages.base import Stage, Stages, Step
from benchmark.stages.handoffs import Features, Predictions, RunData, TrainedSpotter
from benchmark.stages.names import DECODE, PREDICTIONS, SEGMENTS
from benchmark.stages.spotter import decode_function
from benchmark.storage.cache import code_version, make_key
from benchmark.storage.files import write_json

BATCH_VIDEOS = 16  # videos' features in memory at once, one forward pass


def decode_key(decoder, spotter_key: str, data: RunData, config: dict) -> str:
    return make_key(DECODE, spotter_key, config["decoder"], data.eval_split, code_version(decoder))


def decode_batches(
    model, decode_one, videos: Sequence[VideoRecord], features_of: Callable, n_frames: Callable, device: str
) -> Iterator[tuple[list[VideoRecord], dict[str, list]]]:
    """``(batch, {video_id: segments})`` per batch of videos: the spotter on their features (``features_of(video)``,
    read when the batch runs), then the decoder per video (``n_frames(video_id)`` clamps its segments)."""
    from benchmark.engine.inference import predict_batch_with_model

    videos = list(videos)
    for start in range(0, len(videos), BATCH_VIDEOS):
        chunk = videos[start : start + BATCH_VIDEOS]
        outputs = predict_batch_with_model(model, [features_of(v) for v in chunk], device)
        segments = {}
        for video, output in zip(chunk, outputs):
            probs, offsets, *levels = output
            segments[video.video_id] = [list(s) for s in decode_one(probs, offsets, n_frames(video.video_id), *levels)]
        yield chunk, segments


def decode(
    stages: Stages, data: RunData, features: Features, spotter: TrainedSpotter, config: dict, pre=None
) -> Predictions:
    decoder = stages.component("decoder", config["decoder"]["name"])
    key = decode_key(decoder, spotter.key, data, config)
    matcher = stages.component("spotter", config["spotter"]["name"])
    if isinstance(matcher, QuerySpotter):
        return decode_queries(stages, key, matcher, decoder, data, features, config, pre)

    def compute(folder):
        import torch

        from benchmark.engine.inference import load_model
        from benchmark.runtime.progress import bar
        from benchmark.storage.safe_pickle import dump_annotations

        spot = config["spotter"]
        state = torch.load(spotter.state_path, map_location="cpu", weights_only=True)
        model = load_model(
            stages.component("spotter", spot["name"]),
            spot["settings"],
            state,
            spotter.feature_dim,
            data.num_outputs,
            stages.device,
        )
        videos = list(data.videos[data.eval_split])
        predictions = {}
        with bar(total=len(videos), desc=DECODE, enabled=stages.progress) as progress:
            batches = decode_batches(
                model,
                decode_function(decoder, config),
                videos,
                lambda v: features.video(v.video_id),
                data.n_frames,
                stages.device,
            )
            for chunk, segments in batches:
                predictions.update(segments)
                progress.update(len(chunk))
        dump_annotations({v: [s[:3] for s in segs] for v, segs in predictions.items()}, folder / PREDICTIONS)
        write_json(folder / SEGMENTS, predictions)  # with the decoder's scores, when it gives them
        return {"params": {"split": data.eval_split, "videos": len(predictions)}}

    result = stages.run(DECODE, key, compute)
    return Predictions(key, result.folder, data.eval_split)


def decode_queries(stages: Stages, key: str, matcher, decoder, data, features, config, pre) -> Predictions:
    """The evaluation split's targets matched with its queries (:mod:`benchmark.stages.queries`), decoded."""

    def compute(folder):
        from benchmark.stages.queries import predict
        from benchmark.storage.safe_pickle import dump_annotations

        predictions = predict(matcher, decode_function(decoder, config), data, data.eval_split, pre, features, config)
        dump_annotations({v: [s[:3] for s in segs] for v, segs in predictions.items()}, folder / PREDICTIONS)
        write_json(folder / SEGMENTS, predictions)
        return {"params": {"split": data.eval_split, "videos": len(predictions)}}

    result = stages.run(DECODE, key, compute)
    return Predictions(key, result.folder, data.eval_split)


# -- in the graph -------------------------------------------------------------------------------------------------


def _run(stages: Stages, walk, config: dict, experts) -> None:
    walk.predictions = decode(stages, walk.data, walk.features, walk.spotter, config, walk.pre)


def _steps(config: dict, data: RunData, components, earlier) -> list[Step]:
    from benchmark.stages.names import TRAIN_SPOTTER

    decoder = components("decoder").get(config["decoder"]["name"])
    key = decode_key(decoder, earlier[TRAIN_SPOTTER].key, data, config)
    return [Step(DECODE, DECODE, DECODE, key, (TRAIN_SPOTTER,))]


STAGE_SPEC = Stage(DECODE, _run, _steps)
