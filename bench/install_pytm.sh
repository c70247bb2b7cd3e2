#!/usr/bin/env bash
# Install the pinned reference side of bench/threatmodel_compare.py (OWASP pytm, exact pins in
# bench/requirements-pytm.txt) into a throwaway venv OUTSIDE the repository, then check that pytm
# imports with its LLM and Agent elements. Idempotent: a venv whose stamp matches the pins is kept.
#
#   PYTM_VENV=/work/venv-pytm (default)   PYTHON=python3 (default, CPython 3.11)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
venv="${PYTM_VENV:-/work/venv-pytm}"
python="${PYTHON:-python3}"
reqs="$here/requirements-pytm.txt"

case "$(realpath -m "$venv")/" in
  "$repo"/*) echo "PYTM_VENV must be outside the repository ($repo)" >&2; exit 2 ;;
esac

if [ -f "$venv/.pins" ] && cmp -s "$reqs" "$venv/.pins"; then
  echo "pytm venv $venv is up to date"
else
  echo "creating pytm venv $venv"
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$reqs"
fi

"$venv/bin/python" - <<'PY'
import importlib.metadata
import pytm
from pytm import LLM, Agent, TM  # noqa: F401  (the AI elements the bench maps onto)
print(f"pytm {importlib.metadata.version('pytm')}: ok")
PY
cp "$reqs" "$venv/.pins"
