#!/usr/bin/env bash
# Install the pinned reference side of bench/evasion_compare.py (bench/requirements-ml.txt) into a
# throwaway venv OUTSIDE the repository, then check that torch runs a conv forward/backward and
# that ART and torchattacks import. Idempotent: a venv whose stamp matches the pins is kept.
#
#   ML_VENV=/work/bench-venv-ml (default)   PYTHON=python3 (default, CPython 3.11)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
venv="${ML_VENV:-/work/bench-venv-ml}"
python="${PYTHON:-python3}"
reqs="$here/requirements-ml.txt"

case "$(realpath -m "$venv")/" in
  "$repo"/*) echo "ML_VENV must be outside the repository ($repo)" >&2; exit 2 ;;
esac

if [ -f "$venv/.pins" ] && cmp -s "$reqs" "$venv/.pins"; then
  echo "ML venv $venv is up to date"
else
  echo "creating ML venv $venv (about 3.4 GB of wheels, 5.6 GB installed)"
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -r "$reqs"
fi

"$venv/bin/python" - <<'PY'
import torch, art, torchattacks
torch.set_num_threads(1)
net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
                          torch.nn.Linear(256, 10))
x = torch.rand(2, 1, 8, 8, requires_grad=True)
torch.nn.functional.cross_entropy(net(x), torch.tensor([0, 1])).backward()
assert x.grad is not None and x.grad.abs().sum() > 0
print(f"torch {torch.__version__} (CPU path), art {art.__version__}, torchattacks {torchattacks.__version__}: ok")
PY
cp "$reqs" "$venv/.pins"
