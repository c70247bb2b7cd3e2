#!/usr/bin/env bash
# Validates aisec's SARIF against the SARIF 2.1.0 schema and GitHub code scanning's ingestion rules,
# with Microsoft's SARIF Multitool (from the npm registry, installed in a throwaway folder).
# Usage: scripts/check-sarif.sh [path/to/aisec]
set -euo pipefail
cd "$(dirname "$0")/.."
AISEC=${1:-target/debug/aisec}
tool_dir=${SARIF_TOOL_DIR:-${TMPDIR:-/tmp}/aisec-sarif-multitool}
mkdir -p "$tool_dir"
if [ ! -x "$tool_dir/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool" ]; then
  (cd "$tool_dir" && npm install --silent --no-audit --no-fund @microsoft/sarif-multitool-linux@5.7.0 >/dev/null)
fi
multitool="$tool_dir/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool"
chmod +x "$multitool"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Findings in files and archive members, and a file that cannot be analysed (absolute path).
"$AISEC" scan examples/models crates/aisec-modelscan/tests/fixtures/malicious/zip_crc_mismatch.zip \
  --format sarif --output "$work/findings.sarif" --exit-zero
printf 'not a model' > "$work/unknown.pt"
"$AISEC" scan "$work/unknown.pt" --format sarif --output "$work/incomplete.sarif" --exit-zero
# An assessment: model scan, provenance, threat model and compliance findings in one log.
"$AISEC" assess examples/northwind-support --skip redteam,guard,attack --no-store --exit-zero -q \
  --out "$work/assess" > /dev/null
status=0
for f in "$work/findings.sarif" "$work/incomplete.sarif" "$work/assess/report.sarif"; do
  out=$(DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 "$multitool" validate "$f" --rule-kind "Gh;Sarif" --output "$f.validation" 2>&1)
  if printf '%s\n' "$out" | grep -E "(: (error|warning) |ERR[0-9])" ; then
    status=1
  fi
done
[ "$status" -eq 0 ] && echo "SARIF valid: schema and GitHub ingestion rules, no errors or warnings"
exit "$status"
