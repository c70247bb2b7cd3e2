#!/usr/bin/env python3
"""Detection quality and speed of `aisec guard` against two prompt-injection anchors.

Every tool sees the same labelled rows (bastioncorpus 0.6.0 `injections.jsonl`: `id`, `category`,
`label` malicious|benign, `channel`, `lang`, `text`) and gives one verdict per row, flagged or not.
The script prints, per tool, flagged attacks, recall, precision, false-positive rate on the benign
rows and latency per prompt (p50, p99, mean, ms), then recall per category, and with `--json OUT`
writes every figure and every per-row verdict.

Tools (`--tools`, default all three):

* `rebuff`: Rebuff 0.1.1's heuristic, `rebuff.detect_pi_heuristics.
  detect_prompt_injection_using_heuristic_on_input`, flagged when the score is above Rebuff's own
  default `max_heuristic_score` (0.75, `score > 0.75` as in `RebuffSdk.detect_injection`). Its
  vector-store and LLM checks need Pinecone and OpenAI accounts and are not run.
* `llmguard`: LLM Guard 0.3.16's input scanners that run with no model download, through its
  `scan_prompt`; a row is flagged when any of them returns invalid. The worker tries every input
  scanner and reports why the others could not run (the PromptInjection scanner needs a Hugging
  Face model that no wheel on the package index ships).
* `aisec`: `aisec guard check --input ROWS.jsonl` (JSONL in: `text`, `role` user|tool; JSONL out:
  `index`, `action`, `rules`, `micros`). Flagged on `block`, or on `alert`/`redact` when an
  injection rule (`--aisec-injection-rules`, GD100,GD101) fired. `--aisec-args` may be given more
  than once: each value is one run with those extra flags, labelled with them.

The anchors run in their own venvs (`$LLMGUARD_VENV`, default /work/venv-llmguard; `$REBUFF_VENV`,
default /work/venv-rebuff; see bench/install_guard_anchors.sh): this script re-invokes itself there
as `--worker NAME`, rows on stdin, JSON verdicts on stdout. The script itself needs only the
standard library. Latency is measured in-process around the detection call alone
(`time.perf_counter_ns`), after `--warmup` untimed calls on the first rows; aisec's is the `micros`
it reports, with the same warm-up rows put in front of its input and their lines dropped.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

REBUFF_THRESHOLD = 0.75  # RebuffSdk.detect_injection(max_heuristic_score=0.75): flagged if score > it
DEFAULT_INJECTION_RULES = "GD100,GD101"

# LLM Guard input scanners the worker runs, with the arguments they need. BanSubstrings gets the
# only substring list LLM Guard ships for prompts (`ban_substrings.PROMPT_STOP_SUBSTRINGS`).
LLMGUARD_OFFLINE = ["InvisibleText", "Secrets", "BanSubstrings", "TokenLimit"]
# The others, tried once so that the output says why they cannot run here.
LLMGUARD_OTHERS = [
    "PromptInjection", "Gibberish", "Language", "Toxicity", "BanCode", "Sentiment",
    "Code", "BanTopics", "BanCompetitors", "Regex", "Anonymize",
]
LLMGUARD_NEEDS_CONFIG = {
    "Code": "needs a list of languages from the user, and a Hugging Face model",
    "BanTopics": "needs a list of topics from the user, and a Hugging Face model",
    "BanCompetitors": "needs a list of competitor names from the user, and a Hugging Face model",
    "Regex": "needs patterns from the user; LLM Guard ships no default pattern list for prompts",
    "Anonymize": "needs a Vault, a spaCy model (downloaded at start) and a Hugging Face NER model",
}


# --------------------------------------------------------------------------------------------
# workers: run inside an anchor's venv, read {"texts": [...], "warmup": N} on stdin
# --------------------------------------------------------------------------------------------

def _timed(fn, texts, warmup, name):
    for text in texts[:warmup]:
        fn(text)
    out = []
    start = time.monotonic()
    for n, text in enumerate(texts, 1):
        t0 = time.perf_counter_ns()
        res = fn(text)
        dt = time.perf_counter_ns() - t0
        out.append((res, dt / 1e3))
        if n % 20 == 0 or n == len(texts):
            print(f"  {name}: {n}/{len(texts)} rows, {time.monotonic() - start:.0f} s", file=sys.stderr)
    return out


def worker_rebuff(texts, warmup):
    from importlib.metadata import version

    import contextlib
    import io

    # `import rebuff` imports langchain, which prints deprecation warnings: keep them off stderr.
    with contextlib.redirect_stderr(io.StringIO()):
        from rebuff.detect_pi_heuristics import detect_prompt_injection_using_heuristic_on_input as heur

    rows = []
    for score, micros in _timed(heur, texts, warmup, "rebuff"):
        rows.append({"flagged": score > REBUFF_THRESHOLD, "score": round(float(score), 6),
                     "micros": round(micros, 3)})
    return {
        "tool": f"Rebuff {version('rebuff')} heuristic (score > {REBUFF_THRESHOLD})",
        "version": version("rebuff"),
        "detector": "rebuff.detect_pi_heuristics.detect_prompt_injection_using_heuristic_on_input",
        "threshold": REBUFF_THRESHOLD,
        "threshold_rule": "flagged when score > max_heuristic_score (RebuffSdk default 0.75)",
        "rows": rows,
    }


def _llmguard_try(name):
    """Build one LLM Guard input scanner with default settings; (scanner, None) or (None, why)."""
    from llm_guard import input_scanners as s

    try:
        if name == "BanSubstrings":
            from llm_guard.input_scanners.ban_substrings import PROMPT_STOP_SUBSTRINGS
            return s.BanSubstrings(substrings=PROMPT_STOP_SUBSTRINGS), None
        if name in LLMGUARD_NEEDS_CONFIG:
            return None, LLMGUARD_NEEDS_CONFIG[name]
        if name == "Language":
            scanner = s.Language(valid_languages=["en"])
        else:
            scanner = getattr(s, name)()
        # Some scanners load their model lazily: one call proves it works.
        scanner.scan("hello world")
        return scanner, None
    except BaseException as exc:  # noqa: BLE001 - any failure means "cannot run offline"
        return None, _why(name, exc)


def _why(name, exc):
    """One line on why a scanner failed, with host names and URLs left out."""
    import re

    text = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    text = re.sub(r"\w+://\S+", "<url>", text)
    text = re.sub(r"\b[\w-]+(\.[\w-]+)*\.(com|co|net|org|io|ai)\b", "<host>", text)
    hint = {
        "TokenLimit": "tiktoken downloads the cl100k_base encoding when the scanner is built",
        "Sentiment": "nltk.download('vader_lexicon') needs the network",
        "PromptInjection": "needs the Hugging Face model protectai/deberta-v3-base-prompt-injection-v2",
    }.get(name)
    if hint is None and ("<host>" in text or "<url>" in text):
        hint = "needs a Hugging Face model"
    if hint:
        return f"{hint}, not in any local cache and not downloadable here ({type(exc).__name__})"
    return f"{type(exc).__name__}: {text[:200]}"


def worker_llmguard(texts, warmup):
    from importlib.metadata import version

    from llm_guard import scan_prompt
    from llm_guard.util import configure_logger

    configure_logger(log_level="ERROR", stream=sys.stderr)
    scanners, unavailable = [], {}
    for name in LLMGUARD_OFFLINE:
        scanner, why = _llmguard_try(name)
        if scanner is None:
            unavailable[name] = why
        else:
            scanners.append(scanner)
    for name in LLMGUARD_OTHERS:
        scanner, why = _llmguard_try(name)
        unavailable[name] = why if scanner is None else "runs, but left out: needs a model"
    names = [type(x).__name__ for x in scanners]

    def scan(text):
        _, valid, _ = scan_prompt(scanners, text)
        return valid

    rows = []
    for valid, micros in _timed(scan, texts, warmup, "llmguard"):
        rows.append({"flagged": not all(valid.values()),
                     "by": sorted(k for k, v in valid.items() if not v),
                     "micros": round(micros, 3)})
    return {
        "tool": f"LLM Guard {version('llm-guard')} (offline scanners: {', '.join(names)})",
        "version": version("llm-guard"),
        "scanners": names,
        "ban_substrings_list": "llm_guard.input_scanners.ban_substrings.PROMPT_STOP_SUBSTRINGS",
        "unavailable": unavailable,
        "rows": rows,
    }


def run_worker(name):
    payload = json.load(sys.stdin)
    # Anchors may print to stdout (LLM Guard's logger does by default): keep fd 1 for our JSON.
    out_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    fn = {"rebuff": worker_rebuff, "llmguard": worker_llmguard}[name]
    result = fn(payload["texts"], payload["warmup"])
    with os.fdopen(out_fd, "w", encoding="utf-8") as out:
        json.dump(result, out)


# --------------------------------------------------------------------------------------------
# driver
# --------------------------------------------------------------------------------------------

def load_rows(path):
    rows = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            for key in ("text", "label"):
                if key not in row:
                    raise SystemExit(f"{path}:{n}: no '{key}' field")
            if row["label"] not in ("malicious", "benign"):
                raise SystemExit(f"{path}:{n}: label {row['label']!r} is not malicious/benign")
            rows.append(row)
    return rows


def call_worker(name, venv, rows, warmup):
    python = Path(venv) / "bin" / "python"
    if not python.exists():
        return None, f"{python} not found (run bench/install_guard_anchors.sh)"
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1",
               TOKENIZERS_PARALLELISM="false", PYTHONDONTWRITEBYTECODE="1")
    payload = json.dumps({"texts": [r["text"] for r in rows], "warmup": warmup})
    # The worker's stderr (progress, warnings, a traceback) goes straight to ours.
    proc = subprocess.run([str(python), str(Path(__file__).resolve()), "--worker", name],
                          input=payload, stdout=subprocess.PIPE, text=True, env=env)
    if proc.returncode != 0:
        return None, f"worker exited {proc.returncode} (its error is printed above)"
    return json.loads(proc.stdout), None


def find_aisec(arg):
    if arg or os.environ.get("AISEC"):
        return Path(arg or os.environ["AISEC"])
    for cand in (REPO / "target/release/aisec", REPO / "target/debug/aisec"):
        if cand.exists():
            return cand
    return REPO / "target/release/aisec"


def run_aisec(binary, extra, policy, rows, warmup, injection_rules):
    if not binary.exists():
        return None, f"binary {binary} not found"
    probe = subprocess.run([str(binary), "guard", "check", "--help"], capture_output=True, text=True)
    if probe.returncode != 0:
        why = (probe.stderr or probe.stdout).strip().splitlines()
        return None, f"`{binary} guard check` is not available ({why[0] if why else probe.returncode})"
    feed = rows[:warmup] + rows
    with tempfile.TemporaryDirectory(prefix="guard-compare-") as tmp:
        inp = Path(tmp) / "rows.jsonl"
        with open(inp, "w", encoding="utf-8") as fh:
            for r in feed:
                role = "tool" if r.get("channel") == "tool_output" else "user"
                fh.write(json.dumps({"text": r["text"], "role": role}, ensure_ascii=False) + "\n")
        cmd = [str(binary), "guard", "check", "--input", str(inp)]
        if policy:
            cmd += ["--policy", str(policy)]
        cmd += shlex.split(extra)
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t0
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-10:])
        return None, f"`{shlex.join(cmd)}` exited {proc.returncode}:\n{tail}"
    out = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    if len(out) != len(feed):
        return None, f"aisec gave {len(out)} lines for {len(feed)} inputs"
    out.sort(key=lambda o: o["index"])
    if [o["index"] for o in out] != list(range(len(feed))):
        return None, "aisec output indices are not 0..n-1"
    res = []
    for o in out[warmup:]:
        rules = list(o.get("rules", []))
        action = o["action"]
        flagged = action == "block" or (action in ("alert", "redact")
                                        and any(r in injection_rules for r in rules))
        res.append({"flagged": flagged, "action": action, "rules": rules,
                    "micros": float(o["micros"])})
    label = "aisec" + (f" {extra.strip()}" if extra.strip() else " (default flags)")
    return {"tool": label, "command": shlex.join(cmd[:2] + ["check", "--input", "ROWS.jsonl"] + cmd[5:]),
            "process_wall_s": round(wall, 3), "rows": res}, None


def percentile(values, p):
    """Nearest-rank percentile (the smallest value with at least p% of the values at or below)."""
    xs = sorted(values)
    k = max(1, math.ceil(p / 100 * len(xs)))
    return xs[k - 1]


def summarise(rows, verdicts):
    mal = [i for i, r in enumerate(rows) if r["label"] == "malicious"]
    ben = [i for i, r in enumerate(rows) if r["label"] == "benign"]
    tp = sum(verdicts[i]["flagged"] for i in mal)
    fp = sum(verdicts[i]["flagged"] for i in ben)
    ms = [v["micros"] / 1e3 for v in verdicts]
    cats = {}
    for i, r in enumerate(rows):
        c = cats.setdefault(r.get("category", "?"), {"label": r["label"], "rows": 0, "flagged": 0})
        c["rows"] += 1
        c["flagged"] += bool(verdicts[i]["flagged"])
    return {
        "malicious": len(mal), "benign": len(ben), "true_positives": tp, "false_positives": fp,
        "recall": tp / len(mal) if mal else None,
        "precision": tp / (tp + fp) if tp + fp else None,
        "fpr": fp / len(ben) if ben else None,
        "latency_ms": {"p50": percentile(ms, 50), "p99": percentile(ms, 99),
                       "mean": sum(ms) / len(ms), "max": max(ms)},
        "per_category": cats,
    }


def fmt(x, digits=3):
    return "n/a" if x is None else f"{x:.{digits}f}"


def fmt_ms(x):
    return f"{x:.4f}" if x < 0.1 else f"{x:.3f}" if x < 10 else f"{x:.1f}"


def render(results, skipped, rows, rows_path):
    lines = [f"Rows: {rows_path}, {len(rows)} rows: "
             f"{sum(r['label'] == 'malicious' for r in rows)} malicious, "
             f"{sum(r['label'] == 'benign' for r in rows)} benign", ""]
    lines += ["| tool | flagged attacks | recall | precision | FPR on benign | p50 ms | p99 ms | mean ms |",
              "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for res in results:
        s = res["summary"]
        lat = s["latency_ms"]
        lines.append(f"| {res['tool']} | {s['true_positives']}/{s['malicious']} | {fmt(s['recall'])} | "
                     f"{fmt(s['precision'])} | {fmt(s['fpr'])} ({s['false_positives']}/{s['benign']}) | "
                     f"{fmt_ms(lat['p50'])} | {fmt_ms(lat['p99'])} | {fmt_ms(lat['mean'])} |")
    for name, why in skipped:
        lines.append(f"| {name} | skipped: {why.splitlines()[0]} | | | | | | |")
    if results:
        short = [f"{res['short']}" for res in results]
        cats = results[0]["summary"]["per_category"]
        order = sorted(cats, key=lambda c: (cats[c]["label"] != "malicious", c))
        lines += ["", "Per category: flagged / rows (malicious categories: recall; benign: false alarms)", "",
                  "| category | label | " + " | ".join(short) + " |",
                  "| --- | --- | " + " | ".join("---" for _ in short) + " |"]
        for c in order:
            cells = []
            for res in results:
                pc = res["summary"]["per_category"][c]
                cells.append(f"{pc['flagged']}/{pc['rows']}")
            lines.append(f"| {c} | {cats[c]['label']} | " + " | ".join(cells) + " |")
    notes = []
    for res in results:
        if res.get("unavailable"):
            notes.append(f"{res['short']}: scanners that did not run:")
            for k, v in res["unavailable"].items():
                notes.append(f"  - {k}: {v}")
        if res.get("scanners"):
            counts = []
            for sc in res["scanners"]:
                m = sum(sc in v.get("by", []) and r["label"] == "malicious" for v, r in zip(res["rows"], rows))
                b = sum(sc in v.get("by", []) and r["label"] == "benign" for v, r in zip(res["rows"], rows))
                counts.append(f"{sc} {m} malicious + {b} benign")
            notes.append(f"{res['short']}: rows flagged per scanner: " + "; ".join(counts))
        if "threshold_rule" in res:
            notes.append(f"{res['short']}: {res['threshold_rule']}")
    for name, why in skipped:
        notes.append(f"{name} skipped: {why}")
    if notes:
        lines += ["", "Notes:"] + notes
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--worker", choices=["rebuff", "llmguard"], help=argparse.SUPPRESS)
    ap.add_argument("--rows", help="labelled JSONL (bastioncorpus injections.jsonl)")
    ap.add_argument("--tools", default="llmguard,rebuff,aisec")
    ap.add_argument("--aisec", help="aisec binary (default $AISEC, else target/release/aisec, else target/debug/aisec)")
    ap.add_argument("--aisec-args", action="append",
                    help="extra flags for `aisec guard check`; repeat for several labelled runs")
    ap.add_argument("--aisec-injection-rules", default=DEFAULT_INJECTION_RULES,
                    help="rules that make an alert/redact count as flagged (default %(default)s)")
    ap.add_argument("--policy", help="passed to aisec as --policy FILE")
    ap.add_argument("--llmguard-venv", default=os.environ.get("LLMGUARD_VENV", "/work/venv-llmguard"))
    ap.add_argument("--rebuff-venv", default=os.environ.get("REBUFF_VENV", "/work/venv-rebuff"))
    ap.add_argument("--warmup", type=int, default=3,
                    help="untimed calls on the first N rows before the timed pass (default %(default)s)")
    ap.add_argument("--json", help="write all figures and per-row verdicts here")
    ap.add_argument("--table", help="also write the printed tables here")
    args = ap.parse_args()

    if args.worker:
        run_worker(args.worker)
        return
    if not args.rows:
        ap.error("--rows is required")
    rows = load_rows(args.rows)
    load_before = os.getloadavg()
    import hashlib
    rows_sha = hashlib.sha256(Path(args.rows).read_bytes()).hexdigest()
    warmup = max(0, min(args.warmup, len(rows)))
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    results, skipped = [], []
    for tool in tools:
        if tool in ("rebuff", "llmguard"):
            venv = args.rebuff_venv if tool == "rebuff" else args.llmguard_venv
            print(f"running {tool} in {venv} ...", file=sys.stderr)
            res, why = call_worker(tool, venv, rows, warmup)
            runs = [(tool, res, why)]
        elif tool == "aisec":
            binary = find_aisec(args.aisec)
            runs = []
            for extra in args.aisec_args or [""]:
                print(f"running {binary} guard check {extra}".rstrip() + " ...", file=sys.stderr)
                res, why = run_aisec(binary, extra, args.policy, rows, warmup,
                                     set(args.aisec_injection_rules.split(",")))
                runs.append(("aisec" + (f" {extra}" if extra.strip() else ""), res, why))
        else:
            ap.error(f"unknown tool {tool!r} (rebuff, llmguard, aisec)")
        for name, res, why in runs:
            if res is None:
                print(f"{name}: skipped: {why}", file=sys.stderr)
                skipped.append((name, why))
                continue
            res["short"] = {"rebuff": "Rebuff", "llmguard": "LLM Guard"}.get(name, res["tool"])
            res["summary"] = summarise(rows, res["rows"])
            results.append(res)

    table = render(results, skipped, rows, f"{args.rows} (sha256 {rows_sha[:16]}...)")
    if args.json:
        doc = {
            "rows_file": str(args.rows), "rows_sha256": rows_sha, "rows": len(rows), "warmup": warmup,
            "latency_note": "ms per prompt, in-process around the detection call, after warm-up; "
                            "p50/p99 nearest-rank",
            "python": sys.version.split()[0], "cpus": os.cpu_count(),
            "loadavg_1_5_15_before": [round(x, 2) for x in load_before],
            "loadavg_1_5_15_after": [round(x, 2) for x in os.getloadavg()],
            "tools": [{k: v for k, v in r.items() if k != "rows"} for r in results],
            "skipped": [{"tool": n, "why": w} for n, w in skipped],
            "verdicts": {r["short"]: [dict(v, id=rows[i].get("id")) for i, v in enumerate(r["rows"])]
                         for r in results},
        }
        Path(args.json).write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    if args.table:
        Path(args.table).write_text(table + "\n", encoding="utf-8")
    print(table)


if __name__ == "__main__":
    main()
