"""Bad input answered before the work, as a careless or hostile user meets it: each case asserts the exit code,
that the message names the input, that no traceback is printed, and how long it took before failing."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from benchmark.commands.main import cli

BENCH = str(Path(sys.executable).with_name("bench"))

REGISTRY = """
small:
  extends: reference-mssl
  description: a tiny skeleton benchmark for hardening tests
  version: 1
  profiles: null
  dataset: {settings: {videos: 5, classes: 3, signers: 2, seconds: 8, size: 96, workers: 1}}
  preprocess: {workers: 1, pose: {model_complexity: 1}}
  experts: {rgb: null, hands: null, flow: null}
  expert_training: {epochs: 1, max_clips_per_epoch: 16, batch_size: 8, milestones: [1], lr: 1.0e-3}
  spotter:
    settings: {reduce_dims: [32], hidden: 16, lstm_hidden: 8, head_dim: 8}
    training: {epochs: 2, batch_size: 2, milestones: [1], lr: 1.0e-3}
"""


def fails_fast(args, *, needle: str | list[str], env=None, limit_s: float = 10.0, code: int = 1):
    """Run `bench ARGS` (in-process); it must fail with ``code`` within ``limit_s``, name ``needle``, no traceback."""
    t0 = time.perf_counter()
    result = CliRunner().invoke(cli, args, env=env)
    seconds = time.perf_counter() - t0
    assert result.exit_code == code, result.output
    for n in [needle] if isinstance(needle, str) else needle:
        assert n in result.output, result.output
    assert "Traceback" not in result.output, result.output
    assert seconds < limit_s, seconds
    return result


@pytest.mark.parametrize(
    "extra, needle",
    [
        (["--set", "spotter.training.lr=-1"], ["spotter.training.lr", "expected >= 0, got -1"]),
        (["--set", "expert_training.weight_decay=-0.5"], ["expert_training.weight_decay", ">= 0"]),
        (["--set", "spotter.training.select=bestt"], ["spotter.training.select", "best, last", "'bestt'"]),
        (["--set", "expert_training.batch_size=0"], ["expert_training.batch_size", "positive integer"]),
        (["--set", "spotter.training.epochs=2.5"], ["spotter.training.epochs", "expected an integer"]),
        (["--set", "decoder.settings.score_threshold=3"], ["decoder.settings.score_threshold", "between 0 and 1"]),
        (["--set", "spotter.training.loss.classification=focall"], ["classification", "ce, balanced, focal"]),
        (["--device", "banana"], ["--device 'banana'", "auto (default), cpu, cuda or cuda:N"]),
        (["--device", "cuda"], ["device 'cuda'", "no CUDA device"]),
        (["--workers", "-3"], ["--workers", "-3"]),
    ],
)
def test_values_are_checked_before_any_work(tmp_path, extra, needle):
    code = 2 if extra[0] == "--workers" else 1  # click's own usage error
    fails_fast(
        ["--cache-dir", str(tmp_path / "cache"), "run", "reference-mssl", "--profile", "tiny", *extra],
        needle=needle,
        code=code,
    )
    assert not (tmp_path / "cache").exists()  # nothing started, not even the synthetic dataset


def test_registry_that_is_not_utf8_is_named(tmp_path):
    latin = tmp_path / "latin1.yaml"
    latin.write_bytes("mine:\n  description: caf\xe9 \xe0 la cr\xe8me\n".encode("latin-1"))
    fails_fast(["--registry", str(latin), "list"], needle=[str(latin), "not a UTF-8 text file", "save it as UTF-8"])
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(bytes(range(256)) * 4)
    fails_fast(["--registry", str(binary), "list"], needle=[str(binary), "not a UTF-8 text file"])


def test_cache_that_cannot_be_written_is_named_at_start(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    fails_fast(
        ["--cache-dir", str(blocker / "cache"), "run", "reference-mssl", "--profile", "tiny"],
        needle=[str(blocker / "cache"), "cannot be written", "--cache-dir", "SIGNSPOT_CACHE_DIR"],
    )


def test_plugin_raising_in_a_register_hook_provides_nothing(fake_site):
    from benchmark.plugins import SignspotPluginManager

    try:
        from tests.conftest import make_distribution
    except ImportError:  # pragma: no cover
        from conftest import make_distribution
    source = (
        "from benchmark import hookimpl\nfrom benchmark.interfaces import Spotter\n"
        "class S(Spotter):\n    def create_model(self, feature_dim, num_outputs, settings):\n"
        "        raise RuntimeError\n"
        "@hookimpl\ndef register_spotters(registry):\n    registry.add('half-spotter', S())\n"
        "@hookimpl\ndef register_decoders(registry):\n    raise RuntimeError('decoders table missing')\n"
    )
    make_distribution(fake_site, "tp-half", "1.0", {"tp-half": "tp_half"}, {"tp_half": source})
    pm = SignspotPluginManager()
    assert "half-spotter" not in pm.components("spotter")  # its spotter went with it, before any run starts
    assert pm.info["tp-half"].status == "broken" and "decoders table missing" in pm.info["tp-half"].error


def test_unreachable_tracking_server_fails_in_seconds(tmp_path):
    fails_fast(
        ["--cache-dir", str(tmp_path / "cache"), "run", "reference-mssl", "--profile", "tiny"],
        env={"MLFLOW_TRACKING_URI": "http://127.0.0.1:9"},
        needle=["http://127.0.0.1:9", "unreachable", "--no-track", "--allow-untracked"],
    )
    assert not (tmp_path / "cache" / "datasets").exists()


def test_bench_score_validates_its_ground_truth(tmp_path):
    gt, pred = tmp_path / "gt.pkl", tmp_path / "pred.pkl"
    gt.write_bytes(pickle.dumps({"v": [[0, -40, 100], [999, 0, 40]]}))
    pred.write_bytes(pickle.dumps({"v": [[0, 0, 100]]}))
    fails_fast(["score", str(gt), str(pred)], needle=[str(gt), "negative start time", "class id 999"])


# -- runs: the tiny skeleton benchmark on real data with bad annotations ------------------------------------------


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("hardening")
    (root / "registry.yaml").write_text(REGISTRY)
    made = CliRunner().invoke(
        cli,
        [
            "data",
            "synth",
            str(root / "data"),
            "--videos",
            "5",
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
    return root


def run(workspace: Path, *args, cache="cache", env=None, data=None):
    argv = [
        "--registry",
        str(workspace / "registry.yaml"),
        "--cache-dir",
        str(workspace / cache),
        "run",
        "small",
        "--device",
        "cpu",
        "--no-progress",
        "--data",
        str(data or workspace / "data"),
        *args,
    ]
    return CliRunner().invoke(cli, argv, env={"SIGNSPOT_MLFLOW": "0", **(env or {})})


def corrupt_ground_truth(workspace: Path, name: str, change) -> Path:
    data = workspace / name
    if data.exists():
        shutil.rmtree(data)
    shutil.copytree(workspace / "data", data)
    path = data / "MSSL_TEST_SET_GT.pkl"
    gt = pickle.loads(path.read_bytes())
    change(gt)
    path.write_bytes(pickle.dumps(gt))
    return data


def test_sign_after_the_end_of_its_video_fails_or_is_clipped(workspace):
    def push(gt):
        video = sorted(gt)[0]
        gt[video].append([1, 40000, 41000])

    data = corrupt_ground_truth(workspace, "late-sign", push)
    t0 = time.perf_counter()
    failed = run(workspace, data=data)
    assert failed.exit_code == 1 and "[1, 40000, 41000]" in failed.output and "ends after the video" in failed.output
    assert "MSSL_TEST_SET_VIDEOS" in failed.output and "--on-bad-annotation clip" in failed.output
    assert "Traceback" not in failed.output and time.perf_counter() - t0 < 30
    clipped = run(workspace, "--on-bad-annotation", "clip", data=data)
    assert clipped.exit_code == 0, clipped.output
    assert "end after the video" in clipped.output and "clipped (on_bad_annotation: clip)" in clipped.output


def test_sweep_over_a_bad_annotation_fails_before_any_expert_trains(workspace):
    """The sweep's planner opens the data the way a run does (the entry's on_bad_annotation): the late sign is
    named before any task starts, so nothing is preprocessed or trained."""

    def push(gt):
        gt[sorted(gt)[0]].append([1, 40000, 41000])

    data = corrupt_ground_truth(workspace, "late-sign-sweep", push)
    cache = workspace / "sweep-cache"
    argv = ["--registry", str(workspace / "registry.yaml"), "--cache-dir", str(cache), "sweep", "small"]
    argv += ["--grid", "decoder=vote,argmax", "--device", "cpu", "--no-progress", "--data", str(data)]
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{workspace / 'sweep-mlflow.db'}"}
    failed = CliRunner().invoke(cli, argv, env=env)
    assert failed.exit_code == 1 and "[1, 40000, 41000]" in failed.output and "ends after the video" in failed.output
    assert "MSSL_TEST_SET_VIDEOS" in failed.output and "Traceback" not in failed.output
    assert not (cache / "train-expert").exists() and not (cache / "preprocess").exists()
    clipped = CliRunner().invoke(cli, [*argv, "--set", "dataset.on_bad_annotation=clip", "--dry-run"], env=env)
    assert clipped.exit_code == 0, clipped.output
    assert "clipped (on_bad_annotation: clip)" in clipped.output and "train-expert:skeleton: compute" in clipped.output


def test_video_without_ground_truth_is_named(workspace):
    def drop(gt):
        gt.pop(sorted(gt)[0])

    data = corrupt_ground_truth(workspace, "no-gt", drop)
    failed = run(workspace, data=data)
    assert failed.exit_code == 1 and "has no ground-truth entry" in failed.output
    assert "MSSL_TEST_SET_GT.pkl" in failed.output and "Traceback" not in failed.output
    clipped = run(workspace, "--on-bad-annotation", "clip", data=data)
    assert clipped.exit_code == 0 and "warning:" in clipped.output and "no ground-truth entry" in clipped.output


def test_zero_length_sign_is_a_warning(workspace):
    def zero(gt):
        video = sorted(gt)[0]
        cls, start, _ = gt[video][0]
        gt[video][0] = [cls, start, start]

    data = corrupt_ground_truth(workspace, "zero-sign", zero)
    ok = run(workspace, data=data)
    assert ok.exit_code == 0 and "zero-length sign" in ok.output, ok.output


# -- signals: SIGTERM like Ctrl-C, kill -9 closed by the next start --------------------------------------------------


def start(workspace: Path, cache: str, uri: str) -> subprocess.Popen:
    cmd = [
        BENCH,
        "--registry",
        str(workspace / "registry.yaml"),
        "--cache-dir",
        str(workspace / cache),
        "run",
        "small",
        "--device",
        "cpu",
        "--no-progress",
        "--data",
        str(workspace / "data"),
    ]
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "SIGNSPOT_MLFLOW": "1"}
    return subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )


def wait_for_stage(workspace: Path, cache: str, proc: subprocess.Popen, uri: str, stage="train-expert") -> None:
    """Until the run is inside ``stage`` and its tracked run is in the store (the tracker logs on a thread)."""
    deadline = time.monotonic() + 600
    while not (workspace / cache / stage).exists() or not _running(uri):
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline
        time.sleep(0.5)


def _running(uri: str) -> bool:
    """Whether the run's store holds a RUNNING run, read-only: an MLflow client here would create the store's
    tables while the run's own process creates them ("table ... already exists" in the run)."""
    import sqlite3

    path = uri.removeprefix("sqlite:///")
    if not Path(path).is_file():
        return False
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as db:
            return db.execute("SELECT count(*) FROM runs WHERE status = 'RUNNING'").fetchone()[0] > 0
    except sqlite3.Error:  # the store is still being created by the run
        return False


