"""The built-in MLflow tracker against a real MLflow store (sqlite + local artifacts in a tmp dir).

The lifecycle is driven through pluggy with the real hook specs and the real plugin module, as the stage
runner does.  ``simulate_run`` is shared with test_tracking_server.py and test_compare.py.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pluggy
import pytest
import yaml

from benchmark import PROJECT_NAME, hookspecs
from benchmark.stages.base import RunContext, StageResult  # the real objects the stage mechanism passes
from benchmark.tracking import plugin as tracking_plugin
from benchmark.tracking.mlflow_tracker import LINK, MlflowTracker
from benchmark.tracking.store import EXPERIMENT_TAGS, VIEW, ui_hint
from benchmark.tracking.values import epoch_metrics, final_metrics, flatten_config, iou_curves, run_note, sanitize_key

CONFIG = {
    "description": "a test entry",
    "seed": 0,
    "clips": {"length": 8, "stride": 8},
    "experts": {"rgb": {"name": "i3d", "modality": "rgb-crop", "settings": {"pretrained": None}}},
    "spotter": {
        "name": "conv-bilstm",
        "settings": {"reduce_dims": [256, 128]},
        "training": {"lr": 1.0e-4, "epochs": 3},
    },
    "decoder": {"name": "vote", "settings": {}},
    "metrics": ["chalearn-f1", "chalearn-f1-strict"],
    "huge": "x" * 7000,
}

SUMMARY_METRICS = {
    "f1": 0.875,
    "precision": 0.9,
    "recall": 0.85,
    "tp": 35,
    "fp": 4,
    "fn": 6,
    "seconds": 12.5,
    **{f"f1_iou_{t / 100:.2f}": 0.95 - t / 200 for t in range(20, 81, 5)},
}


PER_CLASS = [
    {"class_id": 0, "name": "hola", "f1": 0.5, "tp": 13, "fp": 13, "fn": 13, "tp_iou_0.50": 1},
    {"class_id": 1, "name": "casa", "f1": 0.0, "tp": 0, "fp": 0, "fn": 26, "tp_iou_0.50": 0},
]


def make_pm():
    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    pm.register(tracking_plugin)
    return pm


def make_run(
    tmp: Path,
    benchmark="bench-test",
    run_name="reference-mssl [cpu]",
    spotter="conv-bilstm",
    experts=("i3d", "stgcn"),
    profile="cpu",
    overrides=(),
) -> RunContext:
    out = tmp / "out" / run_name.replace(" ", "_").replace("/", "_")
    out.mkdir(parents=True, exist_ok=True)
    return RunContext(
        benchmark=benchmark,
        entry_version="1",
        profile=profile,
        config=CONFIG,
        run_name=run_name,
        seed=0,
        device="cpu",
        components={"experts": list(experts), "spotter": spotter, "decoder": "vote", "dataset": "synthetic"},
        plugins=[
            {"name": "experts.plugin", "distribution": "signspot-bench", "version": "0.1.0"},
            {"name": "my-expert", "distribution": "signspot-my-expert", "version": "1.2.3"},
        ],
        dataset_fingerprint="abc123",
        git_commit="deadbeef",
        cache_dir=tmp / "cache",
        output_dir=out,
        started_at=int(time.time() * 1000) - 90_000,  # the pipeline began before the run was announced
        overrides=list(overrides),
        dataset={
            "name": "synthetic",
            "root": str(tmp / "data"),
            "fingerprint": "abc123",
            "splits": {"train": 6, "validation": 2, "test": 2},
            "classes": 3,
            "eval_split": "test",
        },
    )


def simulate_run(pm, run: RunContext, f1: float = 0.875, fail_in: str | None = None) -> str:
    """A run's lifecycle as the stage runner emits it; raises RuntimeError inside ``fail_in`` if given.

    Returns the parent MLflow run id (``run.run_id``).
    """
    hook = pm.hook
    hook.run_started(run=run)
    try:
        hook.stage_started(run=run, stage="preprocess")
        hook.stage_finished(
            run=run, stage="preprocess", result=StageResult("preprocess", "k-pre", True, 0.01, {"videos": 6})
        )
        hook.stage_started(run=run, stage="train-experts")
        hook.stage_started(run=run, stage="train-expert:rgb")
        for epoch in range(1, 4):  # expert training prefixes its round; epochs count from 1 in each round
            hook.epoch_finished(
                run=run,
                stage="train-expert:rgb",
                epoch=epoch,
                metrics={
                    "round1/loss": 2.5 - 0.5 * epoch,
                    "round1/accuracy": 0.2 + 0.1 * epoch,
                    "epoch_seconds": 0.5,
                    "note": "x",
                },
            )
        for epoch in range(1, 3):
            hook.epoch_finished(
                run=run,
                stage="train-expert:rgb",
                epoch=epoch,
                metrics={"round2/loss": 0.5 - (epoch - 1) / 10, "epoch_seconds": 0.25},
            )
        hook.epoch_finished(run=run, stage="warmup", epoch=0, metrics={"loss": 9.0})  # no stage_started for it
        hook.stage_finished(
            run=run,
            stage="train-expert:rgb",
            result=StageResult("train-expert:rgb", "k-rgb", False, 3.5, {"final_loss": 1.0}, params={"clips": 32}),
        )
        hook.stage_finished(run=run, stage="train-experts", result=StageResult("train-experts", "k-exp", False, 4.0))
        hook.stage_started(run=run, stage="train-spotter")
        for epoch in range(1, 3):  # epochs count from 1
            hook.epoch_finished(
                run=run, stage="train-spotter", epoch=epoch, metrics={"loss": 1.0 / epoch, "epoch_seconds": 0.1}
            )
            if fail_in == "train-spotter":
                raise RuntimeError("spotter diverged: loss is NaN")
        hook.stage_finished(
            run=run, stage="train-spotter", result=StageResult("train-spotter", "k-spot", False, 2.0, {"best_f1": f1})
        )
        preds = run.output_dir / "predictions.pkl"
        preds.write_bytes(b"not really a pickle")
        plots = run.output_dir / "plots"
        plots.mkdir(exist_ok=True)
        (plots / "loss.txt").write_text("1 0.5\n")
        timelines = run.output_dir / "timelines"
        timelines.mkdir(exist_ok=True)
        (timelines / "v1.png").write_bytes(b"png")
        table = run.output_dir / "per_class.json"  # a table (list of flat rows): logged as an MLflow table
        table.write_text(json.dumps(PER_CLASS))
        hook.run_finished(
            run=run,
            summary={
                **SUMMARY_METRICS,
                "f1": f1,
                "reused": ["preprocess"],
                "eval_split": "test",
                "artifacts": [preds, plots, timelines / "v1.png", table],
            },
        )
    except BaseException as exc:
        hook.run_failed(run=run, error=exc)
        raise
    return run.run_id


_TEMPLATE: list[Path] = []


def fresh_db(folder: Path) -> str:
    """Put an empty, already migrated MLflow sqlite DB at ``folder/mlflow.db``; return its URI.

    Creating MLflow's tables takes seconds (many migrations), so it is done once per session and copied.
    """
    if not _TEMPLATE:
        from mlflow.tracking import MlflowClient

        tpl = Path(tempfile.mkdtemp(prefix="mlflow-template-"))
        atexit.register(shutil.rmtree, tpl, True)
        MlflowClient(f"sqlite:///{tpl}/mlflow.db").search_experiments()  # creates the tables
        _TEMPLATE.append(tpl / "mlflow.db")
    shutil.copyfile(_TEMPLATE[0], folder / "mlflow.db")
    return f"sqlite:///{folder}/mlflow.db"


@pytest.fixture
def store(tmp_path, monkeypatch):
    """A fresh sqlite tracking store in tmp_path; artifacts land in tmp_path/mlruns (the cwd)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SIGNSPOT_MLFLOW", raising=False)
    monkeypatch.setenv("SIGNSPOT_SYSTEM_METRICS", "0")  # sampling threads only where a test asks for them
    uri = fresh_db(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    from mlflow.tracking import MlflowClient

    return MlflowClient(uri)


def _children(client, run):
    return client.search_runs([run.info.experiment_id], f"tags.`mlflow.parentRunId` = '{run.info.run_id}'")


# -- pure helpers -------------------------------------------------------------------------------------------


def test_flatten_config_dotted_keys_lists_as_json_and_long_values_skipped():
    flat = flatten_config(CONFIG)
    assert flat["spotter.training.lr"] == "0.0001"
    assert flat["spotter.settings.reduce_dims"] == "[256, 128]"
    assert flat["metrics"] == '["chalearn-f1", "chalearn-f1-strict"]'
    assert flat["experts.rgb.settings.pretrained"] == "null"
    assert flat["decoder.settings"] == "{}"
    assert flat["description"] == "a test entry"
    assert "huge" not in flat  # > 6000 characters: MLflow would reject it; config.yaml has it
    assert sanitize_key("stage.train-expert:rgb.seconds") == "stage.train-expert_rgb.seconds"
    assert sanitize_key("../etc//x") == "___etc_x"  # never a path that escapes the run
    assert sanitize_key("a//b/") == "a/b"


def test_final_metrics_f1_first_iou_curves_and_epoch_seconds():
    assert list(final_metrics({"tp": 3, "recall": 0.5, "f1": 0.4, "precision": 0.3, "x": 1})) == [
        "f1",
        "precision",
        "recall",
        "tp",
        "x",
    ]
    curves = iou_curves({"f1": 0.4, "f1_iou_0.20": 0.6, "f1_iou_0.50": 0.5, "strict.f1_iou_0.80": 0.1})
    assert curves == {"f1_by_iou": {20: 0.6, 50: 0.5}, "strict.f1_by_iou": {80: 0.1}}  # integer steps: IoU x 100
    assert epoch_metrics({"seconds": 1.0, "round1/seconds": 2.0, "loss": 3.0, "epoch_seconds": 4.0}) == {
        "epoch_seconds": 4.0,
        "round1/epoch_seconds": 2.0,
        "loss": 3.0,
    }


def test_run_note_says_what_ran_and_what_was_changed(tmp_path):
    run = make_run(tmp_path, spotter="tcn", overrides=["spotter=tcn", "seed=3"])
    note = run_note(run)
    first, ran, changed = note.split("\n\n")
    assert first == "a test entry"
    assert ran == "**Ran:** experts i3d (rgb-crop) · spotter tcn · decoder vote · dataset synthetic · seed 0 · " + (
        "profile cpu · device cpu"
    )
    assert changed == "**Changed from bench-test:** `spotter=tcn`, `seed=3` (the description above is the entry's)"


def test_ui_hint_a_url_for_a_server_else_the_mlflow_ui_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # the page opens in MLflow's "Model training" view (the 3.17 UI defaults to GenAI)
    assert VIEW == "?workflowType=machine_learning"
    assert ui_hint("http://host:5000/", "3", "abc") == f"http://host:5000/#/experiments/3/runs/abc{VIEW}"
    assert ui_hint(f"sqlite:///{tmp_path}/mlflow.db", "3", "abc") == (
        f"run `mlflow ui` in {tmp_path} and open http://127.0.0.1:5000/#/experiments/3/runs/abc{VIEW}"
    )
    assert ui_hint("sqlite:////elsewhere/x.db", "3", "abc") == (
        "mlflow ui --backend-store-uri sqlite:////elsewhere/x.db  (then open "
        f"http://127.0.0.1:5000/#/experiments/3/runs/abc{VIEW})"
    )


def test_call_queue_runs_calls_in_order_survives_a_failing_one_and_flush_times_out():
    import threading

    from benchmark.tracking.queue import CallQueue

    calls, gate = [], threading.Event()
    q = CallQueue("test-queue")
    q.submit(lambda: calls.append(1))
    q.submit(lambda: 1 / 0)  # logged, skipped
    q.submit(gate.wait)
    q.submit(lambda: calls.append(2))
    assert not q.flush(0.05)  # still blocked on the gate
    gate.set()
    assert q.flush(30) and calls == [1, 2]
    inline = CallQueue("inline", asynchronous=False)
    inline.submit(lambda: calls.append(3))
    assert calls == [1, 2, 3] and inline.flush(0)


# -- a successful run ---------------------------------------------------------------------------------------


@pytest.fixture(params=["async", "inline"])
def mode(request, monkeypatch):
    """The plugin's tracker queues MLflow calls on a thread (default) or makes them inline."""
    if request.param == "inline":
        monkeypatch.setattr(tracking_plugin, "tracker", MlflowTracker(asynchronous=False))
    return request.param


def test_run_lifecycle_logs_experiment_parent_and_nested_stage_runs(store, tmp_path, mode):
    run = make_run(tmp_path)
    run_id = simulate_run(make_pm(), run)
    client = store

    exp = client.get_experiment_by_name("bench-test")
    assert exp is not None
    assert {k: exp.tags.get(k) for k in EXPERIMENT_TAGS} == EXPERIMENT_TAGS  # opens as "Machine learning"
    assert set(run.links) == {LINK} and f"/#/experiments/{exp.experiment_id}/runs/{run_id}{VIEW}" in run.links[LINK]
    parent = client.get_run(run_id)
    assert parent.info.status == "FINISHED" and parent.info.run_name == "reference-mssl [cpu]"
    assert parent.info.experiment_id == exp.experiment_id
    assert parent.info.start_time == run.started_at  # the run's duration counts from the pipeline's start

    params = parent.data.params
    assert params["spotter.training.lr"] == "0.0001" and params["clips.stride"] == "8"
    assert params["spotter.settings.reduce_dims"] == "[256, 128]" and "huge" not in params

    tags = parent.data.tags
    assert tags["benchmark"] == "bench-test" and tags["entry_version"] == "1" and tags["profile"] == "cpu"
    assert tags["experts"] == "i3d,stgcn" and tags["spotter"] == "conv-bilstm" and tags["decoder"] == "vote"
    assert tags["plugin.my-expert"] == "signspot-my-expert==1.2.3"
    assert tags["plugin.experts.plugin"] == "signspot-bench==0.1.0"
    assert tags["seed"] == "0" and tags["device"] == "cpu" and tags["git_commit"] == "deadbeef"
    assert tags["dataset_fingerprint"] == "abc123" and "mlflow.parentRunId" not in tags
    assert tags["mlflow.note.content"].startswith("a test entry\n\n**Ran:** experts i3d (rgb-crop)")
    assert "spotter conv-bilstm" in tags["mlflow.note.content"] and tags["mlflow.user"]

    m = parent.data.metrics
    for k, v in SUMMARY_METRICS.items():
        assert m[k] == pytest.approx(v), k
    assert list(m)[:3] == ["f1", "precision", "recall"]  # logged first: listed first on the run page
    assert {f"f1_iou_{t / 100:.2f}" for t in range(20, 81, 5)} <= set(m)  # kept beside the curve
    curve = sorted((h.step, h.value) for h in client.get_metric_history(run_id, "f1_by_iou"))
    assert curve == [(t, pytest.approx(SUMMARY_METRICS[f"f1_iou_{t / 100:.2f}"])) for t in range(20, 81, 5)]
    assert m["stage.train-spotter.seconds"] == 2.0 and m["stage.preprocess.reused"] == 1.0

    (given,) = parent.inputs.dataset_inputs
    assert given.dataset.name == "synthetic" and given.dataset.digest == "abc123"
    assert json.loads(given.dataset.source) == {"uri": str(tmp_path / "data")}
    assert json.loads(given.dataset.profile)["splits"] == {"train": 6, "validation": 2, "test": 2}
    assert {t.key: t.value for t in given.tags} == {"mlflow.data.context": "train+validation+test"}

    art = Path(parent.info.artifact_uri.replace("file://", ""))
    assert art.is_relative_to(tmp_path)
    assert yaml.safe_load((art / "config.yaml").read_text()) == CONFIG
    assert (art / "predictions.pkl").read_bytes() == b"not really a pickle"
    assert (art / "plots" / "loss.txt").read_text() == "1 0.5\n"
    assert (art / "timelines" / "v1.png").read_bytes() == b"png"  # relative folder under output_dir kept
    table = json.loads((art / "per_class.json").read_text())  # an MLflow table: columns + rows
    assert table["columns"] == list(PER_CLASS[0]) and [r[1] for r in table["data"]] == ["hola", "casa"]
    assert {"path": "per_class.json", "type": "table"} in json.loads(parent.data.tags["mlflow.loggedArtifacts"])

    children = {r.info.run_name: r for r in _children(client, parent)}
    assert set(children) == {"preprocess", "train-experts", "train-spotter"}
    assert all(r.info.status == "FINISHED" for r in children.values())
    pre = children["preprocess"]
    assert pre.data.tags["reused"] == "true" and pre.data.tags["cache_key"] == "k-pre"
    assert pre.data.metrics["videos"] == 6 and pre.data.metrics["reused"] == 1.0

    (sub,) = _children(client, children["train-experts"])  # sub-stage nested under its stage
    assert sub.info.run_name == "train-expert:rgb" and sub.info.status == "FINISHED"
    hist = client.get_metric_history(sub.info.run_id, "round1/loss")
    assert [(h.step, h.value) for h in sorted(hist, key=lambda h: h.step)] == [(1, 2.0), (2, 1.5), (3, 1.0)]
    hist = client.get_metric_history(sub.info.run_id, "round2/loss")
    assert [(h.step, h.value) for h in sorted(hist, key=lambda h: h.step)] == [(1, 0.5), (2, 0.4)]
    assert len(client.get_metric_history(sub.info.run_id, "epoch_seconds")) == 5  # one per epoch, both rounds
    assert "round1/accuracy" in sub.data.metrics and "loss" not in sub.data.metrics
    (warmup,) = _children(client, sub)  # an epoch of an unannounced stage gets its own run, closed with its parent
    assert warmup.info.run_name == "warmup" and warmup.info.status == "FINISHED"
    assert warmup.data.metrics["loss"] == 9.0
    assert "note" not in sub.data.metrics  # non-numeric epoch values are skipped
    assert sub.data.params == {"clips": "32"} and sub.data.metrics["seconds"] == 3.5
    assert sub.data.metrics["reused"] == 0.0

    spot = children["train-spotter"]
    assert [h.value for h in client.get_metric_history(spot.info.run_id, "loss")] == [1.0, 0.5]
    assert spot.data.metrics["epoch_seconds"] == 0.1
    assert [h.value for h in client.get_metric_history(spot.info.run_id, "seconds")] == [2.0]  # the total only
    for child in children.values():  # the final metrics are the parent's alone
        assert not {"f1", "precision", "recall", "f1_by_iou"} & set(child.data.metrics)
    # nothing left RUNNING
    assert not client.search_runs([exp.experiment_id], "attributes.status = 'RUNNING'")


def test_an_existing_experiment_gets_the_view_tags_and_keeps_a_chosen_one(store, tmp_path):
    exp_id = store.create_experiment("bench-test", tags={"mlflow.experiment.primaryMetric.name": "recall"})
    simulate_run(make_pm(), make_run(tmp_path))
    tags = store.get_experiment(exp_id).tags
    assert tags["mlflow.experimentKind"] == "custom_model_development"
    assert tags["mlflow.experiment.primaryMetric.name"] == "recall"  # someone chose it: kept


def test_per_epoch_seconds_never_share_the_stage_total_key(store, tmp_path):
    run, pm = make_run(tmp_path), make_pm()
    pm.hook.run_started(run=run)
    pm.hook.stage_started(run=run, stage="train-spotter")
    for epoch in (1, 2):
        pm.hook.epoch_finished(run=run, stage="train-spotter", epoch=epoch, metrics={"loss": 1.0, "seconds": 0.5})
    pm.hook.stage_finished(run=run, stage="train-spotter", result=StageResult("train-spotter", "k", False, 7.0))
    pm.hook.run_finished(run=run, summary={"f1": 0.5, "artifacts": []})
    (spot,) = _children(store, store.get_run(run.run_id))
    assert [h.value for h in store.get_metric_history(spot.info.run_id, "seconds")] == [7.0]
    assert [h.step for h in store.get_metric_history(spot.info.run_id, "epoch_seconds")] == [1, 2]


def test_system_metrics_monitor_runs_from_start_to_end_of_the_run(store, tmp_path, monkeypatch):
    from benchmark.tracking import system_metrics

    calls = []

    class Monitor:
        def __init__(self, run_id, uri):
            calls.append(("start", run_id, uri))

        def finish(self):
            calls.append(("stop",))

    monkeypatch.setenv("SIGNSPOT_SYSTEM_METRICS", "1")
    monkeypatch.setattr(system_metrics, "start", lambda run_id, uri: Monitor(run_id, uri))
    run = make_run(tmp_path)
    simulate_run(make_pm(), run)
    assert calls == [("start", run.run_id, os.environ["MLFLOW_TRACKING_URI"]), ("stop",)]
    calls.clear()
    with pytest.raises(RuntimeError):
        simulate_run(make_pm(), make_run(tmp_path), fail_in="train-spotter")
    assert [c[0] for c in calls] == ["start", "stop"]  # a failed run stops it too


def test_system_metrics_are_logged_on_the_parent_run(store, tmp_path, monkeypatch):
    """MLflow's own monitor, sampling fast: ``system/*`` metrics on the parent run (needs psutil)."""
    monkeypatch.setenv("SIGNSPOT_SYSTEM_METRICS", "1")
    monkeypatch.setenv("MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL", "0.2")
    run, pm = make_run(tmp_path), make_pm()
    pm.hook.run_started(run=run)
    assert tracking_plugin.tracker.flush(60)
    time.sleep(1.5)
    pm.hook.run_finished(run=run, summary={"f1": 0.5, "artifacts": []})
    metrics = store.get_run(run.run_id).data.metrics
    assert "system/cpu_utilization_percentage" in metrics and "system/system_memory_usage_megabytes" in metrics


def test_runs_of_a_benchmark_share_one_experiment(store, tmp_path):
    pm = make_pm()
    a = simulate_run(pm, make_run(tmp_path, run_name="a"))
    b = simulate_run(pm, make_run(tmp_path, run_name="b"))
    c = simulate_run(pm, make_run(tmp_path, benchmark="other", run_name="c"))
    ea, eb, ec = (store.get_run(r).info.experiment_id for r in (a, b, c))
    assert ea == eb != ec
    assert store.get_experiment(ec).name == "other"


# -- failures -----------------------------------------------------------------------------------------------


def test_failing_run_ends_failed_with_error_tag_and_traceback(store, tmp_path, mode):
    run = make_run(tmp_path)
    with pytest.raises(RuntimeError, match="diverged"):
        simulate_run(make_pm(), run, fail_in="train-spotter")
    parent = store.get_run(run.run_id)
    assert parent.info.status == "FAILED"
    assert parent.data.tags["error"] == "RuntimeError: spotter diverged: loss is NaN"
    art = Path(parent.info.artifact_uri.replace("file://", ""))
    tb = (art / "error.txt").read_text()
    assert tb.startswith("Traceback") and "simulate_run" in tb and "spotter diverged" in tb
    children = {r.info.run_name: r for r in _children(store, parent)}
    assert children["train-spotter"].info.status == "FAILED"  # the open nested run is closed too
    assert children["train-spotter"].data.tags["error"].startswith("RuntimeError")
    assert children["preprocess"].info.status == "FINISHED"
    assert parent.data.metrics["stage.preprocess.seconds"] == pytest.approx(0.01)  # what finished is timed
    assert not store.search_runs([parent.info.experiment_id], "attributes.status = 'RUNNING'")


def test_keyboard_interrupt_ends_killed_not_running(store, tmp_path):
    run = make_run(tmp_path)
    pm = make_pm()
    pm.hook.run_started(run=run)
    pm.hook.stage_started(run=run, stage="extract-features")
    pm.hook.run_failed(run=run, error=KeyboardInterrupt())
    parent = store.get_run(run.run_id)
    assert parent.info.status == "KILLED" and parent.data.tags["error"] == "KeyboardInterrupt"
    (child,) = _children(store, parent)
    assert child.info.status == "KILLED"


def test_mlflow_failure_mid_run_warns_once_and_never_raises(store, tmp_path, caplog):
    run = make_run(tmp_path)
    pm = make_pm()
    pm.hook.run_started(run=run)
    assert tracking_plugin.tracker.flush(60)
    store.delete_run(run.run_id)  # every later write to the parent is refused by MLflow
    with caplog.at_level(logging.WARNING, logger="benchmark.tracking"):
        pm.hook.stage_started(run=run, stage="decode")
        pm.hook.stage_finished(run=run, stage="decode", result=StageResult("decode", "k", False, 0.1))
        pm.hook.run_finished(run=run, summary={**SUMMARY_METRICS, "artifacts": []})
    warnings = [r for r in caplog.records if "MLflow tracking failed" in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in caplog.records]
    assert "benchmark run continues" in warnings[0].getMessage()


def test_unreachable_server_warns_and_the_run_goes_on(tmp_path, monkeypatch, caplog):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{port}")
    run = make_run(tmp_path)
    with caplog.at_level(logging.WARNING, logger="benchmark.tracking"):
        pm = make_pm()
        pm.hook.run_started(run=run)
        pm.hook.stage_started(run=run, stage="score")
        pm.hook.epoch_finished(run=run, stage="score", epoch=0, metrics={"loss": 1.0})
        pm.hook.run_finished(run=run, summary=SUMMARY_METRICS)
    assert run.run_id is None
    assert run.links[LINK].startswith("not tracked")
    warnings = [r.getMessage() for r in caplog.records if "MLflow tracking failed" in r.getMessage()]
    assert len(warnings) == 1 and "unreachable" in warnings[0]


def test_tracking_can_be_switched_off(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SIGNSPOT_MLFLOW", "0")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    run = make_run(tmp_path)
    pm = make_pm()
    pm.hook.run_started(run=run)
    pm.hook.run_finished(run=run, summary=SUMMARY_METRICS)
    assert run.run_id is None and run.links == {} and not (tmp_path / "mlflow.db").exists()


# -- MLflow's own default -----------------------------------------------------------------------------------


def test_default_store_is_mlflow_db_and_mlruns_in_the_working_directory(tmp_path, monkeypatch):
    import mlflow

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("SIGNSPOT_MLFLOW", raising=False)
    assert mlflow.get_tracking_uri() == f"sqlite:///{tmp_path}/mlflow.db"  # MLflow 3.x default, not ours
    fresh_db(tmp_path)  # (pre-migrated: saves seconds; MLflow would create the same file)
    run = make_run(tmp_path)
    run_id = simulate_run(make_pm(), run)
    from mlflow.tracking import MlflowClient

    tracked = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db").get_run(run_id)
    assert tracked.info.status == "FINISHED"
    exp_id = tracked.info.experiment_id
    assert run.links[LINK] == (
        f"run `mlflow ui` in {tmp_path} and open http://127.0.0.1:5000/#/experiments/{exp_id}/runs/{run_id}{VIEW}"
    )  # the default store
    assert (tmp_path / "mlruns" / exp_id / run_id / "artifacts" / "config.yaml").is_file()


def test_run_open_at_interpreter_exit_ends_failed(tmp_path):
    """No run_finished / run_failed before the process exits (a bug, os._exit aside): FAILED, not RUNNING."""
    uri = fresh_db(tmp_path)
    script = (
        f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from test_tracking import make_pm, make_run\n"
        "from pathlib import Path\n"
        f"run = make_run(Path({str(tmp_path)!r}))\n"
        "pm = make_pm()\n"
        "pm.hook.run_started(run=run)\n"
        "pm.hook.stage_started(run=run, stage='train-spotter')\n"
    )
    env = {**__import__("os").environ, "MLFLOW_TRACKING_URI": uri}
    env.pop("SIGNSPOT_MLFLOW", None)
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stderr
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("bench-test")
    runs = {r.info.run_name: r for r in client.search_runs([exp.experiment_id])}
    assert set(runs) == {"reference-mssl [cpu]", "train-spotter"}
    assert {r.info.status for r in runs.values()} == {"FAILED"}
    assert runs["reference-mssl [cpu]"].data.tags["error"] == "the process exited before the run ended"


def test_importing_the_plugin_and_compare_does_not_import_mlflow():
    """The plugin is loaded by every ``bench`` command, ``bench --help`` included: mlflow waits for a run."""
    code = (
        "import sys, benchmark.tracking.plugin, benchmark.tracking.compare; "
        "assert 'mlflow' not in sys.modules, sorted(m for m in sys.modules if m.startswith('mlflow'))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).parents[1],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
