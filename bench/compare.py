#!/usr/bin/env python3
"""Compare aisec with anchor scanners (picklescan, modelscan, fickling, ModelAudit).

(1) Detection over the labelled corpus crates/aisec-modelscan/tests/fixtures (MANIFEST.tsv):
    every tool scans every file on its own; each (tool, file) gets one verdict:
      flagged  the tool's own "this is dangerous" signal (criteria in VERDICT_RULES below)
      clean    the tool finished and did not flag
      error    not flagged, and the tool crashed, timed out, reported a scan error, or did
               not scan the file (unsupported format / extension)
    malicious+flagged = caught, malicious+clean = missed, benign+flagged = false alarm.
(2) Performance on generated benign inputs (bench/gen_perf_inputs.py): wall time, CPU time
    and peak RSS from /usr/bin/time -v, median of --runs runs, page cache warm.

This script never loads or unpickles any input; it only runs the scanners on them.
Run it through bench/run_anchors.sh, which installs the anchors first.
"""
import argparse
import concurrent.futures
import datetime
import json
import os
import platform
import re
import resource
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
TESTS = os.path.join(REPO, "crates", "aisec-modelscan", "tests")
# The labelled corpora: the pickle-family fixtures and four red-team rounds of variations, then one
# corpus per other format analyser (tests/formats/<format>/MANIFEST.tsv).
CORPORA = ("fixtures", "redteam", "redteam2", "redteam3", "redteam4") + tuple(
    sorted(
        f"formats/{d}"
        for d in (os.listdir(os.path.join(TESTS, "formats")) if os.path.isdir(os.path.join(TESTS, "formats")) else [])
        if os.path.isfile(os.path.join(TESTS, "formats", d, "MANIFEST.tsv"))
    )
)

ANCHORS = ["picklescan", "modelscan", "fickling", "modelaudit"]
TOOLS = ["aisec"] + ANCHORS

VERDICT_RULES = {
    "aisec": "a finding of severity high or critical (= the default --fail-on high)",
    "picklescan": "'Dangerous globals' > 0 in its summary (exit code 1); "
    "error = exit 2 / 'Scanned files: 0' without a dangerous global",
    "modelscan": "an issue of severity HIGH or CRITICAL in its JSON report; "
    "error = exit 2/3/4 or a non-empty 'errors' list or nothing scanned, without such an issue",
    "fickling": "`--check-safety` exits 1 (overall severity above LIKELY_SAFE); "
    "error = exit 2 (parse failure, e.g. any non-pickle container) or a traceback",
    "modelaudit": "an issue of severity 'critical' in its JSON report; "
    "error = exit 2 (operational error / inconclusive / nothing scanned) without a critical issue",
}
ALT_RULES = {
    "picklescan": "dangerous OR suspicious globals > 0",
    "modelscan": "an issue of any severity (LOW..CRITICAL)",
    "fickling": "severity >= LIKELY_OVERTLY_MALICIOUS (a stricter bar than the exit code)",
    "modelaudit": "an issue of severity critical OR warning",
}

RSS_NOTE = (
    "Peak RSS caveat: aisec reads inputs through `mmap`, so its `Maximum resident set size` also counts "
    "the input's page-cache pages it touched (file-backed and shared, not memory it allocated); with a warm "
    "cache the kernel may map them in large folios, so touching each zip header or `BINBYTES8` header can "
    "add up to ~2 MiB. Sampled under gdb on (a) and (b) with `--threads 1`: peak RssFile 398 MiB / 198 MiB, "
    "peak RssAnon 0.8 MiB / 0.3 MiB; an earlier run, with the same binary and inputs, measured 17 MiB / 10 MiB "
    "in total. The Python anchors `read()` into their own heap, so their figure is anonymous memory."
)

# The heading of the section of docs/benchmarks.md that bench/sign_compare.py's results go in;
# write_markdown keeps it (and everything after it) when it rewrites the file.
SIGNING_SECTION = "## Signing and verifying"

FICKLING_LEVELS = [
    "LIKELY_SAFE",
    "POSSIBLY_UNSAFE",
    "SUSPICIOUS",
    "LIKELY_UNSAFE",
    "LIKELY_OVERTLY_MALICIOUS",
    "OVERTLY_MALICIOUS",
]

QUIET_ENV = {
    # ModelAudit ships PostHog telemetry; turn it (and any hub access) off.
    "PROMPTFOO_DISABLE_TELEMETRY": "1",
    "NO_ANALYTICS": "1",
    "HF_HUB_OFFLINE": "1",
    "NO_COLOR": "1",
    "TERM": "dumb",
    "PYTHONDONTWRITEBYTECODE": "1",
}


# ----------------------------------------------------------------------------- running
class Run:
    def __init__(self, rc, out, err, wall, rss_kb, cpu, timed_out):
        self.rc, self.out, self.err = rc, out, err
        self.wall, self.rss_kb, self.cpu, self.timed_out = wall, rss_kb, cpu, timed_out


