#!/usr/bin/env bash
# Install the pinned anchor scanners (bench/requirements-anchors.txt), one throwaway venv per
# anchor, OUTSIDE the repository. Idempotent: a venv whose stamp matches the pins is kept.
#
#   ANCHOR_VENVS=/work/bench-venvs  (default)   PYTHON=python3 (default)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
venvs="${ANCHOR_VENVS:-/work/bench-venvs}"
python="${PYTHON:-python3}"
reqs="$here/requirements-anchors.txt"

case "$(realpath -m "$venvs")/" in
  "$repo"/*) echo "ANCHOR_VENVS must be outside the repository ($repo)" >&2; exit 2 ;;
esac
mkdir -p "$venvs"

# Split requirements-anchors.txt at its '# venv: NAME' headers.
tools=$(sed -n 's/^# venv: *//p' "$reqs")
for tool in $tools; do
  req="$venvs/$tool.requirements.txt"
  awk -v t="$tool" '/^# venv:/ { on = ($3 == t); next } on && !/^#/ && NF' "$reqs" > "$req"
  if [ -f "$venvs/$tool/.pins" ] && cmp -s "$req" "$venvs/$tool/.pins"; then
    echo "anchor venv $venvs/$tool is up to date"
    continue
  fi
  echo "creating anchor venv $venvs/$tool"
  rm -rf "${venvs:?}/$tool"
  "$python" -m venv "$venvs/$tool"
  "$venvs/$tool/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -r "$req"
  "$venvs/$tool/bin/python" -m pip check
  cp "$req" "$venvs/$tool/.pins"
done

if [ ! -x /usr/bin/time ]; then
  echo "installing GNU time (/usr/bin/time) for peak-memory measurements"
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq time >/dev/null
  else sudo apt-get update -qq && sudo apt-get install -y -qq time >/dev/null; fi
fi
