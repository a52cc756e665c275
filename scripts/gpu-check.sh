#!/usr/bin/env bash
# scripts/gpu-check.sh [OUT.json]: is this GPU machine ready for the paper's settings, and how fast is it?
#
# One line per check, "PASS|FAIL|SKIP <name> <seconds>", in at most GPU_CHECK_BUDGET_S seconds (480: the 8
# minutes issue 13 allows on one H200-class GPU); exits 1 when any check fails; writes every figure to OUT.json
# (default gpu-check.json): the doctor's report, the CUDA tests' counts and skip reasons, `bench perf`'s rows
# and MSSL estimate, the reference run's summary and per-stage seconds, the preprocessing speed-up.
#
#   doctor       bench doctor --json (exit 0: the default run can work here)
#   cuda-tests   pytest -m cuda (on a GPU none may be skipped: a skip there means CUDA is not usable)
#   perf         bench perf experts spotter decode --device cuda --estimate --json: clips/s, FLOPs, share of
#                the bf16 peak and peak memory of i3d, p3d, stgcn at the paper's and the cpu profile's sizes
#   reference    bench run reference-mssl on a small embedded dataset at the paper's sizes (224 px crops, full
#                widths, P3D-199; no profile) but 1 epoch per round of at most 64 clips and 2 spotter epochs, in
#                a fresh cache so every stage runs at its real size
#   preprocess   bench perf preprocess --quick: frames/s with 1 worker and with every core, and the speed-up
#
# GPU_CHECK_DEVICE=cpu runs the same checks in a degraded way on a machine without a GPU (tiny sizes, the
# skeleton-only entry, CUDA tests skipped with their reason, no preprocessing figure), so the script itself is
# tested there (tests/test_doctor.py).  PYTHON picks the interpreter (default: the checkout's .venv, else python3).
set -u

