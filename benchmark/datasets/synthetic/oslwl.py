"""The synthetic signer in the ChaLearn OSLWL layout (one-shot learning with weak labels; the reader is
:mod:`benchmark.datasets.oslwl`, whose docstring is the folder's contract)::

    <root>/OSLWL.json                                  how it was made (settings, signers per part, vocabulary)
    <root>/TRAIN/MSSL_TRAIN_SET_VIDEOS/<id>.mp4 + .pose  continuous training videos (MSSL-style, train classes)
    <root>/TRAIN/MSSL_TRAIN_SET_GT.pkl                 {id: [[class, start_ms, end_ms], ...]} in the train classes
    <root>/TRAIN/TRAIN_SET_LABELS.txt                  line i = gloss of train class i
    <root>/VALIDATION/OSLWL_QUERY_VAL_SET/<GLOSS>.mp4 + .pose  one isolated example per query (stem = gloss)
    <root>/VALIDATION/OSLWL_VAL_SET_VIDEOS/<id>.mp4 + .pose    target clips
    <root>/VALIDATION/OSLWL_VAL_SET_GT.pkl             {id: [[class, start_ms, end_ms]]}, class = query label line
    <root>/VALIDATION/OSLWL_QUERY_VAL_LABELS.txt       line i = gloss of query class i (the query files' stems)
    <root>/OSLWL_QUERY_TEST_SET/, OSLWL_TEST_SET_VIDEOS/, OSLWL_TEST_SET_GT.pkl, OSLWL_QUERY_TEST_LABELS.txt

Decisions:

* **Vocabulary**: ``train_classes + 2 * queries + max(6, train_classes)`` signs of the MSSL generator's space
  (:func:`~benchmark.datasets.synthetic.vocabulary.sample_vocabulary`, any two differ in two parameters),
  cut in that order into the train classes, the validation queries, the test queries and the non-query
  ("distractor") signs: the three class sets are disjoint (the point of the track), the distractors fill the
  training videos' gaps and the target clips.  Query signs never occur in a training video.
* **Signers**: the last signer is the held-out "dictionary" signer who performs every query example; the
  others, in turn, perform the training videos and the target clips (``signers >= 2``).
* **Query example**: rest, a move, the sign, a move, rest: 1.5-2.5 s (longer when the sign is long).
* **Target clip**: ``target_seconds`` long, exactly one occurrence of one query sign among 0-3 distractor signs
  at a random place in the sequence, the free time spread at random (Dirichlet) over the lead-in, the pauses
  between signs and the tail, so the query is not always centred; at least 3 frames of rest at each end.
  ``targets_per_query`` clips per query per split, shuffled, so a clip's name and order say nothing.
* **Training videos**: the MSSL generator's timelines (:func:`~benchmark.datasets.synthetic.timeline.make_timeline`,
  imbalanced class frequencies ``1 / rank^0.9``, each class at least twice) over the train classes.
* Ground truth on the 25 fps planning grid as the MSSL generator writes it: a sign over frames ``a..b`` is
  ``[class, 40 a, 40 b]``; another ``fps`` renders the same motion sampled at that rate.
* Deterministic for a seed, whatever ``workers``; written to a temporary sibling folder renamed at the end
  (a killed run never leaves a folder that looks complete); a non-empty ``out_dir`` is refused.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from benchmark.datasets.oslwl import LAYOUT, META_FILE, QUERY_SPLITS
from benchmark.errors import BenchError
from benchmark.interfaces import MS_PER_FRAME

GENERATOR_VERSION = "1"
PLAN_FPS = 25  # the rate the motion is planned at (the ground truth's 40 ms grid)
SETTINGS = {  # name: (default, lowest, highest or None)
    "train_videos": (8, 1, 100000),
    "train_classes": (6, 1, 200),
    "queries": (6, 1, 100),
    "targets_per_query": (4, 1, 10000),
    "signers": (4, 2, 1000),
    "seconds": (20.0, 4, 3600),
    "target_seconds": (4.0, 3, 60),
    "size": (144, 64, 2160),
    "fps": (25.0, 1, 240),
    "seed": (0, 0, None),
}
OSLWL_DEFAULTS = {name: spec[0] for name, spec in SETTINGS.items()}
FLOATS = ("seconds", "target_seconds", "fps")


def checked_settings(**settings) -> dict:
    """The generator's settings over their defaults, each within its bounds (:data:`SETTINGS`), typed."""
    unknown = sorted(set(settings) - set(OSLWL_DEFAULTS))
    if unknown:
        raise BenchError(f"synthetic OSLWL: unknown setting(s) {', '.join(unknown)}; known: {', '.join(SETTINGS)}")
    out = {**OSLWL_DEFAULTS, **settings}
    for name, (_, lo, hi) in SETTINGS.items():
        v = out[name]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v < lo or (hi is not None and v > hi):
            rng = f">= {lo}" if hi is None else f"in {lo}..{hi}"
            raise BenchError(f"synthetic OSLWL: {name} must be a number {rng}, got {v!r}")
        out[name] = float(v) if name in FLOATS else int(v)
    return out


