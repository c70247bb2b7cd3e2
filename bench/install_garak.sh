#!/usr/bin/env bash
# Install the pinned reference side of bench/redteam_compare.py (garak 0.17.1, whole closure in
# bench/requirements-garak.txt) into a throwaway venv OUTSIDE the repository, then check that garak
# starts and that its OpenAI-compatible generator imports. Idempotent: a venv whose stamp matches the
# pins is kept.
#
#   GARAK_VENV=/work/venv-garak (default)   PYTHON=python3 (default, CPython 3.11)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
venv="${GARAK_VENV:-/work/venv-garak}"
python="${PYTHON:-python3}"
reqs="$here/requirements-garak.txt"

case "$(realpath -m "$venv")/" in
  "$repo"/*) echo "GARAK_VENV must be outside the repository ($repo)" >&2; exit 2 ;;
esac

if [ -f "$venv/.pins" ] && cmp -s "$reqs" "$venv/.pins"; then
  echo "garak venv $venv is up to date"
else
  echo "creating garak venv $venv (about 3 GB of wheels, 6.5 GB installed)"
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -r "$reqs"
fi

HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 "$venv/bin/python" - <<'PY'
import garak, garak.generators.openai, garak.probes.promptinject  # noqa: F401
print(f"garak {garak.__version__}: ok")
PY
cp "$reqs" "$venv/.pins"
