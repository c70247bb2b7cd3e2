#!/usr/bin/env bash
# garak against `aisec redteam` on the same local target (`aisec models serve` with SmolLM2), at
# the same concurrency, then both against an instant target (bench/redteam_compare.py --instant).
# Writes bench/results/redteam.{txt,json}. Extra arguments go to bench/redteam_compare.py
# (e.g. --concurrency 4, --prompt-cap 2, --tools-run garak, --no-model).
#
# Environment (defaults):
#   AISEC=/work/target-bench/debug/aisec   the binary under test (serves the model and red-teams it)
#   GARAK_VENV=/work/venv-garak            garak 0.17.1, created by install_garak.sh
#   BENCH_RESULTS=/work/bench-results      garak's reports, aisec's transcripts and reports (redteam/)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
export AISEC="${AISEC:-/work/target-bench/debug/aisec}"
export GARAK_VENV="${GARAK_VENV:-/work/venv-garak}"
export BENCH_RESULTS="${BENCH_RESULTS:-/work/bench-results}"

if [ ! -x "$AISEC" ]; then
  echo "no aisec binary at $AISEC; build one with" >&2
  echo "  CARGO_TARGET_DIR=/work/target-bench cargo build -p aisec" >&2
  exit 2
fi

bash "$here/install_garak.sh"
cd "$repo"
exec python3 bench/redteam_compare.py --aisec "$AISEC" --garak-venv "$GARAK_VENV" --instant \
  --json bench/results/redteam.json --table bench/results/redteam.txt "$@"