def timed(cmd, cwd, timeout, stdout_path=None):
    """Run cmd under /usr/bin/time -v in its own process group; kill the group on timeout."""
    fd, tfile = tempfile.mkstemp(prefix="time.", dir=cwd)
    os.close(fd)
    env = dict(os.environ)
    env.update(QUIET_ENV)
    full = ["/usr/bin/time", "-v", "-o", tfile] + cmd
    out_f = open(stdout_path, "wb") if stdout_path else subprocess.PIPE
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    p = subprocess.Popen(
        full, cwd=cwd, env=env, stdout=out_f, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, start_new_session=True
    )
    timed_out = False
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
    wall_outer = time.monotonic() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU seconds (user+sys) of everything this run waited for, with microsecond resolution.
    # Only meaningful when runs are sequential (the perf part); the detection part ignores it.
    cpu_delta = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    if stdout_path:
        out_f.close()
        with open(stdout_path, "rb") as f:
            out = f.read(4 << 20)
    tv = open(tfile).read()
    os.unlink(tfile)
    # GNU time prints wall time in 10 ms steps; the monotonic clock around it is finer and
    # adds the same ~1 ms of fork/exec to every tool.
    wall = wall_outer
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", tv)
    rss = int(m.group(1)) if m else None
    cpu = cpu_delta
    m = re.search(r"Exit status: (\d+)", tv)
    rc = int(m.group(1)) if m else p.returncode
    if "Command terminated by signal" in tv:
        rc = -int(re.search(r"Command terminated by signal (\d+)", tv).group(1))
    if timed_out:
        rc = None
    return Run(rc, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), wall, rss, cpu, timed_out)


def short(text, n=300):
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 3] + "..."


