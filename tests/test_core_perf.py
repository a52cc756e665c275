"""`bench perf` runs its measurements and prints one row per figure (numbers are not asserted: noisy machine)."""

from __future__ import annotations

from click.testing import CliRunner

from benchmark.cli import cli


def test_perf_decode_and_spotter_quick_prints_a_table():
    result = CliRunner().invoke(cli, ["perf", "decode", "spotter", "--quick"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0].split()[:3] == ["measure", "value", "unit"]
    rows = {line.rsplit(None, 2)[0].strip(): float(line.rsplit(None, 2)[1]) for line in lines[1:]}
    assert any(k.startswith("vote decode 10 h") for k in rows)
    assert any(k.startswith("spotter conv-bilstm training") for k in rows)
    assert all(v > 0 for v in rows.values())


def test_perf_log_sends_figures_to_mlflow(tmp_path):
    result = CliRunner().invoke(cli, ["perf", "decode", "--quick", "--log"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    run_id = result.stdout.strip().splitlines()[-1].split()[4]
    from mlflow.tracking import MlflowClient

    metrics = MlflowClient().get_run(run_id).data.metrics
    assert any(k.startswith("vote_decode_10_h") for k in metrics)


def test_preprocess_figures_print_side_by_side_with_the_speed_up():
    from benchmark.perf.measure import side_by_side

    rows = [
        {"what": "x", "item": m, "variant": v, "value": fps, "unit": "frames/s"}
        for m, v, fps in [
            ("pose", "1 worker", 20.0),
            ("flow-tvl1", "1 worker", 500.0),
            ("pose", "2 workers", 30.0),
            ("flow-tvl1", "2 workers", 900.0),
        ]
    ]
    rows.append({"what": "vote decode", "value": 0.4, "unit": "s"})  # not a side-by-side row
    lines = side_by_side(rows).splitlines()
    assert lines[0].split() == ["frames/s", "1", "worker", "2", "workers", "speed-up"]
    assert lines[1].split() == ["pose", "20.00", "30.00", "1.50x"]
    assert lines[2].split() == ["flow-tvl1", "500.00", "900.00", "1.80x"]
    assert side_by_side(rows[-1:]) == ""


def test_perf_preprocess_quick_measures_every_modality_with_1_and_all_workers():
    """Real MediaPipe, OpenCV TV-L1 and the process pool on three tiny synthetic videos."""
    result = CliRunner().invoke(cli, ["perf", "preprocess", "--quick"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    table = result.stdout[result.stdout.index("frames/s ") :].splitlines()
    assert table[0].split()[:3] == ["frames/s", "1", "worker"]
    rows = {line.split()[0]: [float(x) for x in line.split()[1:] if not x.endswith("x")] for line in table[1:]}
    assert set(rows) == {"pose", "rgb-crop", "rgb-hands", "flow-tvl1", "skeleton", "total"}
    assert all(values and min(values) > 0 for values in rows.values())  # one column per worker count
