#!/usr/bin/env bash
# The `expected:` blocks of registry.yaml: for every built-in entry and profile, `bench sweep ENTRY --profile P
# --seeds 0,1,2` (three spotter seeds on the same expert features) on the embedded data; prints one YAML line
# per entry and profile to paste.  Usage: scripts/measure-expectations.sh [PROFILE...] (default: tiny cpu).
set -euo pipefail
BENCH=${BENCH:-.venv/bin/bench}
profiles=("${@:-tiny cpu}")
entries=$("$BENCH" list 2>/dev/null | awk '/^Benchmarks/{on=1; next} /^[A-Z]/{on=0} on && /^  [a-z]/{print $1}')
for profile in ${profiles[@]}; do
  for entry in $entries; do
    out=$("$BENCH" sweep "$entry" --profile "$profile" --seeds 0,1,2 --json --no-progress 2>/dev/null)
    python3 - "$entry" "$profile" "$out" <<'PY'
import json, sys, datetime
entry, profile, text = sys.argv[1], sys.argv[2], sys.argv[3]
d = json.loads(text[text.index("{"):])
row = d["table"][0]
pass
print(f"{entry} {profile}: {{f1_mean: {row['mean_f1']:.3f}, f1_std: {row['std_f1']:.3f}, seeds: {row['n']}, "
      f"measured: {datetime.date.today().isoformat()}}}  # val F1 {row['mean_val_f1'] or 0:.3f}, "
      f"tal-map {row['mean_map'] or 0:.3f}, {row['mean_seconds']:.0f} s/trial")
PY
  done
done