# ----------------------------------------------------------------------------- tools
class Tool:
    def __init__(self, name, args):
        self.name = name
        self.args = args
        self.bin = os.path.join(args.venvs, name, "bin", name) if name != "aisec" else args.aisec

    def version(self):
        if self.name == "aisec":
            return subprocess.run([self.bin, "--version"], capture_output=True, text=True).stdout.strip()
        py = os.path.join(self.args.venvs, self.name, "bin", "python")
        code = f"import importlib.metadata as m; print(m.version({self.name!r}))"
        return f"{self.name} " + subprocess.run([py, "-c", code], capture_output=True, text=True).stdout.strip()

    # -- command + verdict, per tool ------------------------------------------------
    def command(self, path, work):
        n = self.name
        if n == "aisec":
            return [self.bin, "scan", "-q", "--color", "never", "--format", "json", "-o", f"{work}/out.json", path]
        if n == "picklescan":
            return [self.bin, "-p", path]
        if n == "modelscan":
            return [self.bin, "scan", "-p", path, "-r", "json", "-o", f"{work}/out.json", "--show-skipped"]
        if n == "fickling":
            return [self.bin, "--check-safety", "--json-output", f"{work}/out.json", path]
        if n == "modelaudit":
            return [self.bin, "scan", "--format", "json", "--no-cache", "-o", f"{work}/out.json", path]
        raise ValueError(n)

    def scan(self, path, timeout):
        """Returns (run, verdict, alt_flagged, detail)."""
        with tempfile.TemporaryDirectory(prefix=f"bench-{self.name}-") as work:
            run = timed(self.command(path, work), work, timeout)
            report = None
            rp = os.path.join(work, "out.json")
            if os.path.exists(rp):
                report = open(rp, encoding="utf-8", errors="replace").read()
            verdict, alt, detail = self.judge(run, report)
        return run, verdict, alt, detail

    def judge(self, run, report):
        if run.timed_out:
            return "error", False, "timeout"
        return getattr(self, "_judge_" + self.name)(run, report)

    def _judge_aisec(self, run, report):
        try:
            d = json.loads(report)
        except Exception:
            return "error", False, f"rc={run.rc}, no JSON report; stderr: {short(run.err)}"
        hi = [f for f in d.get("findings", []) if f.get("severity") in ("high", "critical")]
        sev = {}
        for f in d.get("findings", []):
            sev[f["severity"]] = sev.get(f["severity"], 0) + 1
        odd = [
            f"{os.path.basename(t.get('path', ''))}{'!' + t['member'] if t.get('member') else ''}"
            f"={t.get('status')}({t.get('format')}{': ' + t['reason'] if t.get('reason') else ''})"
            for t in d.get("targets", [])
            if t.get("status") != "analysed"
        ]
        # `skipped` is a file that is not a model format (a README): only `not_analysed` is an error.
        top_bad = [t for t in d.get("targets", []) if not t.get("member") and t.get("status") == "not_analysed"]
        desc = f"rc={run.rc} findings={sev or 0}"
        if hi:
            desc += " top=" + short(hi[0].get("rule", "") + " " + hi[0].get("title", ""), 120)
        elif d.get("findings"):
            f = d["findings"][0]
            desc += " first=" + short(f"{f.get('severity')} {f.get('rule')} {f.get('title')}", 160)
        if odd:
            desc += " not-analysed: " + short(", ".join(odd), 200)
        if run.err.strip():
            desc += " stderr: " + short(run.err, 200)
        if hi:
            return "flagged", True, desc
        if run.rc not in (0, 1) or top_bad:
            return "error", False, desc
        return "clean", bool(d.get("findings")), desc

    def _judge_picklescan(self, run, report):
        def num(label):
            m = re.search(label + r": (\d+)", run.out)
            return int(m.group(1)) if m else None

        scanned, dang, susp = num("Scanned files"), num("Dangerous globals"), num("Suspicious globals")
        infected = num("Infected files")
        lines = [l for l in run.out.splitlines() if ("FOUND" in l or "ERROR" in l or "rror" in l) and l.strip()]
        desc = f"rc={run.rc} scanned={scanned} dangerous={dang} suspicious={susp}"
        if lines:
            desc += " | " + short(" ; ".join(lines[:3]), 220)
        flagged = bool(dang) or bool(infected)
        alt = flagged or bool(susp)
        if flagged:
            return "flagged", alt, desc
        if run.rc not in (0, 1) or scanned in (None, 0):
            return "error", alt, desc + (" stderr: " + short(run.err, 200) if run.err.strip() else "")
        return "clean", alt, desc

    def _judge_modelscan(self, run, report):
        try:
            d = json.loads(report)
        except Exception:
            return "error", False, f"rc={run.rc}, no JSON report: {short(run.out + run.err, 250)}"
        issues = d.get("issues", [])
        hi = [i for i in issues if i.get("severity") in ("HIGH", "CRITICAL")]
        scanned = d.get("summary", {}).get("scanned", {}).get("total_scanned", 0)
        errs = d.get("errors", [])
        skipped = d.get("summary", {}).get("skipped", {}).get("total_skipped", 0)
        desc = f"rc={run.rc} scanned={scanned} skipped={skipped} issues={[i.get('severity') for i in issues]}"
        if issues:
            desc += " | " + short(issues[0].get("description", ""), 120)
        if errs:
            desc += " | errors: " + short("; ".join(f"{e.get('category')}: {e.get('description')}" for e in errs), 200)
        if hi:
            return "flagged", True, desc
        if run.rc not in (0, 1) or errs or scanned == 0:
            return "error", bool(issues), desc
        return "clean", bool(issues), desc

    def _judge_fickling(self, run, report):
        levels = []
        if report:
            dec, i = json.JSONDecoder(), 0
            while i < len(report):
                while i < len(report) and report[i].isspace():
                    i += 1
                if i >= len(report):
                    break
                try:
                    obj, i = dec.raw_decode(report, i)
                except ValueError:
                    break
                if obj.get("severity") in FICKLING_LEVELS:
                    levels.append(FICKLING_LEVELS.index(obj["severity"]))
        worst = max(levels) if levels else None
        wname = FICKLING_LEVELS[worst] if worst is not None else None
        desc = f"rc={run.rc} severity={wname}"
        if "Traceback" in run.err:
            last = [l for l in run.err.strip().splitlines() if l.strip()][-1]
            return "error", False, desc + " crash: " + short(last, 200)
        if run.rc == 1 and worst is not None and worst > 0:
            return "flagged", worst >= 4, desc
        if run.rc == 0:
            return "clean", False, desc
        return "error", False, desc + " | " + short(run.err, 200)

    def _judge_modelaudit(self, run, report):
        try:
            d = json.loads(report)
        except Exception:
            return "error", False, f"rc={run.rc}, no JSON report: {short(run.err[-600:], 250)}"
        issues = d.get("issues", [])
        crit = [i for i in issues if i.get("severity") == "critical"]
        warn = [i for i in issues if i.get("severity") == "warning"]
        desc = (
            f"rc={run.rc} files_scanned={d.get('files_scanned')} critical={len(crit)} "
            f"warning={len(warn)} has_errors={d.get('has_errors')}"
        )
        first = (crit or warn or [None])[0]
        if first:
            desc += " | " + short(first.get("message", ""), 160)
        if crit:
            return "flagged", True, desc
        if run.rc not in (0, 1) or not d.get("files_scanned"):
            return "error", bool(warn), desc
        return "clean", bool(warn), desc


# ----------------------------------------------------------------------------- detection
def read_manifest(only=None):
    rows = []
    for corpus in CORPORA:
        if only and not any(corpus == o or corpus.startswith(o.rstrip("/") + "/") for o in only):
            continue
        with open(os.path.join(TESTS, corpus, "MANIFEST.tsv"), encoding="utf-8") as f:
            header = f.readline().rstrip("\n").split("\t")
            assert header[:2] == ["path", "expected"], header
            for line in f:
                if not line.strip():
                    continue
                row = dict(zip(header, line.rstrip("\n").split("\t")))
                row["path"] = f"{corpus}/{row['path']}"
                row["corpus"] = corpus
                rows.append(row)
    return rows


