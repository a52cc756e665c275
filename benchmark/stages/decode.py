"""Stage 4: run the trained spotter on the evaluation split and decode its per-clip outputs into segments."""

from __future__ import annotations

from benchmark.stages.base import Stages
from benchmark.stages.handoffs import Features, Predictions, RunData, TrainedSpotter
from benchmark.stages.spotter import decode_function
from benchmark.storage.cache import code_version, make_key
from benchmark.storage.files import write_json

BATCH_VIDEOS = 16  # videos' features in memory at once, one forward pass


def decode_key(decoder, spotter_key: str, data: RunData, config: dict) -> str:
    return make_key("decode", spotter_key, config["decoder"], data.eval_split, code_version(decoder))


def decode(stages: Stages, data: RunData, features: Features, spotter: TrainedSpotter, config: dict) -> Predictions:
    decoder = stages.component("decoder", config["decoder"]["name"])
    key = decode_key(decoder, spotter.key, data, config)

    def compute(folder):
        import torch
        from tqdm import tqdm

        from benchmark.engine.inference import load_model, predict_batch_with_model
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
        decode_one = decode_function(decoder, config)
        videos = list(data.videos[data.eval_split])
        predictions = {}
        with tqdm(total=len(videos), desc="decode", unit="video", leave=False, disable=not stages.progress) as bar:
            for start in range(0, len(videos), BATCH_VIDEOS):
                chunk = videos[start : start + BATCH_VIDEOS]
                outputs = predict_batch_with_model(model, [features.video(v.video_id) for v in chunk], stages.device)
                for video, output in zip(chunk, outputs):
                    probs, offsets, *levels = output
                    segments = decode_one(probs, offsets, data.n_frames(video.video_id), *levels)
                    predictions[video.video_id] = [list(s) for s in segments]
                bar.update(len(chunk))
        dump_annotations({v: [s[:3] for s in segs] for v, segs in predictions.items()}, folder / "predictions.pkl")
        write_json(folder / "segments.json", predictions)  # with the decoder's scores, when it gives them
        return {"params": {"split": data.eval_split, "videos": len(predictions)}}

    result = stages.run("decode", key, compute)
    return Predictions(key, result.folder, data.eval_split)
