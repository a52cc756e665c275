"""``bench compare``: parent runs of a real sqlite MLflow store side by side, best F1 first."""

from __future__ import annotations

import json
import time

import pytest
from click.testing import CliRunner

from benchmark.commands.compare import compare
from benchmark.tracking.compare import collect_runs

try:
    from test_tracking import fresh_db, make_pm, make_run, simulate_run
except ImportError:  # tests/ as a package
    from tests.test_tracking import fresh_db, make_pm, make_run, simulate_run


@pytest.fixture(scope="module")
def populated(tmp_path_factory):
    """Four runs of `bench-a` (one failed) and one of `bench-b` in one store."""
    tmp = tmp_path_factory.mktemp("compare")
    mp = pytest.MonkeyPatch()
    mp.chdir(tmp)
    mp.setenv("MLFLOW_TRACKING_URI", fresh_db(tmp))
    mp.delenv("SIGNSPOT_MLFLOW", raising=False)
    pm = make_pm()
    ids = {
        "mid": simulate_run(pm, make_run(tmp, "bench-a", "mid", spotter="conv-bilstm"), f1=0.5),
        "best": simulate_run(pm, make_run(tmp, "bench-a", "best", spotter="tcn", experts=("p3d",)), f1=0.9),
        "low": simulate_run(pm, make_run(tmp, "bench-a", "low", profile=None), f1=0.25),
        "other": simulate_run(pm, make_run(tmp, "bench-b", "other"), f1=0.99),
    }
    with pytest.raises(RuntimeError):
        simulate_run(pm, make_run(tmp, "bench-a", "broken"), fail_in="train-spotter")
    mp.delenv("MLFLOW_TRACKING_URI")
    mp.undo()
    return tmp, ids, f"sqlite:///{tmp}/mlflow.db"


@pytest.fixture
def store(populated, monkeypatch):
    """Point this test at the populated store (conftest gives every test its own empty one)."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", populated[2])
    return populated


def test_collect_runs_parent_runs_only_best_f1_first_failed_last(populated):
    _, ids, uri = populated
    rows, got_uri = collect_runs("bench-a", tracking_uri=uri)
    assert got_uri == uri
    assert [r["run_name"] for r in rows] == ["best", "mid", "low", "broken"]  # no stage runs
    assert [r["f1"] for r in rows] == [0.9, 0.5, 0.25, None]
    best = rows[0]
    assert best["run_id"] == ids["best"] and best["experts"] == "p3d" and best["spotter"] == "tcn"
    assert best["decoder"] == "vote" and best["profile"] == "cpu" and best["status"] == "FINISHED"
    assert best["precision"] == 0.9 and best["recall"] == 0.85 and best["seconds"] == 12.5
    assert rows[2]["profile"] == "none"
    assert rows[3]["status"] == "FAILED" and rows[3]["error"].startswith("RuntimeError: spotter diverged")
    assert [r["run_name"] for r in collect_runs("bench-a", limit=2, tracking_uri=uri)[0]] == ["best", "mid"]


def test_compare_table_sorted_by_f1(store):
    res = CliRunner().invoke(compare, ["bench-a"])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0].startswith("4 run(s) of benchmark bench-a in sqlite:///")
    header = lines[1].split()
    assert header[:3] == ["run", "id", "run"] and "F1" in header and "status" in header
    body = lines[3:7]
    assert [line.split()[1] for line in body] == ["best", "mid", "low", "broken"]
    assert "0.9000" in body[0] and "tcn" in body[0] and "p3d" in body[0]
    assert "FAILED" in body[3] and " - " in body[3]
    assert "failed: RuntimeError: spotter diverged" in res.output


def test_compare_json_and_limit(store):
    res = CliRunner().invoke(compare, ["bench-a", "--json", "--limit", "2"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert [(r["run_name"], r["f1"]) for r in rows] == [("best", 0.9), ("mid", 0.5)]
    assert set(rows[0]) >= {
        "run_id",
        "experts",
        "spotter",
        "decoder",
        "profile",
        "f1",
        "precision",
        "recall",
        "seconds",
        "status",
        "start_time",
    }


def test_compare_all_benchmarks_has_benchmark_column(store):
    res = CliRunner().invoke(compare, [])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert "of all benchmarks" in lines[0] and "benchmark" in lines[1]
    body = lines[3:]
    assert body[0].split()[1:3] == ["bench-b", "other"] and body[1].split()[1:3] == ["bench-a", "best"]


def test_compare_without_runs_says_what_to_do(store, tmp_path, monkeypatch):
    res = CliRunner().invoke(compare, ["nope"])
    assert res.exit_code == 0
    assert "no runs for benchmark nope in sqlite:///" in res.output and "run `bench run nope` first" in res.output
    res = CliRunner().invoke(compare, ["nope", "--json"])
    assert res.exit_code == 0 and res.stdout.strip() == "[]" and "bench run nope" in res.stderr
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/empty.db")
    res = CliRunner().invoke(compare, [])
    assert res.output.startswith("no runs for any benchmark")
    assert not (tmp_path / "empty.db").exists()  # looking does not create a store


def test_compare_unreachable_server_is_a_clear_error(monkeypatch):
    from benchmark.errors import BenchError

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    t0 = time.monotonic()
    with pytest.raises(BenchError, match="cannot read MLflow runs from http://127.0.0.1:9.*unreachable"):
        collect_runs("x")
    assert time.monotonic() - t0 < 10  # no minutes of MLflow client retries


def test_compare_default_store_absent(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    res = CliRunner().invoke(compare, ["reference-mssl"])
    assert res.exit_code == 0
    assert res.output.strip() == (
        f"no runs for benchmark reference-mssl in sqlite:///{tmp_path}/mlflow.db; run `bench run reference-mssl` first"
    )
    assert not (tmp_path / "mlflow.db").exists()


def test_bench_compare_through_the_cli(store):
    from benchmark.commands.main import cli

    res = CliRunner().invoke(cli, ["compare", "bench-a", "--limit", "1"])
    assert res.exit_code == 0, res.output
    assert res.output.splitlines()[3].split()[1] == "best"
    assert len(res.output.splitlines()) == 4