def detection(args, tools):
    rows = read_manifest(args.corpora.split(",") if args.corpora else None)
    jobs = [(t, r) for t in tools for r in rows]
    results = {}
    t0 = time.monotonic()

    def one(job):
        tool, row = job
        run, verdict, alt, detail = tool.scan(os.path.join(TESTS, row["path"]), args.timeout)
        return tool.name, row["path"], verdict, alt, detail, run.wall

    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as ex:
        for n, (tname, path, verdict, alt, detail, wall) in enumerate(ex.map(one, jobs), 1):
            results[(tname, path)] = (verdict, alt, detail)
            if n % 100 == 0:
                print(f"  detection: {n}/{len(jobs)} scans ({time.monotonic() - t0:.0f} s)", file=sys.stderr, flush=True)
    return rows, results


def detection_tables(rows, results, tools):
    n_mal = sum(r["expected"] == "malicious" for r in rows)
    n_ben = sum(r["expected"] == "benign" for r in rows)
    head = (
        f"{'tool':<12} {'caught':>7} {'missed':>7} {'err(m)':>7} | {'false alarm':>11} {'clean':>6} {'err(b)':>7}"
    )
    lines = [f"Detection: {len(rows)} labelled files ({n_mal} malicious, {n_ben} benign)", head, "-" * len(head)]
    counts = {}
    for t in tools:
        c = dict.fromkeys(["caught", "missed", "err_m", "fa", "clean", "err_b"], 0)
        for r in rows:
            v = results[(t.name, r["path"])][0]
            if r["expected"] == "malicious":
                c[{"flagged": "caught", "clean": "missed", "error": "err_m"}[v]] += 1
            else:
                c[{"flagged": "fa", "clean": "clean", "error": "err_b"}[v]] += 1
        counts[t.name] = c
        lines.append(
            f"{t.name:<12} {c['caught']:>7} {c['missed']:>7} {c['err_m']:>7} | {c['fa']:>11} {c['clean']:>6} {c['err_b']:>7}"
        )
    lines.append("")
    lines.append("By corpus (caught/malicious, false alarms/benign):")
    corpora = sorted({r["corpus"] for r in rows}, key=lambda c: (c.startswith("formats/"), c))
    lines.append(f"{'corpus':<22} " + " ".join(f"{t.name[:10]:>17}" for t in tools))
    for corpus in corpora:
        rs = [r for r in rows if r["corpus"] == corpus]
        m = [r for r in rs if r["expected"] == "malicious"]
        b = [r for r in rs if r["expected"] == "benign"]
        cells = []
        for t in tools:
            caught = sum(results[(t.name, r["path"])][0] == "flagged" for r in m)
            fa = sum(results[(t.name, r["path"])][0] == "flagged" for r in b)
            cells.append(f"{caught:>4}/{len(m):<4} {fa:>3}/{len(b):<4}")
        lines.append(f"{corpus:<22} " + " ".join(f"{c:>17}" for c in cells))
    lines.append("")
    lines.append("Alternative (looser/stricter) criteria for the anchors, same runs:")
    lines.append(f"{'tool':<12} {'caught':>7} {'not':>7} | {'false alarm':>11} {'not':>6}   criterion")
    for t in tools:
        if t.name not in ALT_RULES:
            continue
        cm = sum(results[(t.name, r["path"])][1] for r in rows if r["expected"] == "malicious")
        cb = sum(results[(t.name, r["path"])][1] for r in rows if r["expected"] == "benign")
        lines.append(f"{t.name:<12} {cm:>7} {n_mal - cm:>7} | {cb:>11} {n_ben - cb:>6}   {ALT_RULES[t.name]}")
    return "\n".join(lines), counts


def detection_details(rows, results, tools):
    """aisec misses / false alarms / errors, and files some anchor flags but aisec does not."""
    out = []
    for r in rows:
        p, exp = r["path"], r["expected"]
        av, _, adetail = results[("aisec", p)]
        anchors_flag = [t.name for t in tools if t.name != "aisec" and results[(t.name, p)][0] == "flagged"]
        problem = None
        if exp == "malicious" and av != "flagged":
            problem = "aisec MISS" if av == "clean" else "aisec ERROR"
        elif exp == "benign" and av == "flagged":
            problem = "aisec FALSE ALARM"
        elif exp == "benign" and av == "error":
            problem = "aisec ERROR"
        if problem:
            out.append(f"- {problem}: `{p}` ({r.get('class')}: {r.get('description')})")
            out.append(f"  - aisec: {adetail}")
            if anchors_flag:
                out.append(f"  - flagged by: {', '.join(anchors_flag)}")
    if not out:
        out.append("- none: aisec flags every malicious file, no benign file, and errors on none.")
    return "\n".join(out)


