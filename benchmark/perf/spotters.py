"""Throughput checks: vote decoding + official scoring of 100 hours of clips, and spotter training clips/s."""

from __future__ import annotations

import time

import numpy as np


def synthetic_outputs(
    hours: float = 100.0, video_minutes: float = 2.0, num_classes: int = 60, clips=None, seed: int = 0
):
    """Spotter-like outputs for ``hours`` of 25 fps video: per video a list of signs (about one every 6 s,
    1..8 clips), probs peaked on the true class inside signs (10 % of clips flipped at random) and noisy
    offsets.  Returns ``(ground_truth, videos)`` with ``videos = [(video_id, probs, offsets, n_frames)]``."""
    from benchmark.engine.clips import ClipSpec, segments_from_clip_labels

    clips = clips or ClipSpec()
    rng = np.random.default_rng(seed)
    n_frames = int(video_minutes * 60 * 25)
    n_clips = clips.num_clips(n_frames)
    n_videos = max(1, int(round(hours * 60 / video_minutes)))
    c = num_classes + 1
    gt, videos = {}, []
    for v in range(n_videos):
        labels = np.zeros(n_clips, np.int64)
        t = int(rng.integers(0, 10))
        while t < n_clips:
            length = int(rng.integers(1, 9))
            labels[t : t + length] = rng.integers(1, c)
            t += length + int(rng.integers(5, 40))
        noisy = labels.copy()
        flip = rng.random(n_clips) < 0.1
        noisy[flip] = rng.integers(0, c, flip.sum())
        probs = rng.random((n_clips, c), dtype=np.float32) * 0.2
        probs[np.arange(n_clips), noisy] += 1.0
        probs /= probs.sum(axis=1, keepdims=True)
        offsets = rng.random((n_clips, 2), dtype=np.float32) * 4.0
        vid = f"v{v:05d}"
        gt[vid] = segments_from_clip_labels(labels, clips, n_frames)
        videos.append((vid, probs, offsets, n_frames))
    return gt, videos


def measure_decode(hours: float = 100.0, repeat: int = 3, details: bool = False, seed: int = 0, batched: bool = True):
    """Wall seconds (best of ``repeat``; ``cpu_s`` in the details: process CPU time, which other jobs on a
    shared machine do not inflate) to vote-decode and officially score ``hours`` of clips (8-frame clips,
    stride 8: 100 h = 1.125 M clips).  ``batched`` uses :meth:`VoteDecoder.decode_many` (one pass over all
    videos), else :meth:`VoteDecoder.decode` per video.  ``details=True`` returns a dict with the split."""
    from benchmark.engine.clips import ClipSpec
    from benchmark.metrics.chalearn import score
    from benchmark.plugins import get_plugin_manager

    clips = ClipSpec()
    gt, videos = synthetic_outputs(hours, clips=clips, seed=seed)
    dec = get_plugin_manager().components("decoder").get("vote")
    settings = dec.with_defaults({})
    best = None
    for _ in range(max(1, repeat)):
        c0, t0 = time.process_time(), time.perf_counter()
        if batched:
            segs = dec.decode_many([(p, o, n) for _, p, o, n in videos], clips, settings)
            preds = {vid: s for (vid, _, _, _), s in zip(videos, segs)}
        else:
            preds = {vid: dec.decode(p, o, clips, settings, n_frames=n) for vid, p, o, n in videos}
        t1 = time.perf_counter()
        result = score(gt, preds)
        t2, c2 = time.perf_counter(), time.process_time()
        if best is None or t2 - t0 < best["seconds"]:
            best = {
                "seconds": t2 - t0,
                "cpu_s": c2 - c0,
                "decode_s": t1 - t0,
                "score_s": t2 - t1,
                "f1": result["f1"],
                "clips": int(sum(p.shape[0] for _, p, _, _ in videos)),
                "videos": len(videos),
                "predictions": int(sum(len(v) for v in preds.values())),
            }
    return best if details else best["seconds"]


def measure_training(
    spotter_name: str = "conv-bilstm",
    settings: dict | None = None,
    feature_dim: int = 6400,
    num_outputs: int = 61,
    videos: int = 4,
    clips_per_video: int = 400,
    batch_size: int = 2,
    steps: int = 3,
    device: str = "cpu",
    seed: int = 0,
) -> float:
    """Spotter training throughput in clips/s (forward + loss + backward + optimiser step, with the default
    ``spotter.training``) on random features; ``spotter_name``: any registered spotter."""
    import torch

    from benchmark.config.entries import trainer_defaults
    from benchmark.engine.spotter_training import loss_function, pad_batch
    from benchmark.engine.targets import spotting_targets
    from benchmark.perf.timing import time_steps
    from benchmark.plugins import get_plugin_manager
    from benchmark.runtime.torch_setup import choose_device, make_optimizer

    device = choose_device(device)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    spotter = get_plugin_manager().components("spotter").get(spotter_name)
    training = trainer_defaults()["spotter_training"]
    model = spotter.build(feature_dim, num_outputs, settings).to(device).train()
    opt = make_optimizer(model.parameters(), training, "spotter.training")
    loss_fn = loss_function(spotter, spotter.with_defaults(settings), training["loss"])
    items = []
    for _ in range(videos):
        lab = np.repeat(rng.integers(0, num_outputs, clips_per_video // 4), 4)
        lab, off, fg = spotting_targets(lab)
        feats = torch.from_numpy(rng.standard_normal((lab.size, feature_dim), dtype=np.float32))
        items.append((feats, torch.from_numpy(lab), torch.from_numpy(off), torch.from_numpy(fg)))
    batch = pad_batch(items[:batch_size], device)

    def step():
        loss, _, _ = loss_fn(model(batch.features, batch.lengths), batch)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return steps * batch_size * clips_per_video / time_steps(step, steps, device, warmup=1)


if __name__ == "__main__":  # python -m benchmark.perf.spotters
    for batched in (True, False):
        d = measure_decode(details=True, batched=batched)
        print(
            f"vote decode ({'one pass' if batched else 'per video'}) + score of 100 h ({d['clips']} clips, "
            f"{d['videos']} videos, {d['predictions']} predictions): {d['seconds']:.3f} s "
            f"(decode {d['decode_s']:.3f} s, score {d['score_s']:.3f} s; process CPU time {d['cpu_s']:.3f} s)"
        )
