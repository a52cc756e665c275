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