def anchor_only(rows, results, tools):
    """Malicious files some anchor flags and aisec does not."""
    out = []
    for r in rows:
        if r["expected"] != "malicious" or results[("aisec", r["path"])][0] == "flagged":
            continue
        by = [t.name for t in tools if t.name != "aisec" and results[(t.name, r["path"])][0] == "flagged"]
        if by:
            out.append(f"- `{r['path']}`: flagged by {', '.join(by)}; aisec: {results[('aisec', r['path'])][2]}")
    return "\n".join(out) or "- none"


def disagreement_matrix(rows, results, tools):
    sym = {"flagged": "F", "clean": ".", "error": "E"}
    lines = [
        "F = flagged, . = clean, E = error/unsupported; rows only where some tool is wrong or errs",
        f"{'expected':<9} " + " ".join(f"{t.name[:10]:>10}" for t in tools) + "  path",
    ]
    for r in rows:
        vs = [results[(t.name, r["path"])][0] for t in tools]
        want = "flagged" if r["expected"] == "malicious" else "clean"
        if all(v == want for v in vs):
            continue
        lines.append(f"{r['expected']:<9} " + " ".join(f"{sym[v]:>10}" for v in vs) + f"  {r['path']}")
    return "\n".join(lines)


def write_tsv(path, rows, results, tools):
    with open(path, "w", encoding="utf-8") as f:
        f.write("path\texpected\tclass\ttool\tverdict\talt_flagged\tdetail\n")
        for r in rows:
            for t in tools:
                v, alt, d = results[(t.name, r["path"])]
                f.write(f"{r['path']}\t{r['expected']}\t{r.get('class')}\t{t.name}\t{v}\t{int(bool(alt))}\t{d}\n")


# ----------------------------------------------------------------------------- performance
def perf_inputs(data):
    """(key, label, path, expected). The 'tail' inputs are malicious copies of (a) and (b) with a
    posix.system call placed after all the payload: they show whether a fast tool reads to the end."""
    return [
        ("a", "PyTorch zip, 200 tensors, 2.0 GB", os.path.join(data, "torch_2g.pt"), "benign"),
        ("b", "single pickle, 100 x 10 MiB bytes, 1.0 GB", os.path.join(data, "bytes_1g.pkl"), "benign"),
        ("c", "directory of 2,000 small pickles (5 MB)", os.path.join(data, "small_2000"), "benign"),
        ("d", "safetensors, 200 tensors, 2.0 GB", os.path.join(data, "model_2g.safetensors"), "benign"),
        ("e", "GGUF v3, llama-style metadata, 100 tensors, 1.0 GB", os.path.join(data, "model_1g.gguf"), "benign"),
        ("f", "Hugging Face-style repository, 2,000 files", os.path.join(data, "hf_repo_2000"), "benign"),
        ("a-tail", "(a) with data.pkl stored last and a posix.system call in it", os.path.join(data, "tail", "torch_2g_tail.pt"), "malicious"),
        ("b-tail", "(b) with a posix.system call after the 1 GB of payload", os.path.join(data, "tail", "bytes_1g_tail.pkl"), "malicious"),
    ]


FICKLING_DIR_DRIVER = r"""
import os, sys
from fickling import fickle
from fickling.analysis import Severity, check_safety
flagged = errors = 0
d = sys.argv[1]
for name in sorted(os.listdir(d)):
    # same steps as `fickling --check-safety FILE`, in one process instead of 2,000
    with open(os.path.join(d, name), "rb") as f:
        try:
            stacked = fickle.StackedPickle.load(f, fail_on_decode_error=False)
        except fickle.PickleDecodeError:
            errors += 1
            continue
    if any(check_safety(p).severity > Severity.LIKELY_SAFE for p in stacked):
        flagged += 1
print(f"fickling-dir: files={len(os.listdir(d))} flagged={flagged} errors={errors}")
sys.exit(1 if flagged else (2 if errors else 0))
"""


def perf_command(tool, path, work, single_thread=False):
    if single_thread:
        cmd = tool.command(path, work)
        return cmd[:2] + ["--threads", "1"] + cmd[2:]
    if tool.name == "fickling" and os.path.isdir(path):
        py = os.path.join(tool.args.venvs, "fickling", "bin", "python")
        return [py, "-c", FICKLING_DIR_DRIVER, path]
    return tool.command(path, work)


def perf_verdict(tool, run, work, path):
    if tool.name == "fickling" and os.path.isdir(path):
        if run.timed_out:
            return "error", "timeout"
        if "Traceback" in run.err:
            return "error", short(run.err.strip().splitlines()[-1], 200)
        m = re.search(r"flagged=(\d+) errors=(\d+)", run.out)
        return ("flagged" if m and int(m.group(1)) else "clean" if run.rc == 0 else "error"), short(run.out, 200)
    rp = os.path.join(work, "out.json")
    report = open(rp, encoding="utf-8", errors="replace").read() if os.path.exists(rp) else None
    v, _, d = tool.judge(run, report)
    return v, d


