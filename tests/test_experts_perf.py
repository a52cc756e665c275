"""The throughput benchmark runs and reports one train and one extract row per expert, with FLOPs and memory."""

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


def test_measure_experts_counts_flops_and_reads_memory_on_cpu():
    """On a CPU: fp32, no peak (so no fraction of it), the process's peak RSS; training counts forward and
    backward (about 3 forwards: the first layer needs no input gradient, so a little less)."""
    rows = {r["phase"]: r for r in measure_experts(["i3d"], size="tiny", steps=1, warmup=0)}
    train, extract = rows["train"], rows["extract"]
    for r in rows.values():
        assert r["dtype"] == "fp32" and r["peak_tflops"] is None and r["peak_fraction"] is None
        assert r["memory_kind"] == "process peak RSS" and r["peak_memory_mb"] > 50
        achieved = r["gflop_per_clip"] * r["clips_per_s"] / 1e3  # GFLOP x clips/s -> TFLOP/s
        assert abs(r["tflops"] - achieved) <= 1e-4 + 1e-2 * achieved
        assert r["input_shape"] == [2, 3, 8, 32, 32]
    assert 2.5 < train["gflop_per_clip"] / extract["gflop_per_clip"] < 3.0
    assert "GFLOP/clip" in format_rows(list(rows.values()))


def test_measure_experts_takes_any_registered_expert():
    """`bench perf experts --expert NAME` measures a plugin's expert: the experts come from the registry."""
    from benchmark import hookimpl
    from benchmark.plugins import get_plugin_manager, reset_plugin_manager
    from experts.stgcn import STGCNExpert

    class ThirdParty(STGCNExpert):
        name = "tp-stgcn"

    class Plugin:
        @hookimpl
        def register_experts(self, registry):
            registry.add("tp-stgcn", ThirdParty())

    reset_plugin_manager()
    try:
        pm = get_plugin_manager()
        pm.register_plugin(Plugin(), "tp-expert")
        assert "tp-stgcn" not in pm.builtin_names("expert")  # measured when named, not by default
        rows = measure_experts(["tp-stgcn"], size="tiny", steps=1, warmup=0, flops=False)
    finally:
        reset_plugin_manager()
    assert [(r["expert"], r["phase"]) for r in rows] == [("tp-stgcn", "train"), ("tp-stgcn", "extract")]
