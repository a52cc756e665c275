"""Query by example in a run (:class:`benchmark.interfaces.QuerySpotter`): stages 3 and 4 when the spotter is
given one example of each query sign instead of training on them.

Stage 3 trains nothing: it matches the selection split's targets with its queries and records the primary
metric there (``val_f1``, what a query spotter's and its decoder's settings are chosen by).  Stage 4 matches the
evaluation split the same way.  A split's targets and queries reach :meth:`~QuerySpotter.match` as the experts'
clip features, or, when the spotter's ``modality`` setting names one, as that modality's arrays with the
video's frame size; the outputs are decoded by the run's decoder (:func:`benchmark.stages.spotter.
decode_function`), the selection split's by the selection decoder.
"""

from __future__ import annotations

from benchmark.stages.handoffs import Features, RunData


def inputs(data: RunData, split: str, pre, features: Features, settings: dict) -> tuple[dict, list]:
    """``({target_id: input}, [query input, ...])`` of ``split``, as :meth:`QuerySpotter.match` reads them."""
    import numpy as np

    from benchmark.modalities.pose import frame_size

    modality = settings.get("modality")
    if modality:
        read = lambda v: (np.asarray(pre.array(v.video_id, modality)), frame_size(v))
    else:
        read = lambda v: features.video(v.video_id)
    return {v.video_id: read(v) for v in data.videos[split]}, [read(q) for q in data.queries.get(split, ())]


def predict(spotter, decode, data: RunData, split: str, pre, features: Features, config: dict) -> dict:
    """``{target_id: segments}`` of ``split``: its targets matched with its queries, then decoded (a segment's
    class is its query's index, the split's class)."""
    from benchmark.engine.clips import ClipSpec

    if not data.queries.get(split):
        from benchmark.errors import DataError

        raise DataError(
            f"spotter {spotter.name!r} needs query examples, and split {split!r} of {data.dataset} has none"
        )
    settings = dict(config["spotter"]["settings"])
    if "seed" in settings and settings["seed"] is None:  # a spotter drawing at random: the spotter's seed
        seed = config["spotter"]["training"].get("seed")
        settings["seed"] = int(config["seed"] if seed is None else seed)
    targets, queries = inputs(data, split, pre, features, settings)
    frames = {vid: data.n_frames(vid) for vid in targets}
    outputs = spotter.match(targets, queries, settings, ClipSpec.from_config(config), frames)
    return {vid: [list(s) for s in decode(*outputs[vid], frames[vid])] for vid in targets}


def selection_f1(stages, spotter, decode, data: RunData, pre, features: Features, config: dict) -> float | None:
    """The primary metric on the selection split (None without one), decoded by ``decode`` (the selection
    decoder's)."""
    split = data.select_split
    if not split:
        return None
    segments = predict(spotter, decode, data, split, pre, features, config)
    primary = stages.component("metric", config["metrics"][0])
    return float(primary.compute(data.ground_truth(split), data.scorable(split, segments))["f1"])