def fmt_mem(kb):
    return "-" if kb is None else (f"{kb / 1024:.0f} MiB" if kb < 10 * 1024 * 1024 else f"{kb / 1048576:.1f} GiB")


def warm(path):
    files = [path] if os.path.isfile(path) else sorted(os.path.join(r, n) for r, _, ns in os.walk(path) for n in ns)
    for p in files:
        with open(p, "rb") as f:
            while f.read(16 << 20):
                pass


def loadavg():
    try:
        return " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        return "?"


def performance(args, tools):
    res = {"load_before": loadavg()}
    for key, label, path, expected in perf_inputs(args.data):
        if args.inputs and key not in args.inputs.split(","):
            continue
        print(f"  perf ({key}) {label}: warming page cache", file=sys.stderr, flush=True)
        warm(path)
        entries = [(t.name, t, False) for t in tools]
        if expected == "benign":
            entries += [("aisec -t1", t, True) for t in tools if t.name == "aisec"]
            entries += [("cat (floor)", None, False)]
        n_runs = args.runs if expected == "benign" else 1
        for name, tool, single in entries:
            runs, verdicts = [], []
            for i in range(n_runs):
                with tempfile.TemporaryDirectory(prefix="bench-perf-") as work:
                    if tool is None:
                        q = shlex.quote(path)
                        cmd = ["sh", "-c", f"find {q} -type f -exec cat {{}} + > /dev/null" if os.path.isdir(path) else f"cat {q} > /dev/null"]
                    else:
                        cmd = perf_command(tool, path, work, single)
                    run = timed(cmd, work, args.timeout)
                    if tool is not None:
                        verdicts.append(perf_verdict(tool, run, work, path))
                runs.append(run)
                print(
                    f"    {name:<12} run {i + 1}: {run.wall:8.3f} s  {fmt_mem(run.rss_kb):>9}"
                    + (f"  {verdicts[-1][0]}" if verdicts else ""),
                    file=sys.stderr,
                    flush=True,
                )
                if run.timed_out or run.wall > args.long_run:
                    break  # a run that takes minutes is measured once (reported as n=1)
            ok = [r for r in runs if not r.timed_out]
            res[(key, name)] = {
                "n": len(runs),
                "timed_out": any(r.timed_out for r in runs),
                "wall": statistics.median(r.wall for r in runs),
                "cpu": statistics.median(r.cpu for r in ok) if ok and all(r.cpu is not None for r in ok) else None,
                "rss": statistics.median(r.rss_kb for r in runs) if all(r.rss_kb for r in runs) else None,
                "verdict": verdicts[-1] if verdicts else ("-", ""),
            }
    res["load_after"] = loadavg()
    return res


def perf_table(res, tools, args):
    names = [t.name for t in tools if t.name == "aisec"] + ["aisec -t1"]
    names += [t.name for t in tools if t.name != "aisec"] + ["cat (floor)"]
    lines = []
    tail_header = False
    for key, label, path, expected in perf_inputs(args.data):
        if args.inputs and key not in args.inputs.split(","):
            continue
        if expected == "malicious" and not tail_header:
            tail_header = True
            lines.append("Tail check (malicious, 1 run each; the tool must flag the file):")
        lines.append(f"({key}) {label}: {path}")
        head = f"  {'tool':<12} {'wall (median)':>14} {'cpu':>9} {'peak RSS':>10} {'runs':>4}  verdict"
        lines += [head, "  " + "-" * (len(head) + 18)]
        valid_anchor = [
            (res[(key, n)]["wall"], n)
            for n in ANCHORS
            if (key, n) in res and res[(key, n)]["verdict"][0] != "error" and not res[(key, n)]["timed_out"]
        ]
        for n in names:
            if (key, n) not in res:
                continue
            r = res[(key, n)]
            wall = (">" if r["timed_out"] else "") + f"{r['wall']:.3f} s"
            cpu = "-" if r["cpu"] is None else f"{r['cpu']:.3f} s"
            verdict = r["verdict"][0] if n != "cat (floor)" else ""
            if expected == "malicious":
                verdict = {"flagged": "CAUGHT", "clean": "MISSED", "error": "error"}.get(verdict, verdict)
            elif verdict == "flagged":
                verdict = "FALSE ALARM: " + short(r["verdict"][1], 90)
            if verdict == "error":
                verdict += ": " + short(r["verdict"][1], 90)
            lines.append(f"  {n:<12} {wall:>14} {cpu:>9} {fmt_mem(r['rss']):>10} {r['n']:>4}  {verdict}")
        note = ""
        if not valid_anchor:
            # No anchor finished without an error verdict: compare with the fastest that finished at
            # all, and say so.
            valid_anchor = [
                (res[(key, n)]["wall"], n)
                for n in ANCHORS
                if (key, n) in res
                and not res[(key, n)]["timed_out"]
                and "scanned=0" not in res[(key, n)]["verdict"][1]
            ]
            note = " (its verdict was error)"
        if expected == "benign" and valid_anchor and (key, "aisec") in res:
            best, bn = min(valid_anchor)
            a = res[(key, "aisec")]["wall"]
            lines.append(
                f"  aisec / fastest anchor{' without error' if not note else ''} ({bn}{note}, {best:.3f} s): {a / best:.3f}"
                f" (aisec {best / a if a else float('inf'):.1f}x faster)"
            )
            bc, ac = res[(key, bn)]["cpu"], res[(key, "aisec")]["cpu"]
            if bc and ac:
                lines.append(f"  same ratio in CPU time: {ac / bc:.3f} ({bc / ac:.1f}x less CPU)")
        if (key, "cat (floor)") in res and (key, "aisec") in res:
            lines.append(f"  aisec / cat floor: {res[(key, 'aisec')]['wall'] / max(res[(key, 'cat (floor)')]['wall'], 1e-9):.2f}")
        lines.append("")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- main
