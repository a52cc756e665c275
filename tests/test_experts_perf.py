"""The throughput benchmark runs and reports one train and one extract row per expert."""

from benchmark.perf.experts import format_rows, measure_experts


def test_measure_experts_rows():
    rows = measure_experts(["stgcn", "i3d"], size="tiny", steps=1, warmup=0)
    assert [(r["expert"], r["phase"]) for r in rows] == [
        ("stgcn", "train"),
        ("stgcn", "extract"),
        ("i3d", "train"),
        ("i3d", "extract"),
    ]
    assert all(r["clips_per_s"] > 0 and r["device"] == "cpu" and r["batch"] == 2 for r in rows)
    assert "clips/s" in format_rows(rows)
