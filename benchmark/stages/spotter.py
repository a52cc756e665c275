"""Stage 3: train the spotter on the concatenated expert features of the training videos.

The checkpoint is chosen by the primary metric on the selection split (``select: best``) when the run has one,
else the last epoch is kept.  ``spotter.training.seed`` (default: the run's seed) re-seeds only this stage, so
the spread of the spotter alone can be measured on the same cached features.
"""

from __future__ import annotations

from benchmark import __version__
from benchmark.engine.clips import ClipSpec, frame_labels
from benchmark.queries import QuerySpotter
from benchmark.stages.base import Stage, Stages, Step
from benchmark.stages.handoffs import Features, RunData, TrainedSpotter
from benchmark.stages.names import SPOTTER_STATE, TRAIN_SPOTTER
from benchmark.storage.cache import code_version, make_key


def spotter_training(data: RunData, config: dict) -> dict:
    training = dict(config["spotter"]["training"])
    if not data.select_split:
        training["select"] = "last"
    return training


def spotter_seed(config: dict) -> int:
    seed = config["spotter"]["training"]["seed"]
    return int(config["seed"] if seed is None else seed)


def selection_decoder(config: dict, components) -> tuple[object, dict]:
    """The decoder that scores validation epochs, with its settings: the run's own unless
    ``spotter.training.select_decoder`` names another (then with that one's defaults), so runs that differ only
    in their decoder can share one trained spotter."""
    name = config["spotter"]["training"]["select_decoder"]
    if name is None:
        return components("decoder").get(config["decoder"]["name"]), config["decoder"]
    decoder = components("decoder").get(name)
    return decoder, {"name": name, "settings": decoder.with_defaults({})}


def spotter_key(spotter, data: RunData, feature_keys: list[str], config: dict, components) -> str:
    """``feature_keys``: the experts' feature keys, in the entry's order (:attr:`Features.keys`)."""
    selection = None
    if data.select_split:  # what selects the epoch
        selection = (selection_decoder(config, components)[1], config["metrics"][0])
    spot = config["spotter"]
    own = spot["settings"].get("modality")
    if own:  # a query spotter reading a modality itself: its arrays are an input too
        from benchmark.stages.preprocess import input_keys

        feature_keys = [*feature_keys, input_keys(data, config, components("modality"))[own]]
    return make_key(
        TRAIN_SPOTTER,
        list(feature_keys),
        spot["name"],
        spot["settings"],
        spotter_training(data, config),
        spotter_seed(config),
        data.num_outputs,
        selection,
        code_version(spotter),
        __version__,
    )


def decode_function(decoder, config: dict):
    """``decode(probs, offsets, n_frames, levels=None)`` for one video with the entry's decoder and clips."""
    clips = ClipSpec.from_config(config)
    settings = config["decoder"]["settings"]

    def decode(probs, offsets, n_frames, levels=None):
        extra = {} if levels is None else {"levels": levels}  # decoders of single-level spotters need not take it
        return decoder.decode(probs, offsets, clips, settings, n_frames=n_frames, **extra)

    return decode


def train_spotter(stages: Stages, data: RunData, features: Features, config: dict, pre=None) -> TrainedSpotter:
    spot = config["spotter"]
    spotter = stages.component("spotter", spot["name"])
    clips = ClipSpec.from_config(config)
    key = spotter_key(spotter, data, features.keys, config, stages.components)
    if isinstance(spotter, QuerySpotter):
        return match_queries(stages, spotter, key, data, features, config, pre)

    def compute(folder):
        import torch

        from benchmark.engine.spotter_training import train_spotter as train

        train_data = [
            (
                features.video(v.video_id),
                clips.clip_labels(frame_labels(v.annotations, data.n_frames(v.video_id), clips.fps, v.ignored)),
            )
            for v in data.videos["train"]
        ]
        val_data, decode_fn, score_fn = selection(stages, data, features, config)
        result = train(
            spotter,
            spot["settings"],
            spotter_training(data, config),
            train_data,
            data.num_outputs,
            clips,
            val_data=val_data,
            decode_fn=decode_fn,
            score_fn=score_fn,
            device=stages.device,
            seed=spotter_seed(config),
            on_epoch=stages.on_epoch(TRAIN_SPOTTER),
            progress=stages.progress,
        )
        from benchmark.storage.files import atomic_write

        with atomic_write(folder / SPOTTER_STATE) as f:
            torch.save(result["state_dict"], f)
        return {
            "params": {
                "feature_dim": features.dim,
                "best_epoch": result.get("best_epoch"),
                "best_val_f1": result.get("best_val_f1"),
            },
            "metrics": {
                "best_epoch": result.get("best_epoch", -1),
                **({"best_val_f1": result["best_val_f1"]} if result.get("best_val_f1") is not None else {}),
            },
        }

    stages.echo(f"train spotter {spot['name']} on {features.dim}-d features")
    result = stages.run(TRAIN_SPOTTER, key, compute)
    return TrainedSpotter(
        key, result.folder, features.dim, result.params.get("best_epoch"), result.params.get("best_val_f1")
    )


def match_queries(stages: Stages, spotter, key: str, data: RunData, features: Features, config: dict, pre):
    """A query spotter trains nothing: the step records its F1 on the selection split
    (:mod:`benchmark.stages.queries`)."""
    from benchmark.stages.queries import selection_f1

    decoder, section = selection_decoder(config, stages.components)
    decode = decode_function(decoder, {**config, "decoder": section})

    def compute(folder):
        val_f1 = selection_f1(stages, spotter, decode, data, pre, features, config)
        extra = {} if val_f1 is None else {"best_val_f1": val_f1}
        return {"params": {"feature_dim": features.dim, "best_epoch": None, **extra}, "metrics": extra}

    stages.echo(f"match queries with {spotter.name} (nothing to train)")
    result = stages.run(TRAIN_SPOTTER, key, compute)
    return TrainedSpotter(key, result.folder, features.dim, None, result.params.get("best_val_f1"))


def selection(stages: Stages, data: RunData, features: Features, config: dict) -> tuple:
    """``(val_data, decode_fn, score_fn)`` that choose the spotter's epoch on the selection split (all None
    without one): its videos' features and lengths, the selection decoder, the primary metric."""
    if not data.select_split:
        return None, None, None
    split = data.select_split
    val_data = [(v.video_id, features.video(v.video_id), data.n_frames(v.video_id)) for v in data.videos[split]]
    gt = data.ground_truth(split)
    primary = stages.component("metric", config["metrics"][0])
    decoder, section = selection_decoder(config, stages.components)

    def score_fn(predictions):
        return primary.compute(gt, data.scorable(split, predictions))

    return val_data, decode_function(decoder, {**config, "decoder": section}), score_fn


# -- in the graph -------------------------------------------------------------------------------------------------


def _run(stages: Stages, walk, config: dict, experts) -> None:
    walk.spotter = train_spotter(stages, walk.data, walk.features, config, walk.pre)


def _steps(config: dict, data: RunData, components, earlier) -> list[Step]:
    from benchmark.stages.names import EXTRACT

    extracted = [s for s in earlier.values() if s.store == EXTRACT]
    spotter = components("spotter").get(config["spotter"]["name"])
    key = spotter_key(spotter, data, [s.key for s in extracted], config, components)
    return [Step(TRAIN_SPOTTER, TRAIN_SPOTTER, TRAIN_SPOTTER, key, tuple(s.name for s in extracted))]


STAGE_SPEC = Stage(TRAIN_SPOTTER, _run, _steps)
