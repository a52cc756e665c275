#!/usr/bin/env bash
# Screenshots of tracked runs in the MLflow UI, taken by headless Chromium: the check that runs are readable
# in a real browser, not only over the REST API.
#
#   scripts/ui-check.sh [OUT_DIR]        (default ./ui-check; PYTHON=... picks the interpreter)
#   UI_CHECK_BENCH="skeleton-only --profile tiny" scripts/ui-check.sh   (a run that learns: minutes, not one)
#
# Starts `mlflow server` on 127.0.0.1 (a free port, sqlite and artifacts in a temporary folder), runs a tiny
# skeleton-only benchmark against it twice (the second swaps the decoder: everything before it is reused),
# and writes into OUT_DIR:
#   experiment.png          the runs table in the "Model training" view: `metrics.f1 >= 0` (bench runs, not
#                           their stages), best F1 first
#   experiment-charts.png   the same runs' charts: f1 first (the experiment's primary metric), f1_by_iou
#   experiment-default.png  the experiment opened without ?workflowType (what the UI picks on its own)
#   run.png                 the first run's page: description, dataset, metrics, params (a tall window)
#   run-charts.png          the run's "Model metrics" charts
#   run-system.png          the run's "System metrics" charts (CPU, memory...: with psutil installed)
#   run-artifacts.png       the run's artifacts, f1_by_iou.png open
#   run-per-class.png       the run's artifacts, per_class_f1.png open
#   run1.json, run2.json, server.log, bench.log
# Exits non-zero when the server does not start, a run fails, or a screenshot is missing.  Chromium is
# installed with apt-get when it is missing and the script runs as root.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$(mkdir -p "${1:-ui-check}" && cd "${1:-ui-check}" && pwd)"
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x "$REPO/.venv/bin/python" ]]; then PYTHON="$REPO/.venv/bin/python"; else PYTHON=python3; fi
fi
BUDGET_MS="${UI_CHECK_BUDGET_MS:-15000}"  # Chromium's virtual time for the page's scripts and requests
read -r -a BENCH_ARGS <<<"${UI_CHECK_BENCH:-ui-check}"  # entry and options of the tracked runs

fail() { echo "ui-check: $*" >&2; exit 1; }

find_chromium() {
  for c in chromium chromium-browser google-chrome google-chrome-stable; do
    if command -v "$c" >/dev/null 2>&1; then command -v "$c"; return 0; fi
  done
  return 1
}
CHROMIUM="$(find_chromium || true)"
if [[ -z "$CHROMIUM" ]]; then
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "ui-check: installing chromium (apt-get)" >&2
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    CHROMIUM="$(find_chromium || true)"
  fi
  [[ -n "$CHROMIUM" ]] || fail "no chromium found (apt-get install chromium, or run as root to let this script)"
fi

PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}" "$PYTHON" -c "import mlflow, benchmark.commands.main" 2>/dev/null ||
  fail "$PYTHON cannot import mlflow and the project (PYTHON=... picks another interpreter)"

WORK="$(mktemp -d -t signspot-ui-check.XXXXXX)"
SERVER_PID=""
cleanup() {
  if [[ -n "$SERVER_PID" ]]; then
    kill -TERM -- "-$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.5; done
    kill -KILL -- "-$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

PORT="$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
URL="http://127.0.0.1:$PORT"
env -u MLFLOW_TRACKING_URI MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false setsid "$PYTHON" -m mlflow server \
  --host 127.0.0.1 --port "$PORT" --workers 1 \
  --backend-store-uri "sqlite:///$WORK/server.db" --serve-artifacts --artifacts-destination "$WORK/artifacts" \
  >"$OUT/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 360); do
  kill -0 "$SERVER_PID" 2>/dev/null || fail "mlflow server exited (see $OUT/server.log)"
  if "$PYTHON" -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1] + '/health', timeout=2)" "$URL" \
    2>/dev/null; then break; fi
  sleep 0.5
done
"$PYTHON" -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1] + '/health', timeout=5)" "$URL" \
  2>/dev/null || fail "mlflow server not healthy after 180 s (see $OUT/server.log)"
echo "ui-check: mlflow server at $URL" >&2