def machine_info():
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        kb = int(re.search(r"MemTotal:\s+(\d+)", open("/proc/meminfo").read()).group(1))
        mem = f"{kb / 1048576:.0f} GiB"
    except Exception:
        pass
    return f"{os.cpu_count()} CPUs ({cpu}), {mem} RAM, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def git_state(binary):
    """Where the aisec binary stands relative to the checkout (the binary is not rebuilt here)."""

    def g(*a):
        return subprocess.run(["git", "-C", REPO, *a], capture_output=True, text=True).stdout.strip()

    built = os.path.getmtime(binary)
    head = g("log", "-1", "--format=%h %cI")
    newer = g("rev-list", "--count", f"--since={int(built)}", "HEAD")
    dirty = g("status", "--porcelain", "--untracked-files=no", "--", "crates", "Cargo.toml", "Cargo.lock")
    text = f"checkout HEAD now {head}" + (", uncommitted changes under crates/" if dirty else "")
    if newer and newer != "0":
        text += f"; {newer} commit(s) on HEAD are newer than the binary"
    return text


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--aisec", default=os.environ.get("AISEC", "/work/target-bench/release/aisec"))
    ap.add_argument("--venvs", default=os.environ.get("ANCHOR_VENVS", "/work/bench-venvs"))
    ap.add_argument("--data", default=os.environ.get("BENCH_DATA", "/work/bench-data"))
    ap.add_argument("--results", default=os.environ.get("BENCH_RESULTS", "/work/bench-results"))
    ap.add_argument("--only", choices=["detection", "perf"], help="run one part only")
    ap.add_argument("--tools", default=",".join(TOOLS), help="comma-separated subset of " + ",".join(TOOLS))
    ap.add_argument("--corpora", help="comma-separated corpora for the detection part (e.g. formats, redteam2); default all")
    ap.add_argument("--inputs", help="comma-separated perf inputs (a,b,c,d,e,f,a-tail,b-tail); default all")
    ap.add_argument("--runs", type=int, default=3, help="perf runs per tool and input (median reported)")
    ap.add_argument("--long-run", type=float, default=120.0, help="a perf run longer than this many s is not repeated")
    ap.add_argument("--timeout", type=int, default=600, help="per-run timeout in seconds")
    ap.add_argument("--jobs", type=int, default=2, help="parallel scans in the detection part (never in perf)")
    ap.add_argument("--markdown", help="also write a Markdown report to this file (e.g. docs/benchmarks.md)")
    ap.add_argument("--command", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if not os.access(args.aisec, os.X_OK):
        sys.exit(f"aisec binary not found at {args.aisec}: build it with "
                 "CARGO_TARGET_DIR=/work/target-bench cargo build --release -p aisec, or set AISEC=")
    tools = [Tool(n, args) for n in args.tools.split(",")]
    for t in tools:
        if not os.access(t.bin, os.X_OK):
            sys.exit(f"{t.bin} missing: run bench/install_anchors.sh")
    os.makedirs(args.results, exist_ok=True)
    started = datetime.datetime.now(datetime.timezone.utc)
    versions = {t.name: t.version() for t in tools}

    sections = []
    text_out = []
    if args.only in (None, "detection"):
        print("running detection ...", file=sys.stderr, flush=True)
        rows, results = detection(args, tools)
        table, _ = detection_tables(rows, results, tools)
        details = detection_details(rows, results, tools)
        only = anchor_only(rows, results, tools)
        matrix = disagreement_matrix(rows, results, tools)
        tsv = os.path.join(args.results, "detection.tsv")
        write_tsv(tsv, rows, results, tools)
        text_out += [table, "", "aisec misses / false alarms / errors:", details, "",
                     "malicious files an anchor flags and aisec does not:", only, "", matrix, "", f"(per-file verdicts: {tsv})", ""]
        sections.append(("detection", table, details, only, matrix))
    if args.only in (None, "perf"):
        print("running performance ...", file=sys.stderr, flush=True)
        res = performance(args, tools)
        ptable = perf_table(res, tools, args)
        text_out += [
            "Performance (page cache warm; wall = median of the runs listed; load average "
            f"{res['load_before']} before, {res['load_after']} after, on {os.cpu_count()} CPUs)",
            ptable,
        ]
        sections.append(("perf", ptable, res["load_before"], res["load_after"]))
        with open(os.path.join(args.results, "perf.json"), "w") as f:
            json.dump({(k if isinstance(k, str) else f"{k[0]}|{k[1]}"): v for k, v in res.items()}, f, indent=1)
    print("\n".join(text_out))

    if args.markdown:
        write_markdown(args, started, versions, sections)


def write_markdown(args, started, versions, sections):
    cmd = args.command or " ".join(shlex.quote(a) for a in sys.argv)
    md = [
        "<!-- generated by bench/compare.py --markdown; edit bench/, not this file -->",
        "# Benchmarks: aisec against other model-file scanners",
        "",
        "Generated by `bench/` (see `bench/README.md`); numbers are from one run on the machine below.",
        "",
        f"- Date: {started.strftime('%Y-%m-%d %H:%M UTC')}",
        f"- Command: `{cmd}`",
        f"- Machine: {machine_info()}",
        f"- aisec: {versions.get('aisec', '?')}, release build `{args.aisec}` built "
        f"{datetime.datetime.fromtimestamp(os.path.getmtime(args.aisec), datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} "
        f"({git_state(args.aisec)}); default worker threads = one per core (`aisec -t1` rows: `--threads 1`)",
        "- Anchors (one venv each, pinned in `bench/requirements-anchors.txt`): "
        + ", ".join(v for k, v in versions.items() if k != "aisec"),
        "",
    ]
    for sec in sections:
        if sec[0] == "detection":
            _, table, details, only, matrix = sec
            md += [
                "## Detection on the labelled corpus",
                "",
                "Corpora: `crates/aisec-modelscan/tests/{fixtures,redteam*}` and `tests/formats/*` (labels in each `MANIFEST.tsv`). Every tool scans "
                "every file separately, with a 600 s timeout. Verdicts: *flagged* by the tool's own "
                "criterion below; *error* = not flagged and the tool crashed, timed out, reported a scan error "
                "or did not scan the file (unsupported format or extension); *clean* otherwise. "
                "err(m)/err(b) are errors on malicious/benign files.",
                "",
                "| tool | flagged means (and error means) |",
                "| --- | --- |",
            ]
            md += [f"| {k} | {v} |" for k, v in VERDICT_RULES.items() if k in versions]
            md += ["", "```", table, "```", "", "### aisec misses, false alarms and errors", "", details, "",
                   "### Malicious files an anchor flags and aisec does not", "", only, "",
                   "### Files where some tool is wrong or errs", "", "```", matrix, "```", ""]
        else:
            _, ptable, load0, load1 = sec
            md += [
                "## Performance",
                "",
                "Inputs are benign and generated by `bench/gen_perf_inputs.py` (into `/work/bench-data`). "
                "Wall time is the monotonic clock around each run, CPU time the user+sys `getrusage` of the "
                "processes it waited for, and peak RSS `Maximum resident set size` from `/usr/bin/time -v`"
                f"; each cell is the median of {args.runs} runs unless `runs` says fewer "
                f"(a run over {args.long_run:.0f} s is not repeated). The page cache is warm (the input is read once "
                "before timing). fickling's CLI takes one file, so for (c) it runs as one Python process calling "
                "the same functions as `fickling --check-safety` for each file. `verdict` is the tool's verdict on "
                "the (benign) input; the ratio uses the fastest anchor whose verdict is not `error`. "
                f"Load average {load0} before and {load1} after the perf runs ({os.cpu_count()} CPUs): other work "
                "on the machine inflates wall times, CPU times (user+sys of the tool's processes) much less.",
                "",
                RSS_NOTE,
                "",
                "```",
                ptable,
                "```",
                "",
            ]
    # The signing section is written by hand from bench/sign_compare.py runs: keep it.
    kept = ""
    if os.path.exists(args.markdown):
        old = open(args.markdown, encoding="utf-8").read()
        at = old.find(SIGNING_SECTION)
        if at >= 0:
            kept = "\n" + old[at:]
    with open(args.markdown, "w", encoding="utf-8") as f:
        f.write("\n".join(md) + kept)
    print(f"wrote {args.markdown}", file=sys.stderr)


if __name__ == "__main__":
    main()
