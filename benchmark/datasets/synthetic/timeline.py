"""Per-video timelines: when each query sign happens (the ground truth) and what fills the time between.

Timing follows the real MSSL train set (REFERENCE.md; measured on MSSL_TRAIN_SET_GT.pkl: sign length
80..1640 ms, mean 493, median 440; gaps between consecutive query signs: 10 % <= 120 ms, median 1760 ms,
75 % 3800 ms, 90 % 7240 ms):

* sign length = the sign's typical length x the signer's speed x log-normal jitter (sigma 0.3), clipped to
  80..1640 ms and put on the 40 ms grid (a sign over frames ``a..b`` is annotated ``[c, 40 a, 40 b]``);
* gap between query signs: 15 % short (120..400 ms), else log-normal with median 2.4 s (sigma 0.9; videos
  cut some long gaps, so the realised median is lower), clipped to 120 ms..9 s;
* the gaps hold background: transitions (120..400 ms, eased), non-query signs (0..3 per gap when the gap is
  over 1.4 s), pauses and returns to the resting pose (hands in front of the belly) for long gaps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchmark.interfaces import MS_PER_FRAME

MIN_LEN_MS, MAX_LEN_MS = 80, 1640


class ClassQueue:
    """Query classes in the order a split uses them: first every class ``min_count`` times (so each class
    occurs in every split), shuffled, then draws from the imbalanced class frequencies."""

    def __init__(self, rng: np.random.Generator, weights: np.ndarray, min_count: int = 2):
        self.rng, self.weights = rng, np.asarray(weights, float) / np.sum(weights)
        self.pending = list(rng.permutation(np.repeat(np.arange(len(weights)), min_count)))

    def peek(self) -> int:
        if not self.pending:
            self.pending.append(int(self.rng.choice(len(self.weights), p=self.weights)))
        return int(self.pending[0])

    def pop(self) -> int:
        c = self.peek()
        self.pending.pop(0)
        return c


@dataclass(frozen=True)
class Item:
    """A piece of the timeline.  kind: ``rest``, ``pause`` (held states), ``move`` (transition), ``sign``."""

    kind: str
    frames: int
    sign: int = -1  # index into the combined vocabulary (queries first, then distractors)
    query: bool = False


def sign_frames(rng: np.random.Generator, typical_ms: float, speed: float) -> int:
    ms = float(np.clip(typical_ms * speed * np.exp(rng.normal(0.0, 0.3)), MIN_LEN_MS, MAX_LEN_MS))
    return int(round(ms / MS_PER_FRAME)) + 1


def gap_frames(rng: np.random.Generator) -> int:
    if rng.random() < 0.15:
        ms = rng.uniform(120, 400)
    else:
        ms = float(np.clip(2400.0 * np.exp(rng.normal(0.0, 0.9)), 120, 9000))
    return max(3, int(round(ms / MS_PER_FRAME)))


def _move(rng: np.random.Generator, speed: float) -> int:
    return max(2, int(round(rng.uniform(120, 400) * speed / MS_PER_FRAME)))


def _filler(rng, m: int, speed: float, distractor_lengths: list[float], n_queries: int) -> list[Item]:
    """Background for ``m`` frames between two signs (or between rest and a sign)."""
    if m < 6:
        return [Item("move", m)]
    items: list[Item] = []
    used = 0
    k = 0
    if m * MS_PER_FRAME > 1400 and distractor_lengths and rng.random() < 0.75:
        k = int(rng.integers(1, 4))
    items.append(Item("move", _move(rng, speed)))
    for _ in range(k):
        d = int(rng.integers(len(distractor_lengths)))
        n = sign_frames(rng, distractor_lengths[d], speed)
        mv = _move(rng, speed)
        if sum(i.frames for i in items) + n + mv + _move(rng, speed) > m:
            break
        items += [Item("sign", n, n_queries + d, False), Item("move", mv)]
    used = sum(i.frames for i in items)
    last = _move(rng, speed)
    left = m - used - last
    if left < 0:
        return [Item("move", m)] if m < 12 else _filler(rng, m, speed, [], n_queries)
    if left > 0:
        if left * MS_PER_FRAME > 2500 and rng.random() < 0.6:
            # go down to rest and come back: move | rest | move (the moves come out of `left`)
            down = min(_move(rng, speed), left // 3)
            items += [Item("move", down), Item("rest", left - down)] if down > 0 else [Item("rest", left)]
        else:
            items.append(Item("pause", left))
    items.append(Item("move", last))
    return items


def make_timeline(
    rng: np.random.Generator,
    n_frames: int,
    speed: float,
    query_lengths: list[float],
    distractor_lengths: list[float],
    queue: ClassQueue,
) -> tuple[list[Item], list[list[int]]]:
    """Items covering exactly ``n_frames`` frames, and the ground truth ``[[class, start_ms, end_ms], ...]``."""
    items: list[Item] = []
    gt: list[list[int]] = []
    lead = int(round(rng.uniform(400, 2000) / MS_PER_FRAME))
    items.append(Item("rest", lead))
    f = lead  # next free frame
    prev_end = None
    nq = len(query_lengths)
    while True:
        c = queue.peek()
        n = sign_frames(rng, query_lengths[c], speed)
        start = f + _move(rng, speed) if prev_end is None else prev_end + gap_frames(rng)
        if start + n + 12 > n_frames:
            break
        items += _filler(rng, start - f, speed, distractor_lengths, nq)
        queue.pop()
        items.append(Item("sign", n, c, True))
        gt.append([c, start * MS_PER_FRAME, (start + n - 1) * MS_PER_FRAME])
        f = start + n
        prev_end = start + n - 1
    rest = n_frames - f
    if rest > 0:
        mv = min(rest, _move(rng, speed))
        items.append(Item("move", mv))
        if rest - mv > 0:
            items.append(Item("rest", rest - mv))
    assert sum(i.frames for i in items) == n_frames
    return items, gt
