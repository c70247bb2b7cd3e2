#!/usr/bin/env bash
# Compare aisec with picklescan, modelscan, fickling and ModelAudit: detection on the labelled
# corpus, then wall time / peak memory on generated inputs. Prints both tables; with the default
# BENCH_DOCS it also rewrites docs/benchmarks.md. Extra arguments go to bench/compare.py
# (e.g. --only detection, --only perf, --runs 1, --tools aisec,picklescan).
#
# Environment (defaults):
#   AISEC=/work/target-bench/release/aisec   the binary under test
#   ANCHOR_VENVS=/work/bench-venvs           one venv per anchor, created by install_anchors.sh
#   BENCH_DATA=/work/bench-data              generated perf inputs (~6 GB, made if missing)
#   BENCH_RESULTS=/work/bench-results        per-file verdicts (detection.tsv), perf.json
#   BENCH_DOCS=docs/benchmarks.md            Markdown report; set empty to skip writing it
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
export AISEC="${AISEC:-/work/target-bench/release/aisec}"
export ANCHOR_VENVS="${ANCHOR_VENVS:-/work/bench-venvs}"
export BENCH_DATA="${BENCH_DATA:-/work/bench-data}"
export BENCH_RESULTS="${BENCH_RESULTS:-/work/bench-results}"
docs="${BENCH_DOCS-docs/benchmarks.md}"

if [ ! -x "$AISEC" ]; then
  echo "no aisec binary at $AISEC; build one with" >&2
  echo "  CARGO_TARGET_DIR=/work/target-bench cargo build --release -p aisec" >&2
  exit 2
fi

bash "$here/install_anchors.sh"
python3 "$here/gen_perf_inputs.py" --out "$BENCH_DATA"

cd "$repo"
args=()
if [ -n "$docs" ]; then
  args+=(--markdown "$docs" --command "AISEC=$AISEC bench/run_anchors.sh${*:+ $*}")
fi
exec python3 bench/compare.py "${args[@]}" "$@"
