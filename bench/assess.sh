#!/usr/bin/env bash
# `aisec assess` on the shipped example project: total and per-stage wall time, so regressions
# show. Runs the full example (red team and guard on the local SmolLM2 included) RUNS times
# (default 1) with nothing kept in the store, and prints one line per stage with the median.
#
#   AISEC=target/release/aisec bench/assess.sh            # release build (cargo build --release first)
#   RUNS=3 ARGS="--skip redteam,guard" bench/assess.sh    # more runs, fewer stages
set -euo pipefail
AISEC=${AISEC:-target/release/aisec}
RUNS=${RUNS:-1}
PROJECT=${PROJECT:-examples/northwind-support}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
for i in $(seq 1 "$RUNS"); do
  # shellcheck disable=SC2086
  "$AISEC" assess "$PROJECT" --no-store --exit-zero -q --format json --out "$OUT/run$i" ${ARGS:-} > "$OUT/run$i.json"
done
python3 - "$OUT" "$RUNS" <<'PY'
import json, statistics, sys
out, runs = sys.argv[1], int(sys.argv[2])
stages, totals = {}, []
for i in range(1, runs + 1):
    r = json.load(open(f"{out}/run{i}.json"))
    totals.append(r["duration_ms"] / 1000)
    for s in r["metrics"]["assess"]["stages"]:
        stages.setdefault(s["name"], []).append(s["seconds"])
print(f"{'stage':<18} {'median s':>9}  runs")
for name, xs in stages.items():
    print(f"{name:<18} {statistics.median(xs):>9.2f}  {len(xs)}")
print(f"{'total (wall)':<18} {statistics.median(totals):>9.2f}  {runs}")
PY