OUT=${1:-gpu-check.json}
DEVICE=${GPU_CHECK_DEVICE:-cuda}
BUDGET=${GPU_CHECK_BUDGET_S:-480}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x "$ROOT/.venv/bin/python" ]]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python3; fi
fi
case "$OUT" in /*) ;; *) OUT="$PWD/$OUT" ;; esac
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")
cd "$ROOT" || exit 1
START=$(date +%s)
: > "$WORK/checks.tsv"
FAILED=0

# run_check NAME TIMEOUT_S CMD...: stdout to $WORK/NAME.out, stderr to $WORK/NAME.err, one result line
run_check() {
    local name=$1 limit=$2; shift 2
    local left=$((BUDGET - ($(date +%s) - START)))
    if ((left <= 0)); then
        printf 'FAIL %s 0 (no time left of the %s s budget)\n' "$name" "$BUDGET"
        printf '%s\tFAIL\t0\t124\n' "$name" >> "$WORK/checks.tsv"
        FAILED=1
        return 1
    fi
    ((limit > left)) && limit=$left
    local t0 rc secs status
    t0=$(date +%s.%N)
    timeout --kill-after=10 "$limit" "$@" > "$WORK/$name.out" 2> "$WORK/$name.err"
    rc=$?
    secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    status=PASS
    if ((rc != 0)); then status=FAIL; fi
    if [[ $status == PASS && -n "${POSTCHECK:-}" ]] && ! "$POSTCHECK" >> "$WORK/$name.err" 2>&1; then
        status=FAIL
        rc=99
    fi
    printf '%s %s %s\n' "$status" "$name" "$secs"
    printf '%s\t%s\t%s\t%s\n' "$name" "$status" "$secs" "$rc" >> "$WORK/checks.tsv"
    if [[ $status == FAIL ]]; then
        FAILED=1
        ((rc == 124 || rc == 137)) && echo "  $name: timed out after $limit s" >&2
        tail -n 15 "$WORK/$name.err" | sed "s/^/  $name: /" >&2
    fi
    return 0
}

skip_check() {
    printf 'SKIP %s 0 (%s)\n' "$1" "$2"
    printf '%s\tSKIP\t0\t0\n' "$1" >> "$WORK/checks.tsv"
}

BENCH=("$PYTHON" -m benchmark.commands.main)

if [[ $DEVICE == cpu ]]; then
    PERF_ARGS=(experts decode --device cpu --quick --expert p3d)
    RUN_ARGS=(skeleton-only --profile tiny --device cpu
        --set dataset.settings.videos=3 --set dataset.settings.seconds=4
        --set dataset.settings.classes=2 --set dataset.settings.signers=1
        --set expert_training.rounds=1 --set spotter.training.epochs=1)
    CUDA_TESTS_SKIPS_OK=1
else
    PERF_ARGS=(experts spotter decode --device "$DEVICE" --expert i3d --expert p3d --expert stgcn)
    RUN_ARGS=(reference-mssl --device "$DEVICE"
        --set dataset.settings.videos=8 --set dataset.settings.seconds=16
        --set spotter.training.epochs=2)
    CUDA_TESTS_SKIPS_OK=0
fi
COMMON_RUN=(--no-track --no-progress --json
    --set expert_training.epochs=1 --set expert_training.max_clips_per_epoch=64
    --set expert_training.milestones=[] --set spotter.training.milestones=[])

run_check doctor 90 "${BENCH[@]}" doctor --json

# on a GPU none of the CUDA tests may be skipped: a skip there means torch cannot use the GPU
cuda_tests_postcheck() {
    "$PYTHON" - "$WORK/cuda-tests.xml" "$CUDA_TESTS_SKIPS_OK" <<'EOF'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suite = root if root.tag == "testsuite" else root.find("testsuite")
tests, skipped = int(suite.get("tests", 0)), int(suite.get("skipped", 0))
if tests == 0:
    sys.exit("no test is marked cuda")
if skipped and sys.argv[2] != "1":
    sys.exit(f"{skipped} of {tests} CUDA tests were skipped on a GPU machine: CUDA is not usable here")
EOF
}
POSTCHECK=cuda_tests_postcheck run_check cuda-tests 150 \
    "$PYTHON" -m pytest -m cuda -rs -q -p no:cacheprovider --junitxml="$WORK/cuda-tests.xml" tests
grep -o 'SKIPPED .*' "$WORK/cuda-tests.out" | sed 's/^SKIPPED \[[0-9]*\] [^ ]* /  cuda-tests skipped: /' | sort -u | head -n 3

run_check perf 200 "${BENCH[@]}" perf "${PERF_ARGS[@]}" --estimate --json

run_check reference 240 "${BENCH[@]}" --cache-dir "$WORK/run-cache" run "${RUN_ARGS[@]}" "${COMMON_RUN[@]}"

if [[ $DEVICE == cpu ]]; then
    skip_check preprocess "GPU_CHECK_DEVICE=cpu: bench perf preprocess measures it here"
else
    run_check preprocess 120 "${BENCH[@]}" perf preprocess --quick --json
fi

TOTAL=$(($(date +%s) - START))
if ((TOTAL > BUDGET)); then
    printf 'FAIL budget %s (over %s s)\n' "$TOTAL" "$BUDGET"
    printf 'budget\tFAIL\t%s\t1\n' "$TOTAL" >> "$WORK/checks.tsv"
    FAILED=1
fi

"$PYTHON" - "$WORK" "$OUT" "$DEVICE" "$TOTAL" "$BUDGET" <<'EOF'
"""Gather the checks' outputs into one JSON file (figures only; the logs stay in the work folder)."""
import json, re, sys, time, xml.etree.ElementTree as ET
from pathlib import Path

work, out, device, total, budget = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])

def read_json(name):
    try:
        return json.loads((work / f"{name}.out").read_text())
    except (OSError, ValueError):
        return None

checks = []
for line in (work / "checks.tsv").read_text().splitlines():
    name, status, seconds, rc = line.split("\t")
    checks.append({"name": name, "status": status, "seconds": float(seconds), "rc": int(rc)})
cuda_tests = None
xml = work / "cuda-tests.xml"
if xml.is_file():
    root = ET.parse(xml).getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    cuda_tests = {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}
    cuda_tests["skip_reasons"] = sorted({s.get("message", "") for s in root.iter("skipped")})
stages = []
err = work / "reference.err"
if err.is_file():
    for line in err.read_text().splitlines():
        m = re.match(r"\s+finished (\S+) in ([0-9.]+) s", line)
        if m:
            stages.append({"stage": m.group(1), "seconds": float(m.group(2))})
report = {
    "device": device,
    "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
    "total_s": total,
    "budget_s": budget,
    "ok": all(c["status"] != "FAIL" for c in checks),
    "checks": checks,
    "doctor": read_json("doctor"),
    "cuda_tests": cuda_tests,
    "perf": read_json("perf"),
    "reference_run": read_json("reference"),
    "reference_stages": stages,
    "preprocess": read_json("preprocess"),
    "logs": str(work),
}
out.write_text(json.dumps(report, indent=2))
print(f"figures: {out}  (logs: {work})")
EOF

exit $FAILED
