"""End to end: real `bench run`s of a tiny benchmark (every stage, real models, real MLflow store).

One module-scoped cache is shared, so the later tests also check reuse.  Sizes are the smallest that still
exercise every stage; the numbers asserted are behaviour (tracking, reuse, resume, determinism), not quality.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from benchmark.commands.main import cli

E2E_REGISTRY = """
e2e:
  extends: reference-mssl
  description: tiny end-to-end benchmark for tests
  version: 1
  profiles: null   # self-contained sizes: no cpu profile on top
  dataset: {settings: {videos: 5, classes: 3, signers: 2, seconds: 8, size: 96, workers: 1}}
  preprocess:
    workers: 1
    pose: {model_complexity: 1}
    rgb-crop: {size: 32}
    rgb-hands: {box: 8}
    flow-tvl1: {scales: 1, warps: 1, inner_iterations: 5, outer_iterations: 1}
  experts:
    rgb: {settings: {width: small}}
    hands: null
    flow: {settings: {depth: 63, width: small}}
  expert_training:
    {epochs: 1, rounds: 2, max_clips_per_epoch: 16, input_size: 24, batch_size: 8, milestones: [1], lr: 1.0e-3}
  spotter:
    settings: {reduce_dims: [64, 32], hidden: 32, lstm_hidden: 16, head_dim: 16}
    training: {epochs: 3, batch_size: 2, milestones: [2], lr: 1.0e-3}
e2e-skeleton:
  extends: e2e
  description: the tiny benchmark with only the skeleton expert
  version: 1
  experts: {rgb: null, flow: null}