def runs_of(uri: str):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("small")
    return client, client.search_runs([exp.experiment_id], max_results=500)


def test_sigterm_ends_the_run_killed_with_exit_code_143(workspace):
    uri = f"sqlite:///{workspace / 'sigterm.db'}"
    proc = start(workspace, "cache-sigterm", uri)
    wait_for_stage(workspace, "cache-sigterm", proc, uri)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 143, stderr[-2000:]
    assert "terminated by signal" in stderr and "Traceback" not in stderr
    _, runs = runs_of(uri)
    parent = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parent) == 1 and parent[0].info.status == "KILLED"
    assert not [r for r in runs if r.info.status == "RUNNING"]


def test_kill_9_leaves_a_run_that_the_next_start_closes(workspace):
    uri = f"sqlite:///{workspace / 'kill9.db'}"
    proc = start(workspace, "cache-kill9", uri)
    wait_for_stage(workspace, "cache-kill9", proc, uri)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    _, runs = runs_of(uri)
    assert [r for r in runs if r.info.status == "RUNNING"]  # left behind by the killed process
    out = CliRunner().invoke(cli, ["compare", "small", "--json"], env={"MLFLOW_TRACKING_URI": uri})
    assert out.exit_code == 0, out.output
    assert [row["status"] for row in json.loads(out.stdout)] == ["FAILED"]  # never shown RUNNING
    _, runs = runs_of(uri)
    assert not [r for r in runs if r.info.status == "RUNNING"]
    parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
    assert f"its process {proc.pid}" in parent.data.tags["signspot.closed_because"]
