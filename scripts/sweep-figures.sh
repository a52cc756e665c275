#!/usr/bin/env bash
# Wall times, side by side on this machine, each from an empty cache: one tiny `bench run`, the 4-trial tiny
# sweep on the local executor and on Ray, and the Ray sweep again (everything reused).  Prints one line each.
set -euo pipefail
BENCH=${BENCH:-.venv/bin/bench}
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
export MLFLOW_TRACKING_URI="sqlite:///$root/mlflow.db"
grid=(--profile tiny --grid spotter=conv-bilstm,tcn --seeds 0,1)
t() { local start end; start=$(date +%s.%N); "$@" >/dev/null 2>&1; end=$(date +%s.%N); echo "$end - $start" | bc; }
run=$(t "$BENCH" --cache-dir "$root/run" run reference-mssl --profile tiny --json)
local_=$(t "$BENCH" --cache-dir "$root/local" sweep reference-mssl "${grid[@]}" --json)
ray=$(t "$BENCH" --cache-dir "$root/ray" sweep reference-mssl "${grid[@]}" --executor ray --json)
again=$(t "$BENCH" --cache-dir "$root/ray" sweep reference-mssl "${grid[@]}" --executor ray --json)
printf 'one tiny bench run           %6.1f s\n' "$run"
printf 'tiny 4-trial sweep, local    %6.1f s  (%.2fx one run)\n' "$local_" "$(echo "$local_ / $run" | bc -l)"
printf 'tiny 4-trial sweep, ray      %6.1f s  (%.2fx one run)\n' "$ray" "$(echo "$ray / $run" | bc -l)"
printf 'the ray sweep again          %6.1f s  (%.0f %% of its first run)\n' "$again" "$(echo "100 * $again / $ray" | bc -l)"
