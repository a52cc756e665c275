"""A sweep's table rows carry the F1 interval over seeds x videos and mark the configurations tied with the
best (not significantly different from it)."""

from __future__ import annotations

import numpy as np

from benchmark.sweep.results import format_table, table


def trials(config: str, counts_per_seed: list[dict]) -> list[dict]:
    out = []
    for seed, counts in enumerate(counts_per_seed):
        tp, fp, fn = (sum(c[i] for c in counts.values()) for i in range(3))
        out.append(
            {"config": config, "seed": seed, "status": "FINISHED", "f1": 2 * tp / (2 * tp + fp + fn), "counts": counts}
        )
    return out


def test_rows_have_intervals_and_the_group_tied_with_the_best():
    rng = np.random.default_rng(0)
    videos = [f"v{i}" for i in range(24)]
    best = [{v: [40, int(rng.integers(0, 5)), 12] for v in videos} for _ in range(3)]
    close = [{v: [c[0], c[1] + (1 if v == "v0" else 0), c[2]] for v, c in seed.items()} for seed in best]
    worse = [{v: [25, c[1] + 6, 27] for v, c in seed.items()} for seed in best]
    rows = table(trials("best", best) + trials("close", close) + trials("worse", worse))
    by = {r["config"]: r for r in rows}
    assert [r["config"] for r in rows] == ["best", "close", "worse"]
    for row in rows:
        low, high = row["f1_ci"]
        assert low <= row["mean_f1"] <= high
    assert by["best"]["tied"] is True and by["close"]["tied"] is True and by["worse"]["tied"] is False
    text = format_table(rows)
    assert "95 % CI" in text and "~best" in text
    marks = {x.split()[0]: "=" in x.split() for x in text.splitlines()[2:]}
    assert marks == {"best": True, "close": True, "worse": False}


def test_rows_without_counts_have_no_interval():
    rows = table([{"config": "old", "seed": 0, "status": "FINISHED", "f1": 0.5}])
    assert rows[0]["f1_ci"] is None and rows[0]["tied"] is None