"""


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    (root / "registry.yaml").write_text(E2E_REGISTRY)
    return root


def bench_json(workspace: Path, *args: str, cache: str = "cache") -> dict:
    result = CliRunner().invoke(
        cli,
        [
            "--registry",
            str(workspace / "registry.yaml"),
            "--cache-dir",
            str(workspace / cache),
            "run",
            *args,
            "--json",
            "--device",
            "cpu",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout[result.stdout.index("{") :])


def _restore_uri(saved):
    if saved is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = saved


@pytest.fixture(scope="module")
def first_run(workspace):
    saved = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{workspace / 'mlflow.db'}"
    try:
        return bench_json(workspace, "e2e", "--seed", "0")
    finally:
        _restore_uri(saved)


def _client(workspace):
    from mlflow.tracking import MlflowClient

    return MlflowClient(f"sqlite:///{workspace / 'mlflow.db'}")


def test_full_run_is_tracked_in_mlflow(workspace, first_run):
    assert set(first_run) >= {"run_id", "f1", "precision", "recall", "seconds"}
    assert 0.0 <= first_run["f1"] <= 1.0 and first_run["seconds"] > 0
    client = _client(workspace)
    run = client.get_run(first_run["run_id"])
    assert run.info.status == "FINISHED"
    data = run.data
    assert data.metrics["f1"] == pytest.approx(first_run["f1"])
    for thr in ("0.20", "0.50", "0.80"):
        assert f"f1_iou_{thr}" in data.metrics
    assert data.params["spotter.name"] == "conv-bilstm" and data.params["clips.length"] == "8"
    assert data.params["experts.flow.settings.depth"] == "63"
    tags = data.tags
    assert tags["benchmark"] == "e2e" and tags["seed"] == "0" and tags["device"] == "cpu"
    assert tags["spotter"] == "conv-bilstm" and tags["decoder"] == "vote"
    assert "dataset_fingerprint" in tags or any("fingerprint" in k for k in tags)
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"config.yaml", "predictions.pkl", "scores.json"} <= artifacts
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.name == "e2e"
    children = client.search_runs([run.info.experiment_id], f"tags.`mlflow.parentRunId` = '{run.info.run_id}'")
    names = {c.info.run_name for c in children}
    assert {"preprocess", "expert:rgb", "expert:flow", "expert:skeleton", "train-spotter", "decode", "score"} <= names
    assert all(c.info.status == "FINISHED" for c in children)
    # each expert's group holds its training and its extraction
    group = next(c for c in children if c.info.run_name == "expert:rgb")
    inner = client.search_runs([run.info.experiment_id], f"tags.`mlflow.parentRunId` = '{group.info.run_id}'")
    assert {r.info.run_name for r in inner} == {"train-expert:rgb", "extract-features:rgb"}
    # per-epoch losses of the spotter
    spotter = next(c for c in children if c.info.run_name == "train-spotter")
    history = client.get_metric_history(spotter.info.run_id, "loss")
    assert [m.step for m in history] == [1, 2, 3]


def test_predictions_rescore_with_bench_score(workspace, first_run):
    out = Path(first_run["output_dir"])
    gt_pickle = next((workspace / "cache" / "datasets").glob("synthetic-*/MSSL_TEST_SET_GT.pkl"))
    result = CliRunner().invoke(cli, ["score", str(gt_pickle), str(out / "predictions.pkl"), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["f1"] == pytest.approx(first_run["f1"])


def test_f1_has_a_bootstrap_interval_over_the_test_videos(workspace, first_run):
    from benchmark.metrics.uncertainty import bootstrap_ci, point

    low, high = first_run["f1_ci"]
    assert 0.0 <= low <= first_run["f1"] <= high <= 1.0
    out = Path(first_run["output_dir"])
    per_video = json.loads((out / "per_video.json").read_text())
    scores = json.loads((out / "scores.json").read_text())["chalearn-f1"]
    counts = list(per_video["counts"].values())
    assert len(counts) == scores["num_videos"] and point(counts) == pytest.approx(first_run["f1"])
    assert [sum(c[i] for c in counts) for i in range(3)] == [scores["tp"], scores["fp"], scores["fn"]]
    assert bootstrap_ci(counts) == pytest.approx([low, high])  # seeded: the same interval again
    run = _client(workspace).get_run(first_run["run_id"])
    assert run.data.metrics["f1_ci_low"] == pytest.approx(low) and run.data.metrics["f1_ci_high"] == pytest.approx(high)
    assert f"95 % CI {low:.3f}-{high:.3f}" in run.data.tags["mlflow.note.content"]


def test_compare_pairs_tracked_runs_by_id_and_by_entry(workspace, first_run):
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{workspace / 'mlflow.db'}"}
    run_id = first_run["run_id"]
    result = CliRunner().invoke(cli, ["compare", "e2e", run_id, "--json"], env=env)
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["f1_a"] == pytest.approx(first_run["f1"]) and out["f1_b"] == pytest.approx(first_run["f1"])
    assert out["p_value"] == 1.0 and out["verdict"] == "no difference at 95 %" and out["seeds_a"] == [0]
    assert out["f1_ci_b"] == pytest.approx(first_run["f1_ci"])
    unknown = CliRunner().invoke(cli, ["compare", "no-such-entry", run_id], env=env)
    assert unknown.exit_code == 1 and "'no-such-entry': not a run folder, a run id, nor an entry" in unknown.output


def test_second_run_changing_the_spotter_reuses_everything_before_it(workspace, first_run):
    saved = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{workspace / 'mlflow.db'}"
    try:
        second = bench_json(workspace, "e2e", "--seed", "0", "--spotter", "tcn")
    finally:
        _restore_uri(saved)
    reused = set(second["reused"])
    assert {
        "preprocess",
        "train-expert:rgb",
        "train-expert:flow",
        "train-expert:skeleton",
        "extract-features:rgb",
        "extract-features:flow",
        "extract-features:skeleton",
    } <= reused
    assert "train-spotter" not in reused
    run = _client(workspace).get_run(second["run_id"])
    assert run.data.tags["spotter"] == "tcn"
    assert run.info.run_name == "e2e spotter=tcn"  # what differs from the entry leads (seed 0 is its own)


def test_same_seed_same_f1_and_identical_rerun_is_fully_cached(workspace, first_run):
    again = bench_json(workspace, "e2e", "--seed", "0")
    assert again["f1"] == first_run["f1"]
    assert {"preprocess", "train-spotter", "decode"} <= set(again["reused"])


def test_spotter_seed_reseeds_only_the_spotter(workspace, first_run):
    other = bench_json(workspace, "e2e", "--seed", "0", "--set", "spotter.training.seed=7")
    reused = set(other["reused"])
    assert {"preprocess", "extract-features:rgb", "extract-features:skeleton"} <= reused
    assert "train-spotter" not in reused


def test_killed_run_resumes_and_matches_uninterrupted_f1(workspace, first_run):
    """Kill a fresh run once the first expert is trained; the rerun finishes the rest, same F1."""
    cache = workspace / "cache-killed"
    env = {**os.environ, "SIGNSPOT_MLFLOW": "0"}
    cmd = [
        str(Path(sys.executable).with_name("bench")),
        "--registry",
        str(workspace / "registry.yaml"),
        "--cache-dir",
        str(cache),
        "run",
        "e2e",
        "--seed",
        "0",
        "--device",
        "cpu",
        "--json",
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 600
    try:
        while not list((cache / "train-expert").glob("*/manifest.json")):
            assert proc.poll() is None, "run ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not (cache / "train-spotter").exists() or not list((cache / "train-spotter").glob("*/manifest.json"))
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    resumed = json.loads(out.stdout[out.stdout.index("{") :])
    assert {"preprocess", "train-expert:rgb"} <= set(resumed["reused"])
    assert "train-spotter" not in resumed["reused"]
    assert resumed["f1"] == first_run["f1"]


def test_failing_run_ends_failed_in_mlflow(workspace, first_run):
    from benchmark import hookimpl
    from benchmark.interfaces import Spotter
    from benchmark.plugins import get_plugin_manager

    class Exploding(Spotter):
        name = "exploding"
        description = "a spotter whose model creation raises"

        def create_model(self, feature_dim, num_outputs, settings):
            raise RuntimeError("spotter exploded")

    class Plugin:
        @hookimpl
        def register_spotters(self, registry):
            registry.add("exploding", Exploding())

    get_plugin_manager().register_plugin(Plugin(), "tp-exploding")
    saved = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{workspace / 'mlflow.db'}"
    try:
        result = CliRunner().invoke(
            cli,
            [
                "--registry",
                str(workspace / "registry.yaml"),
                "--cache-dir",
                str(workspace / "cache"),
                "run",
                "e2e",
                "--spotter",
                "exploding",
                "--device",
                "cpu",
                "--no-progress",
            ],
        )
    finally:
        _restore_uri(saved)
    assert result.exit_code != 0
    client = _client(workspace)
    exp = client.get_experiment_by_name("e2e")
    failed = client.search_runs([exp.experiment_id], "attributes.status = 'FAILED'")
    parents = [r for r in failed if "mlflow.parentRunId" not in r.data.tags]
    assert parents and "spotter exploded" in parents[0].data.tags["error"]
    running = client.search_runs([exp.experiment_id], "attributes.status = 'RUNNING'")
    assert running == []


def test_on_bad_video_fails_naming_the_file_or_skips_it(workspace, tmp_path):
    """A real MSSL-layout folder with one unreadable test video: the default fails naming it; `--on-bad-video
    skip` warns, leaves it out and finishes."""
    data = tmp_path / "mssl"
    made = CliRunner().invoke(
        cli,
        [
            "data",
            "synth",
            str(data),
            "--videos",
            "4",
            "--classes",
            "3",
            "--signers",
            "2",
            "--seconds",
            "8",
            "--size",
            "96",
            "--workers",
            "1",
        ],
    )
    assert made.exit_code == 0, made.output
    (data / "MSSL_TEST_SET_VIDEOS" / "broken.mp4").write_bytes(b"\x00not a video" * 300)
    args = [
        "--registry",
        str(workspace / "registry.yaml"),
        "--cache-dir",
        str(tmp_path / "cache"),
        "run",
        "e2e-skeleton",
        "--data",
        str(data),
        "--device",
        "cpu",
        "--no-progress",
        "--on-bad-annotation",  # broken.mp4 has no ground-truth entry: take it as signless, so the video is what fails
        "clip",
    ]
    env = {"SIGNSPOT_MLFLOW": "0"}
    failed = CliRunner().invoke(cli, args, env=env)
    assert failed.exit_code != 0
    assert "broken.mp4" in failed.output and "OpenCV cannot open" in failed.output
    skipped = CliRunner().invoke(cli, [*args, "--on-bad-video", "skip", "--json"], env=env)
    assert skipped.exit_code == 0, skipped.output
    assert "skipped video broken (on_bad_video: skip)" in skipped.stderr and "OpenCV cannot open" in skipped.stderr
    summary = json.loads(skipped.stdout[skipped.stdout.index("{") :])
    assert 0.0 <= summary["f1"] <= 1.0


def test_real_run_read_back_from_mlflow_server(workspace, first_run, tmp_path, monkeypatch):
    try:
        from tests.test_tracking_server import read_back_over_rest
    except ImportError:  # pragma: no cover
        from test_tracking_server import read_back_over_rest

    def perform_run() -> str:
        # everything but the decode/score stages is cached: a fast, real, tracked run
        return bench_json(workspace, "e2e", "--seed", "0", "--decoder", "argmax")["run_id"]

    got = read_back_over_rest(perform_run, tmp_path, monkeypatch)
    assert got["info"]["status"] == "FINISHED" and got["experiment"] == "e2e"
    assert got["params"]["decoder.name"] == "argmax" and got["tags"]["decoder"] == "argmax"
    assert 0.0 <= got["metrics"]["f1"] <= 1.0 and "f1_iou_0.80" in got["metrics"]
    assert "config.yaml" in got["artifacts"] and yaml.safe_load(got["config_yaml"])["decoder"]["name"] == "argmax"


def test_third_party_expert_runs_end_to_end(workspace):
    """pip install the example package from plugins/ and run the tiny benchmark with its expert."""
    repo = Path(__file__).resolve().parents[1]
    pip = [sys.executable, "-m", "pip"]
    inst = subprocess.run(
        pip + ["install", "--no-deps", "--no-build-isolation", "-q", str(repo / "plugins" / "signspot-example-expert")],
        capture_output=True,
        text=True,
    )
    assert inst.returncode == 0, inst.stderr
    try:
        env = {**os.environ, "SIGNSPOT_MLFLOW": "0"}
        out = subprocess.run(
            [
                str(Path(sys.executable).with_name("bench")),
                "--registry",
                str(workspace / "registry.yaml"),
                "--cache-dir",
                str(workspace / "cache"),
                "run",
                "e2e",
                "--expert",
                "tiny-c3d",
                "--set",
                "experts.tiny-c3d.settings.width=4",
                "--device",
                "cpu",
                "--json",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert out.returncode == 0, out.stderr[-3000:]
        summary = json.loads(out.stdout[out.stdout.index("{") :])
        assert summary["run_name"] == "e2e experts=tiny-c3d experts.tiny-c3d.settings.width=4"
        assert 0.0 <= summary["f1"] <= 1.0
        assert "preprocess" in summary["reused"]
    finally:
        subprocess.run(pip + ["uninstall", "-y", "-q", "signspot-example-expert"], capture_output=True)
