"""Generates a synthetic dataset folder in the ChaLearn MSSL layout (see ``benchmark.datasets.synthetic``).

Plan first (cheap, sequential, so it is identical whatever the number of workers): vocabulary, signers, split
assignment, every video's timeline and ground truth.  Then render each video (parallel when ``workers > 1``):
mp4 (``mp4v``) and ``.pose`` at ``fps`` (default 25).  The motion is planned on the 25 fps grid (timelines,
ground truth in ms); another ``fps`` renders the same motion sampled at that rate (joints interpolated
linearly), so one seed gives the same content, and the same ground truth, at 25, 29.97 or 50 fps.
Everything is written to a temporary sibling folder that is renamed to ``out_dir`` at the end, so a killed run
never leaves a folder that looks complete.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np

from benchmark.errors import BenchError

GENERATOR_VERSION = "1"
FPS = 25  # the rate the motion is planned at (the ground truth's 40 ms grid)


def split_plan(
    videos: int, signers: int, val_videos: int | None = None, test_videos: int | None = None
) -> list[tuple[str, int]]:
    """``[(split, signer), ...]`` per video.  Train: the seen signers; validation: the held-out (unseen) signers;
    test: all signers in turn (seen and unseen, as in the real test set).  With one signer, all splits use it.
    ``videos`` counts all splits; validation and test take ``videos // 4`` each unless given, train the rest."""
    n_val = max(1, videos // 4) if val_videos is None else int(val_videos)
    n_test = max(1, videos // 4) if test_videos is None else int(test_videos)
    n_train = videos - n_val - n_test
    if n_train < 1:
        raise BenchError(
            f"synthetic dataset: videos={videos} leaves no training video after {n_val} validation and "
            f"{n_test} test videos; raise videos (it counts all three splits), or set val_videos and test_videos "
            "to null (videos // 4 each)"
        )
    held = max(1, signers // 4) if signers > 1 else 0
    seen = list(range(signers - held)) or list(range(signers))
    unseen = list(range(signers - held, signers)) or seen
    plan = [("train", seen[i % len(seen)]) for i in range(n_train)]
    plan += [("validation", unseen[i % len(unseen)]) for i in range(n_val)]
    plan += [("test", i % signers) for i in range(n_test)]
    return plan


SPLIT_DIRS = {
    "train": "TRAIN/MSSL_TRAIN_SET_VIDEOS_ELAN",
    "validation": "VALIDATION/MSSL_VAL_SET_VIDEOS",
    "test": "MSSL_TEST_SET_VIDEOS",
}
GT_FILES = {
    "train": "TRAIN/MSSL_TRAIN_SET_GT.pkl",
    "validation": "VALIDATION/MSSL_VAL_SET_GT.pkl",
    "test": "MSSL_TEST_SET_GT.pkl",
}
TRAIN_TXT = "TRAIN/MSSL_TRAIN_SET_GT_TXT"


def _check(name, value, lo, hi=None):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < lo or (hi is not None and value > hi):
        rng = f">= {lo}" if hi is None else f"in {lo}..{hi}"
        raise BenchError(f"synthetic dataset: {name} must be a number {rng}, got {value!r}")


def render_job(job: dict) -> int:
    """Render one video (mp4 + .pose); returns its frame count.  Runs in a worker process when parallel.  The
    job's ``stream`` (default 7) names its random stream: another generator's jobs draw their own."""
    import cv2

    from benchmark.datasets.synthetic.motion import build_skeleton, hand_tracks
    from benchmark.datasets.synthetic.posefile import write_pose
    from benchmark.datasets.synthetic.render import Renderer

    cv2.setNumThreads(1)
    rng = np.random.default_rng(np.random.SeedSequence([job["seed"], job.get("stream", 7), job["index"]]))
    dom, non = hand_tracks(job["items"], job["vocab"], job["signer"], rng)
    sk = at_rate(build_skeleton(dom, non, job["signer"], job["width"], job["height"], rng), job["fps"])
    renderer = Renderer(job["signer"], job["width"], job["height"], rng)
    size = (job["width"], job["height"])
    writer = cv2.VideoWriter(str(job["video"]), cv2.VideoWriter_fourcc(*"mp4v"), job["fps"], size)
    if not writer.isOpened():
        raise BenchError(f"OpenCV cannot write mp4 video {job['video']} (mp4v codec missing in this OpenCV build?)")
    try:
        for i in range(sk.body.shape[0]):
            writer.write(renderer.draw(sk, i))
    finally:
        writer.release()
    write_pose(job["pose"], sk, job["fps"])
    return int(sk.body.shape[0])


def at_rate(sk, fps: float):
    """The skeleton (planned at 25 fps) sampled at ``fps``: every per-frame array interpolated linearly."""
    from dataclasses import replace

    from benchmark.preprocessing.resample import interpolate, same_rate

    if same_rate(FPS, fps):
        return sk
    per_frame = ("body", "left", "right", "head", "neck_top")
    return replace(sk, **{name: interpolate(getattr(sk, name), FPS, fps) for name in per_frame})


def split_seconds(split: str, seconds: float, eval_seconds: float | None) -> float:
    """A video's length in ``split``: ``eval_seconds`` for validation and test when given (more, shorter
    videos there tighten a score's interval for the same preprocessing), else ``seconds``."""
    return float(seconds if eval_seconds is None or split == "train" else eval_seconds)


def video_seconds(
    videos: int,
    signers: int,
    seconds: float,
    val_videos: int | None = None,
    test_videos: int | None = None,
    eval_seconds: float | None = None,
) -> list[tuple[str, float]]:
    """``[(split, seconds), ...]`` per video, in the plan's order, without planning the content."""
    plan = split_plan(videos, signers, val_videos, test_videos)
    return [(split, split_seconds(split, seconds, eval_seconds)) for split, _ in plan]


def _check_split_sizes(val_videos, test_videos, eval_seconds) -> None:
    for name, value in (("val_videos", val_videos), ("test_videos", test_videos)):
        if value is not None:
            _check(name, value, 1, 100000)
    if eval_seconds is not None:
        _check("eval_seconds", eval_seconds, 4, 3600)


def _checked(videos, classes, signers, seed, seconds, size, fps=FPS):
    _check("fps", fps, 1, 240)
    _check("videos", videos, 3, 100000)
    _check("classes", classes, 1, 200)
    _check("signers", signers, 1, 1000)
    _check("seconds", seconds, 4, 3600)
    _check("size", size, 64, 2160)
    _check("seed", seed, 0)
    return int(videos), int(classes), int(signers), int(seed), float(seconds), int(size), float(fps)


def plan(
    videos: int = 24,
    classes: int = 8,
    signers: int = 4,
    seed: int = 0,
    seconds: float = 30.0,
    size: int = 360,
    fps: float = FPS,
    *,
    val_videos: int | None = None,
    test_videos: int | None = None,
    eval_seconds: float | None = None,
) -> dict:
    """Everything but the pixels: vocabulary, signers, per-video timelines and ground truth (fast)."""
    from benchmark.datasets.synthetic.signers import sample_signers
    from benchmark.datasets.synthetic.timeline import ClassQueue, make_timeline
    from benchmark.datasets.synthetic.vocabulary import sample_vocabulary

    videos, classes, signers, seed, seconds, size, fps = _checked(videos, classes, signers, seed, seconds, size, fps)
    _check_split_sizes(val_videos, test_videos, eval_seconds)
    height = size - size % 2
    width = int(round(height * 16 / 9 / 2)) * 2
    vocab = sample_vocabulary(np.random.default_rng(np.random.SeedSequence([seed, 1])), classes + max(6, classes))
    ranks = np.random.default_rng(np.random.SeedSequence([seed, 2])).permutation(classes)
    weights = 1.0 / (ranks + 1.0) ** 0.9  # imbalanced: the most frequent class ~ classes^0.9 x the rarest
    people = sample_signers(seed, signers)
    q_len = [v.length_ms for v in vocab[:classes]]
    d_len = [v.length_ms for v in vocab[classes:]]
    queues = {
        s: ClassQueue(np.random.default_rng(np.random.SeedSequence([seed, 3, k])), weights)
        for k, s in enumerate(("train", "validation", "test"))
    }
    common = dict(seed=seed, vocab=vocab, width=width, height=height, fps=fps)
    jobs, gt = [], {"train": {}, "validation": {}, "test": {}}
    for index, (split, who) in enumerate(split_plan(videos, signers, val_videos, test_videos)):
        vid = f"p{who + 1:02d}_n{index:03d}"
        rng = np.random.default_rng(np.random.SeedSequence([seed, 5, index]))
        n_frames = int(round(split_seconds(split, seconds, eval_seconds) * FPS))
        items, gt[split][vid] = make_timeline(rng, n_frames, people[who].speed, q_len, d_len, queues[split])
        jobs.append(dict(index=index, video_id=vid, split=split, items=items, signer=people[who], **common))
    settings = dict(videos=videos, classes=classes, signers=signers, seed=seed, seconds=seconds, size=size, fps=fps)
    sizes = dict(val_videos=val_videos, test_videos=test_videos, eval_seconds=eval_seconds)
    settings.update({k: v for k, v in sizes.items() if v is not None})  # unset: as before they existed
    return dict(
        jobs=jobs,
        gt=gt,
        vocab=vocab,
        weights=weights / weights.sum(),
        signers=people,
        width=width,
        height=height,
        settings=settings,
        classes=classes,
    )


def generate(
    out_dir,
    videos: int = 24,
    classes: int = 8,
    signers: int = 4,
    seed: int = 0,
    seconds: float = 30.0,
    size: int = 360,
    workers: int = 1,
    progress: bool = True,
    fps: float = FPS,
    **sizes,
) -> Path:
    """Write a synthetic dataset to ``out_dir`` (must not exist or be empty); returns ``out_dir``.  ``sizes``:
    ``val_videos``, ``test_videos``, ``eval_seconds`` (see :func:`plan`)."""
    p = plan(videos, classes, signers, seed, seconds, size, fps, **sizes)
    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise BenchError(f"{out_dir} already exists and is not empty; remove it or choose another folder")
    tmp = out_dir.parent / f".{out_dir.name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    for job in p["jobs"]:
        folder = tmp / SPLIT_DIRS[job["split"]]
        job["video"], job["pose"] = folder / f"{job['video_id']}.mp4", folder / f"{job['video_id']}.pose"
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        for split in SPLIT_DIRS:
            (tmp / SPLIT_DIRS[split]).mkdir(parents=True, exist_ok=True)
        render_all(p["jobs"], workers, progress)
        _write_ground_truth(tmp, p)
        meta = _metadata(p, fps)
        (tmp / "SYNTHETIC.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False), encoding="utf-8")
        publish(tmp, out_dir)
    except BaseException as exc:
        from benchmark.errors import as_disk_full

        full = as_disk_full(exc, out_dir.parent) if isinstance(exc, Exception) else None
        shutil.rmtree(tmp, ignore_errors=True)
        if full is not None:
            raise full from None
        raise
    return out_dir


def _write_ground_truth(tmp: Path, p: dict) -> None:
    """The ground truth of the plan ``p``: a pickle per split, the train split's text files, the class names."""
    gt, vocab, classes = p["gt"], p["vocab"], p["classes"]
    for split, path in GT_FILES.items():
        with open(tmp / path, "wb") as f:
            pickle.dump({k: [list(map(int, a)) for a in v] for k, v in gt[split].items()}, f, protocol=4)
    (tmp / TRAIN_TXT).mkdir(parents=True, exist_ok=True)
    for vid, anns in gt["train"].items():
        (tmp / TRAIN_TXT / f"{vid}.txt").write_text("".join(f"{c},{s},{e}\n" for c, s, e in anns))
    (tmp / "MSSL_SET_LABELS.txt").write_text("".join(f"{v.gloss}\n" for v in vocab[:classes]))


def _metadata(p: dict, fps: float) -> dict:
    """``SYNTHETIC.json``: how the dataset was made (settings, signers, vocabulary, class weights)."""
    jobs, classes = p["jobs"], p["classes"]
    return {
        "generator": "signspot-bench synthetic",
        "version": GENERATOR_VERSION,
        "settings": p["settings"],
        "frame_size": [p["width"], p["height"]],
        "fps": fps,
        "split_signers": {s: sorted({j["signer"].index for j in jobs if j["split"] == s}) for s in SPLIT_DIRS},
        "class_weights": [float(w) for w in p["weights"]],
        "vocabulary": [dict(asdict(v), query=i < classes) for i, v in enumerate(p["vocab"])],
        "signers": [asdict(x) for x in p["signers"]],
    }


def publish(tmp: Path, out_dir: Path, marker: str = "SYNTHETIC.json") -> None:
    """Rename the finished temporary folder to ``out_dir``, so a folder there is always complete; when a
    concurrent run finished first (its ``marker`` file is there), its output is kept."""
    if out_dir.is_dir() and not any(out_dir.iterdir()):
        out_dir.rmdir()
    try:
        os.rename(tmp, out_dir)
    except OSError:
        if (out_dir / marker).is_file():  # a concurrent run finished first: use its output
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            raise


def render_all(jobs: list[dict], workers: int, progress: bool, desc: str = "synth") -> None:
    """Render every job (in ``workers`` processes when more than one), a bar counting frames."""
    from benchmark.runtime.progress import bar

    total = sum(round(sum(i.frames for i in j["items"]) * j["fps"] / FPS) for j in jobs)
    frames = bar(total=total, unit="frame", desc=desc, enabled=progress)
    try:
        if workers <= 1 or len(jobs) == 1:
            for job in jobs:
                frames.update(render_job(job))
        else:
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(max_workers=workers) as pool:
                for n in pool.map(render_job, jobs):
                    frames.update(n)
    finally:
        frames.close()
