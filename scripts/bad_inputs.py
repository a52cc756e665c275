"""A corpus of bad inputs against ``bench``, each from a fresh cache: how each one is answered.

Every case should end in a clear error (a non-zero exit naming the input, no traceback), or, for the few legal
but suspicious inputs marked ``warn``, a warning and a finished run.  Outcomes: ``clear`` (as it should),
``traceback`` (a Python traceback reached the user), ``accepted`` (a bad input ran as if it were fine), ``wrong``
(a ``warn`` case that failed or printed no warning), plus the seconds until the answer.

    python scripts/bad_inputs.py                       # this checkout
    PYTHONPATH=/path/to/other/checkout python scripts/bad_inputs.py   # another version of the code, same cases

It runs the small skeleton entry below (seconds per finished run) on a generated MSSL-layout folder.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = os.environ.get("BENCH", str(Path(sys.executable).with_name("bench")))
REGISTRY = """
small:
  extends: reference-mssl
  description: a small skeleton benchmark
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


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="bad-inputs-"))
    try:
        (root / "registry.yaml").write_text(REGISTRY)
        data = root / "data"
        subprocess.run(
            [
                BENCH,
                "data",
                "synth",
                str(data),
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
            check=True,
            capture_output=True,
        )
        results = [run_case(root, data, name, kind, make) for name, kind, make in cases()]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    counts: dict[str, int] = {}
    for name, outcome, seconds, tail in results:
        counts[outcome] = counts.get(outcome, 0) + 1
        print(f"{outcome:<9} {seconds:6.1f} s  {name}  |  {tail}")
    print(json.dumps(counts))


def run_case(root: Path, data: Path, name: str, kind: str, make) -> tuple[str, str, float, str]:
    work = root / f"case-{abs(hash(name)) % 10**8}"
    work.mkdir()
    args, env = make(work, data)
    base = [BENCH, "--registry", str(root / "registry.yaml"), "--cache-dir", str(work / "cache")]
    full = args if args and args[0] == "!" else base + args
    full = [a for a in full if a != "!"]
    t0 = time.perf_counter()
    out = subprocess.run(
        full, capture_output=True, text=True, timeout=900, cwd=work, env={**os.environ, "SIGNSPOT_MLFLOW": "0", **env}
    )
    seconds = time.perf_counter() - t0
    text = out.stdout + out.stderr
    lines = [line for line in text.strip().splitlines() if line.strip()]
    tail = lines[-1][:140] if lines else ""
    if "Traceback (most recent call last)" in text:
        outcome = "traceback"
    elif kind == "warn":
        outcome = "clear" if out.returncode == 0 and "warning" in text.lower() else "wrong"
    else:
        outcome = "clear" if out.returncode != 0 else "accepted"
    return name, outcome, seconds, tail


def _run(*extra):
    return ["run", "small", "--device", "cpu", "--no-progress", *extra]


def _data_copy(work: Path, data: Path) -> Path:
    copy = work / "data"
    shutil.copytree(data, copy)
    return copy


def _gt(work: Path, data: Path, change) -> Path:
    copy = _data_copy(work, data)
    path = copy / "MSSL_TEST_SET_GT.pkl"
    gt = pickle.loads(path.read_bytes())
    change(gt)
    path.write_bytes(pickle.dumps(gt))
    return copy


def _with(change):
    def make(work, data):
        return _run("--data", str(_gt(work, data, change))), {}

    return make


def _registry(text: str, encoding: str = "utf-8"):
    def make(work, data):
        path = work / "mine.yaml"
        path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
        return ["!", BENCH, "--registry", str(path), "list"], {}

    return make


def _score(gt, pred=None):
    def make(work, data):
        (work / "gt.pkl").write_bytes(gt if isinstance(gt, bytes) else pickle.dumps(gt))
        (work / "pred.pkl").write_bytes(pickle.dumps(pred or {"v": [[0, 0, 80]]}))
        return ["!", BENCH, "score", str(work / "gt.pkl"), str(work / "pred.pkl")], {}

    return make


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def _first(gt):
    return sorted(gt)[0]


def cases():
    sets = [
        ("spotter.training.lr=-1", "a negative learning rate"),
        ("expert_training.weight_decay=-1", "a negative weight decay"),
        ("spotter.training.select=bestt", "a misspelled choice"),
        ("expert_training.epochs=0", "zero epochs"),
        ("expert_training.batch_size=-4", "a negative batch size"),
        ("spotter.training.epochs=abc", "epochs not a number"),
        ("spotter.settings.hiden=64", "a misspelled spotter setting"),
        ("experts.skeleton.settings.temporal_kernal=9", "a misspelled expert setting"),
        ("decoder.settings.score_threshold=5", "a score threshold above 1"),
        ("spotter.training.loss.classification=focall", "a misspelled loss"),
        ("preprocess.pose.backend=bogus", "an unknown pose backend"),
        ("clips.stride=0", "a zero clip stride"),
        ("dataset.settings.vidoes=3", "a misspelled dataset setting"),
        ("seed=abc", "a seed that is not a number"),
        ("metrics=[]", "no metric"),
        ("spotter.settings.dropout=1.5", "a dropout above 1"),
    ]
    for assignment, what in sets:
        yield (
            f"--set {assignment} ({what})",
            "fail",
            lambda w, d, a=assignment: (_run("--data", str(d), "--set", a), {}),
        )
    yield (
        "--device banana",
        "fail",
        lambda w, d: (["run", "small", "--no-progress", "--data", str(d), "--device", "banana"], {}),
    )
    yield (
        "--device cuda without a GPU",
        "fail",
        lambda w, d: (["run", "small", "--no-progress", "--data", str(d), "--device", "cuda"], {}),
    )
    yield "--workers -3", "fail", lambda w, d: (_run("--data", str(d), "--workers", "-3"), {})
    yield "--spotter foo (unknown)", "fail", lambda w, d: (_run("--data", str(d), "--spotter", "foo"), {})
    yield "--expert i3dd (unknown)", "fail", lambda w, d: (_run("--data", str(d), "--expert", "i3dd"), {})
    yield "--profile nope", "fail", lambda w, d: (_run("--data", str(d), "--profile", "nope"), {})
    yield "unknown benchmark", "fail", lambda w, d: (["run", "smal", "--data", str(d)], {})
    yield "--data folder that does not exist", "fail", lambda w, d: (_run("--data", str(w / "nowhere")), {})
    yield "registry file in Latin-1", "fail", _registry("mine:\n  description: caf\xe9\n", "latin-1")
    yield "registry file of binary bytes", "fail", _registry(bytes(range(256)) * 4)
    yield "registry with a python tag", "fail", _registry("x: !!python/object/apply:os.system ['echo hi']\n")
    yield (
        "registry with an extends cycle",
        "fail",
        _registry("a: {extends: b, description: x, version: 1}\nb: {extends: a, description: y, version: 1}\n"),
    )
    yield "cache folder under a file", "fail", _cache_under_a_file
    yield (
        "unreachable MLflow server",
        "fail",
        lambda w, d: (_run("--data", str(d)), {"MLFLOW_TRACKING_URI": "http://127.0.0.1:9", "SIGNSPOT_MLFLOW": "1"}),
    )
    yield "a sign after the end of its video", "fail", _with(lambda gt: gt[_first(gt)].append([1, 40000, 41000]))
    yield "a video without a ground-truth entry", "fail", _with(lambda gt: gt.pop(_first(gt)))
    yield "a sign with a negative start", "fail", _with(lambda gt: gt[_first(gt)].append([1, -80, 40]))
    yield "a class id out of range", "fail", _with(lambda gt: gt[_first(gt)].append([99, 0, 40]))
    yield (
        "a zero-length sign",
        "warn",
        _with(
            lambda gt: gt[_first(gt)].__setitem__(0, [gt[_first(gt)][0][0], gt[_first(gt)][0][1], gt[_first(gt)][0][1]])
        ),
    )
    yield "a truncated video", "fail", lambda w, d: (_run("--data", str(_truncate(w, d))), {})
    yield "a corrupt .pose file", "fail", lambda w, d: (_run("--data", str(_corrupt_pose(w, d))), {})
    yield "bench score: negative times in the ground truth", "fail", _score({"v": [[0, -40, 100]]})
    yield "bench score: class 999 in the ground truth", "fail", _score({"v": [[999, 0, 40]]})
    yield "bench score: a pickle that runs code", "fail", _score(pickle.dumps({"v": _Evil()}))
    yield "bench score: ground truth that is a list", "fail", _score([[0, 0, 40]])


def _cache_under_a_file(work: Path, data: Path):
    (work / "file").write_text("not a folder")
    args = ["!", BENCH, "--cache-dir", str(work / "file" / "cache"), "--registry", str(work.parent / "registry.yaml")]
    return [*args, *_run("--data", str(data))], {}


def _truncate(work: Path, data: Path) -> Path:
    copy = _data_copy(work, data)
    video = sorted((copy / "MSSL_TEST_SET_VIDEOS").glob("*.mp4"))[0]
    video.write_bytes(video.read_bytes()[: video.stat().st_size // 3])
    (video.with_suffix(".pose")).unlink(missing_ok=True)  # so the video itself must be decoded
    return copy


def _corrupt_pose(work: Path, data: Path) -> Path:
    copy = _data_copy(work, data)
    pose = sorted((copy / "MSSL_TEST_SET_VIDEOS").glob("*.pose"))[0]
    pose.write_bytes(b"\x00garbage" * 100)
    return copy


if __name__ == "__main__":
    main()
