#!/usr/bin/env python3
"""Round 2: runs the aisec binary on every file of MANIFEST.tsv and prints misses, false alarms, slow files.

    python3 check_redteam.py [path/to/aisec]
"""
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "..", "..", "target", "release", "aisec")
RANK = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}


def main():
    rows = [l.rstrip("\n").split("\t") for l in open(os.path.join(HERE, "MANIFEST.tsv"))][1:]
    misses, false_alarms, slow, crashes, passes = [], [], [], [], 0
    results = {}
    for path, expected, cls, desc in rows:
        t0 = time.time()
        try:
            p = subprocess.run([BIN, "scan", os.path.join(HERE, path), "--format", "json"],
                               capture_output=True, timeout=60)
        except subprocess.TimeoutExpired:
            crashes.append((path, "timeout > 60 s"))
            continue
        dt = time.time() - t0
        if dt > 5:
            slow.append((path, dt))
        try:
            rep = json.loads(p.stdout)
        except Exception:
            crashes.append((path, f"rc={p.returncode} stderr={p.stderr[-300:]!r}"))
            continue
        finds = rep.get("findings", [])
        top = max([RANK[f["severity"]] for f in finds], default=-1)
        na = [t for t in rep.get("targets", []) if t.get("status", {}) not in ("analysed", "skipped")
              and (t.get("status") if isinstance(t.get("status"), str) else t.get("status", {}).get("kind", t.get("status"))) != "analysed"]
        na = [t for t in rep.get("targets", []) if "not_analysed" in json.dumps(t.get("status"))]
        results[path] = {"top": top, "findings": [(f["severity"], f["title"]) for f in finds],
                         "not_analysed": [(t.get("member"), t.get("status")) for t in na]}
        if expected == "malicious":
            if top < RANK["high"]:
                misses.append((path, cls, desc, results[path]))
            else:
                passes += 1
        else:
            bad = [f for f in finds if RANK[f["severity"]] >= RANK["medium"]]
            if bad or na:
                false_alarms.append((path, cls, desc, results[path]))
            else:
                passes += 1
    print(f"== MISSES ({len(misses)})")
    for path, cls, desc, r in misses:
        print(f"- {path} [{cls}] top={r['top']} :: {desc}")
        for s, t in r["findings"]:
            print(f"    {s}: {t}")
        for m, s in r["not_analysed"]:
            print(f"    not_analysed {m}: {s}")
    print(f"== FALSE ALARMS ({len(false_alarms)})")
    for path, cls, desc, r in false_alarms:
        print(f"- {path} [{cls}] :: {desc}")
        for s, t in r["findings"]:
            if RANK[s] >= 2:
                print(f"    {s}: {t}")
        for m, s in r["not_analysed"]:
            print(f"    not_analysed {m}: {s}")
    print(f"== SLOW ({len(slow)}): {slow}")
    print(f"== CRASHES ({len(crashes)}): {crashes}")
    print(f"== PASSES {passes}")
    with open(os.path.join(HERE, "RESULTS.json"), "w") as f:
        json.dump(results, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