def _move(rng: np.random.Generator, speed: float) -> int:
    """A transition's frames (120..400 ms, scaled by the signer's speed), as the MSSL timelines draw them."""
    return max(2, int(round(rng.uniform(120, 400) * speed / MS_PER_FRAME)))


def query_example(rng: np.random.Generator, sign: int, length_ms: float, speed: float):
    """An isolated example: rest, move, the sign ``sign``, move, rest (1.5-2.5 s).  ``(items, [start, end] ms)``."""
    from benchmark.datasets.synthetic.timeline import Item, sign_frames

    n = sign_frames(rng, length_ms, speed)
    m1, m2 = _move(rng, speed), _move(rng, speed)
    total = max(int(round(rng.uniform(1.5, 2.5) * PLAN_FPS)), n + m1 + m2 + 6)
    slack = total - n - m1 - m2 - 6
    lead = 3 + int(rng.integers(slack // 4, slack - slack // 4 + 1))  # the sign near the middle
    items = [Item("rest", lead), Item("move", m1), Item("sign", n, sign, True), Item("move", m2)]
    items.append(Item("rest", total - lead - m1 - n - m2))
    start = lead + m1
    return items, [start * MS_PER_FRAME, (start + n - 1) * MS_PER_FRAME]


def target_clip(rng, n_frames: int, speed: float, query: tuple[int, float], distractors: list[tuple[int, float]]):
    """A clip of ``n_frames`` frames holding the sign ``query = (vocab index, typical ms)`` once among 0-3 of
    ``distractors``; ``(items, [start_ms, end_ms] of the query)``."""
    from benchmark.datasets.synthetic.timeline import sign_frames

    k = int(rng.integers(0, 4))
    picks = [distractors[int(i)] for i in rng.integers(0, len(distractors), k)]
    signs = [(s, sign_frames(rng, ms, speed), False) for s, ms in picks]
    signs.insert(int(rng.integers(0, k + 1)), (query[0], sign_frames(rng, query[1], speed), True))
    moves = [_move(rng, speed) for _ in range(len(signs) + 1)]
    while 6 + sum(moves) + sum(n for _, n, _ in signs) > n_frames and len(signs) > 1:
        drop = max(i for i, s in enumerate(signs) if not s[2])  # the last distractor, never the query
        del signs[drop], moves[drop]
    slack = n_frames - 6 - sum(moves) - sum(n for _, n, _ in signs)
    if slack < 0:
        raise BenchError(f"synthetic OSLWL: target_seconds too short for a sign of {signs[0][1]} frames")
    extra = np.floor(rng.dirichlet(np.ones(len(signs) + 1)) * slack).astype(int)
    extra[0] += slack - int(extra.sum())
    return _clip_items(signs, moves, extra)


def _clip_items(signs: list, moves: list[int], extra: np.ndarray):
    """The items of :func:`target_clip`: rest (3 + extra[0]), move, sign, gap, sign, ..., move, rest."""
    from benchmark.datasets.synthetic.timeline import Item

    first, last, inner = int(extra[0]), int(extra[-1]), [int(e) for e in extra[1:-1]]
    items, frame, span = [Item("rest", 3 + first), Item("move", moves[0])], 3 + first + moves[0], None
    for i, (sign, n, is_query) in enumerate(signs):
        if is_query:
            span = [frame * MS_PER_FRAME, (frame + n - 1) * MS_PER_FRAME]
        items.append(Item("sign", n, sign, is_query))
        frame += n
        if i + 1 < len(signs):  # the gap before the next sign: a move, or move-pause-move when long enough
            m, e = moves[i + 1], inner[i]
            pause = [Item("move", m - m // 2), Item("pause", e), Item("move", m // 2)]
            items += [Item("move", m + e)] if e < 4 or m < 4 else pause
            frame += m + e
    items += [Item("move", moves[-1]), Item("rest", 3 + last)]
    return items, span


def _roles(seed: int, s: dict):
    """The vocabulary and its parts: ``(vocab, {train, validation, test, distractors: [vocab indices]})``."""
    from benchmark.datasets.synthetic.vocabulary import sample_vocabulary

    t, q = s["train_classes"], s["queries"]
    n = t + 2 * q + max(6, t)
    try:
        vocab = sample_vocabulary(np.random.default_rng(np.random.SeedSequence([seed, 101])), n)
    except ValueError as e:
        raise BenchError(f"synthetic OSLWL: {e}; lower train_classes or queries") from None
    parts = {"train": range(0, t), "validation": range(t, t + q), "test": range(t + q, t + 2 * q)}
    parts["distractors"] = range(t + 2 * q, n)
    return vocab, {k: list(v) for k, v in parts.items()}


def _train_jobs(s: dict, vocab, parts, people, others) -> tuple[list[dict], dict]:
    """The training videos: MSSL timelines over the train classes, distractors remapped into the whole vocabulary."""
    from benchmark.datasets.synthetic.timeline import ClassQueue, make_timeline

    seed, t = s["seed"], s["train_classes"]
    ranks = np.random.default_rng(np.random.SeedSequence([seed, 102])).permutation(t)
    queue = ClassQueue(np.random.default_rng(np.random.SeedSequence([seed, 103])), 1.0 / (ranks + 1.0) ** 0.9)
    q_len = [vocab[i].length_ms for i in parts["train"]]
    d_len = [vocab[i].length_ms for i in parts["distractors"]]
    first_distractor = parts["distractors"][0]
    jobs, gt = [], {}
    for index in range(s["train_videos"]):
        who = others[index % len(others)]
        vid = f"p{who + 1:02d}_n{index:03d}"
        rng = np.random.default_rng(np.random.SeedSequence([seed, 104, index]))
        items, gt[vid] = make_timeline(rng, int(round(s["seconds"] * PLAN_FPS)), people[who].speed, q_len, d_len, queue)
        items = [
            replace(i, sign=first_distractor + i.sign - t) if i.kind == "sign" and not i.query else i for i in items
        ]
        jobs.append(dict(kind="train", split="train", video_id=vid, items=items, signer=people[who]))
    return jobs, gt


def _split_jobs(split: str, s: dict, vocab, parts, people, others):
    """One split's query examples (by the dictionary signer) and shuffled target clips: jobs, GT, query spans."""
    seed, tag = s["seed"], QUERY_SPLITS.index(split)
    dictionary = people[-1]
    distractors = [(i, vocab[i].length_ms) for i in parts["distractors"]]
    jobs, spans, gt = [], {}, {}
    for c, sign in enumerate(parts[split]):
        rng = np.random.default_rng(np.random.SeedSequence([seed, 105, tag, c]))
        items, spans[vocab[sign].gloss] = query_example(rng, sign, vocab[sign].length_ms, dictionary.speed)
        jobs.append(dict(kind="query", split=split, video_id=vocab[sign].gloss, items=items, signer=dictionary))
    order = np.random.default_rng(np.random.SeedSequence([seed, 106, tag])).permutation(
        np.repeat(np.arange(len(parts[split])), s["targets_per_query"])
    )
    n_frames = int(round(s["target_seconds"] * PLAN_FPS))
    for i, c in enumerate(order.tolist()):
        who = others[i % len(others)]
        vid = f"p{who + 1:02d}_{'vt'[tag]}{i:03d}"
        rng = np.random.default_rng(np.random.SeedSequence([seed, 107, tag, i]))
        sign = parts[split][c]
        items, span = target_clip(rng, n_frames, people[who].speed, (sign, vocab[sign].length_ms), distractors)
        gt[vid] = [[c, *span]]
        jobs.append(dict(kind="target", split=split, video_id=vid, items=items, signer=people[who]))
    return jobs, gt, spans


def plan_oslwl(**settings) -> dict:
    """Everything but the pixels (fast): ``settings``, ``vocab``, ``parts`` (vocabulary indices of ``train``,
    ``validation``, ``test``, ``distractors``), ``class_names`` (per split: line i = class i), ``signers``,
    ``dictionary_signer``, ``jobs`` (``kind`` train/query/target, ``split``, ``video_id``, ``items`` whose
    ``sign`` indexes ``vocab``, ``signer``, ``index``...), ``gt`` per split and ``query_spans`` (the sign in
    each query example, ms)."""
    from benchmark.datasets.synthetic.signers import sample_signers

    s = checked_settings(**settings)
    seed = s["seed"]
    height = s["size"] - s["size"] % 2
    width = int(round(height * 16 / 9 / 2)) * 2
    vocab, parts = _roles(seed, s)
    people = sample_signers(seed, s["signers"])
    others = list(range(s["signers"] - 1))  # the last signer is the dictionary signer
    jobs, train_gt = _train_jobs(s, vocab, parts, people, others)
    gt, spans = {"train": train_gt}, {}
    for split in QUERY_SPLITS:
        split_jobs, gt[split], spans[split] = _split_jobs(split, s, vocab, parts, people, others)
        jobs += split_jobs
    common = dict(seed=seed, vocab=vocab, width=width, height=height, fps=s["fps"])
    jobs = [dict(job, index=i, stream=108, **common) for i, job in enumerate(jobs)]  # 108: its own random stream
    names = {split: [vocab[i].gloss for i in parts[split]] for split in ("train", *QUERY_SPLITS)}
    return dict(
        settings=s,
        vocab=vocab,
        parts=parts,
        class_names=names,
        signers=people,
        dictionary_signer=people[-1].index,
        jobs=jobs,
        gt=gt,
        query_spans=spans,
        width=width,
        height=height,
    )


def _folder(job: dict) -> str:
    lay = LAYOUT[job["split"]]
    return lay.queries if job["kind"] == "query" else lay.videos


def _write_texts(tmp: Path, p: dict) -> None:
    """The ground-truth pickles, the labels files and ``OSLWL.json``."""
    from benchmark.storage.safe_pickle import dump_annotations

    for split, lay in LAYOUT.items():
        dump_annotations(p["gt"][split], tmp / lay.gt)
        (tmp / lay.labels).write_text("".join(f"{g}\n" for g in p["class_names"][split]), encoding="utf-8")
    role = {i: part for part, idx in p["parts"].items() for i in idx}
    people = {
        split: sorted({j["signer"].index for j in p["jobs"] if j["split"] == split and j["kind"] != "query"})
        for split in LAYOUT
    }
    meta = {
        "generator": "signspot-bench synthetic-oslwl",
        "version": GENERATOR_VERSION,
        "settings": p["settings"],
        "frame_size": [p["width"], p["height"]],
        "fps": p["settings"]["fps"],
        "signers_per_part": {"query_examples": [p["dictionary_signer"]], **people},
        "query_examples_ms": p["query_spans"],
        "vocabulary": [dict(asdict(v), gloss=v.gloss, role=role[i]) for i, v in enumerate(p["vocab"])],
        "signers": [asdict(x) for x in p["signers"]],
    }
    (tmp / META_FILE).write_text(json.dumps(meta, indent=1, ensure_ascii=False), encoding="utf-8")


def generate_oslwl(
    out_dir,
    *,
    train_videos: int = 8,
    train_classes: int = 6,
    queries: int = 6,
    targets_per_query: int = 4,
    signers: int = 4,
    seconds: float = 20.0,
    target_seconds: float = 4.0,
    size: int = 144,
    fps: float = 25.0,
    seed: int = 0,
    workers: int = 1,
    progress: bool = True,
) -> Path:
    """Write a synthetic OSLWL folder to ``out_dir`` (missing or empty; see the module docstring) and return
    it; ``workers`` processes render (the content does not depend on them), ``progress`` shows a bar."""
    given = dict(locals())  # the keyword arguments, before any other name is bound
    p = plan_oslwl(**{name: given[name] for name in SETTINGS})
    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise BenchError(f"{out_dir} already exists and is not empty; remove it or choose another folder")
    _write(p, out_dir, int(workers), progress)
    return out_dir


def _write(p: dict, out_dir: Path, workers: int, progress: bool) -> None:
    """Render the plan ``p`` into a temporary sibling folder (the MSSL generator's renderer), then rename it to
    ``out_dir``."""
    from benchmark.datasets.synthetic.writer import publish, render_all

    tmp = out_dir.parent / f".{out_dir.name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        for job in p["jobs"]:
            folder = tmp / _folder(job)
            folder.mkdir(parents=True, exist_ok=True)
            job["video"], job["pose"] = folder / f"{job['video_id']}.mp4", folder / f"{job['video_id']}.pose"
        render_all(p["jobs"], workers, progress, desc="synth oslwl")
        _write_texts(tmp, p)
        publish(tmp, out_dir, META_FILE)
    except BaseException as exc:
        from benchmark.errors import as_disk_full

        full = as_disk_full(exc, out_dir.parent) if isinstance(exc, Exception) else None
        shutil.rmtree(tmp, ignore_errors=True)
        if full is not None:
            raise full from None
        raise