cat >"$WORK/registry.yaml" <<'YAML'
ui-check:
  extends: reference-mssl
  description: a tiny skeleton-only benchmark for the MLflow UI check (scripts/ui-check.sh)
  version: 1
  profiles: null
  dataset: {settings: {videos: 5, classes: 3, signers: 2, seconds: 8, size: 96, workers: 1}}
  preprocess: {workers: 1, pose: {model_complexity: 1}}
  experts: {rgb: null, hands: null, flow: null}
  expert_training: {epochs: 1, rounds: 2, max_clips_per_epoch: 16, batch_size: 8, milestones: [1], lr: 1.0e-3}
  spotter:
    settings: {reduce_dims: [32], hidden: 16, lstm_hidden: 8, head_dim: 8}
    training: {epochs: 3, batch_size: 2, milestones: [2], lr: 1.0e-3}
YAML

bench() {
  (cd "$WORK" && MLFLOW_TRACKING_URI="$URL" SIGNSPOT_MLFLOW=1 PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}" \
    "$PYTHON" -m benchmark.commands.main --registry "$WORK/registry.yaml" --cache-dir "$WORK/cache" \
    run "${BENCH_ARGS[@]}" --device cpu --json "$@")
}
bench >"$OUT/run1.json" 2>"$OUT/bench.log" || fail "bench run failed (see $OUT/bench.log)"
bench --decoder argmax >"$OUT/run2.json" 2>>"$OUT/bench.log" || fail "second bench run failed (see $OUT/bench.log)"

read -r RUN EXP < <("$PYTHON" - "$OUT/run1.json" "$URL" <<'PY'
import json, sys, urllib.request
text = open(sys.argv[1]).read()
run_id = json.loads(text[text.index("{"):])["run_id"]
with urllib.request.urlopen(f"{sys.argv[2]}/api/2.0/mlflow/runs/get?run_id={run_id}", timeout=30) as r:
    print(run_id, json.load(r)["run"]["info"]["experiment_id"])
PY
)
[[ -n "$RUN" && -n "$EXP" ]] || fail "no tracked run id in $OUT/run1.json"

shot() {  # shot NAME WIDTH,HEIGHT PAGE [VIRTUAL_MS]
  rm -f "$OUT/$1"
  timeout 180 "$CHROMIUM" --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run \
    --user-data-dir="$WORK/chromium-$1" --window-size="$2" --virtual-time-budget="${4:-$BUDGET_MS}" \
    --screenshot="$OUT/$1" "$URL/$3" >/dev/null 2>>"$WORK/chromium.log" || true
  [[ -s "$OUT/$1" ]] || fail "no screenshot $1 of $URL/$3 ($(tail -3 "$WORK/chromium.log" 2>/dev/null))"
  echo "ui-check: $OUT/$1  <-  $URL/$3" >&2
}
VIEW="workflowType=machine_learning"
RUNS="$VIEW&searchFilter=metrics.f1%20%3E%3D%200&orderByKey=metrics.%60f1%60&orderByAsc=false"  # the tab's URL
shot experiment.png 1600,1000 "#/experiments/$EXP/runs?$RUNS"
shot experiment-charts.png 1600,1400 "#/experiments/$EXP/runs?$RUNS&compareRunsMode=CHART" $((BUDGET_MS * 2))
shot experiment-default.png 1600,1000 "#/experiments/$EXP"
shot run.png 1600,2600 "#/experiments/$EXP/runs/$RUN?$VIEW"
shot run-charts.png 1600,1400 "#/experiments/$EXP/runs/$RUN/model-metrics?$VIEW" $((BUDGET_MS * 2))
shot run-system.png 1600,1000 "#/experiments/$EXP/runs/$RUN/system-metrics?$VIEW" $((BUDGET_MS * 2))
shot run-artifacts.png 1600,1000 "#/experiments/$EXP/runs/$RUN/artifacts/f1_by_iou.png?$VIEW"
shot run-per-class.png 1600,1000 "#/experiments/$EXP/runs/$RUN/artifacts/per_class_f1.png?$VIEW"
echo "ui-check: done: $OUT" >&2
