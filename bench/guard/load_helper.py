#!/usr/bin/env python3
"""Helper of bench/guard_load.sh: deterministic prose, wrk and `aisec guard check` parsing, and
the report. Standard library only.

  prose    --chars N --seed S                       one text of exactly N characters
  request  --chars N --seed S --out BODY.json       a chat request; prints the stub's reply marker
  prompts  --chars N --count K --warmup W --out F [--source prose|docs]
                                                    K + W JSON lines {"text": ...} for `guard check`:
                                                    our prose, or windows of this machine's licence
                                                    texts and package READMEs (imperative, benign)
  wrk      --label JSON < wrk-output                one result line (the WRKJSON line plus labels)
  check    --label JSON --warmup W < check-output   one result line (evaluation-time statistics)
  report   --results R.jsonl --meta M.json --txt OUT.txt --json OUT.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import sys

# Plain prose about ordinary things. Nothing here addresses an assistant, mentions instructions,
# or holds digits, addresses or credentials, so no prompt scanner should fire on it.
NAMES = ["Maria", "Tomas", "Aiko", "Priya", "Jonas", "Helen", "Samuel", "Ines", "Oliver", "Leila",
         "Marcus", "Greta", "Daniel", "Nadia", "Felix", "Rosa"]
TOWNS = ["the harbour town", "the old mill village", "the hill town", "the river city",
         "the market town", "the valley", "the coastal village", "the northern suburb"]
SEASONS = ["spring", "summer", "autumn", "winter"]
THINGS = ["wooden boat", "stone cottage", "bicycle", "grandfather clock", "greenhouse",
          "piano", "garden wall", "bookshelf", "kitchen table", "sewing machine"]
FOODS = ["barley soup", "apple cake", "roasted vegetables", "fresh bread", "lentil stew",
         "plum jam", "rice pudding", "onion tart"]
ANIMALS = ["heron", "fox", "pair of swallows", "badger", "family of ducks", "grey cat", "owl"]
WEATHER = ["a soft rain", "a cold wind from the sea", "a long dry spell", "an early frost",
           "a week of fog", "bright clear mornings"]
COUNTS = ["two", "three", "four", "five", "six", "seven", "several", "a dozen"]
CRAFTS = ["weaving", "pottery", "woodcarving", "bookbinding", "quilting", "glassblowing"]

TEMPLATES = [
    "{name} spent the {season} restoring a {thing} in {town}, and the neighbours still talk about how patiently the work was done.",
    "In {town} the bakery opens before dawn, and by seven o'clock the queue for {food} reaches the corner of the square.",
    "Every {season} brings {weather} to {town}, which the farmers accept with the calm of people who have seen every kind of year.",
    "{name} keeps a notebook of birds seen from the kitchen window; last week it recorded a {animal} for the first time.",
    "The library in {town} holds {count} shelves of local history, most of it donated by families who have lived there for generations.",
    "When the footpath along the river flooded, {name} and {name2} walked the long way round through the orchards instead.",
    "A good {food} needs time more than skill, {name} says, and the recipe has not changed since it was written on the back of an envelope.",
    "The museum's new exhibition on {craft} draws visitors from {town}, many of whom try the craft themselves in the afternoon workshop.",
    "After {count} weeks of careful sanding and oiling, the {thing} looked much as it must have looked when it was first made.",
    "{name} believes that a walk before breakfast settles the mind, even in {weather}, and rarely misses a morning.",
    "The ferry crosses the bay {count} times a day in {season}, though the timetable is more of a hope than a promise.",
    "At the weekly market in {town}, the stall selling {food} is usually sold out before the church bells ring at noon.",
    "Children in {town} learn {craft} at school, and the best pieces are displayed in the town hall each {season}.",
    "{name2} planted {count} rows of beans along the fence, then watched a {animal} dig most of them up again overnight.",
    "The old railway line has become a cycle path, and on quiet evenings you can ride from {town} to the coast without meeting a car.",
    "There is a small bookshop near the station where {name} reads the first chapter of a novel before deciding whether to buy it.",
    "Repairing a {thing} teaches patience: every loose joint and worn hinge asks for its own particular kind of attention.",
    "The choir in {town} rehearses on Thursday evenings, and in {season} it sings in the open air by the fountain.",
    "{name} and {name2} argued for an hour about the best way to make {food}, then agreed that both versions were excellent.",
    "Visitors often miss the walled garden behind the church, where {count} varieties of roses climb over the old brick arches.",
    "On the first warm day of {season}, half of {town} seems to be sitting outside with coffee, watching the boats come in.",
    "The local newspaper ran a long article about {craft}, describing how the old techniques are being taught to a new generation.",
    "Most evenings {name} cooks {food} for the family, and the smell drifts down the stairwell to the flats below.",
    "A {animal} has made its home under the footbridge, and walkers slow down to look for it in the reeds.",
    "The weather station on the hill recorded {weather} for most of the month, which suited the gardeners but not the tourists.",
    "{name} learned {craft} from a neighbour and now teaches {count} students every winter in a room above the post office.",
    "When the power failed during the storm, the whole street gathered in the corner cafe, which still had a gas stove and plenty of {food}.",
    "The bridge over the river was built of local stone, and its {count} arches have survived floods that swept away the newer ones.",
    "In the evenings the light over {town} turns golden, and painters set up their easels along the harbour wall.",
    "{name2} says the secret of a tidy workshop is to put every tool back before starting the next job, a rule rarely kept.",
]


def prose(chars: int, seed: int) -> str:
    """Deterministic paragraphs of exactly `chars` characters."""
    rng = random.Random(seed)
    out: list[str] = []
    size = 0
    while size < chars + 200:
        para = []
        for _ in range(rng.randint(3, 6)):
            t = rng.choice(TEMPLATES)
            name, name2 = rng.sample(NAMES, 2)
            s = t.format(name=name, name2=name2, town=rng.choice(TOWNS), season=rng.choice(SEASONS),
                         thing=rng.choice(THINGS), food=rng.choice(FOODS), animal=rng.choice(ANIMALS),
                         weather=rng.choice(WEATHER), count=rng.choice(COUNTS), craft=rng.choice(CRAFTS))
            para.append(s[0].upper() + s[1:])
        p = " ".join(para)
        out.append(p)
        size += len(p) + 2
    text = "\n\n".join(out)[:chars]
    # End on a letter or full stop, not a space, keeping the exact length.
    if text[-1].isspace():
        text = text[:-1] + "."
    return text


def marker(text: str) -> str:
    """What bench/guard_stub_upstream.py answers to a last user message `text`."""
    return "ok " + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    s = sorted(values)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


def cmd_request(a) -> None:
    text = prose(a.chars, a.seed)
    with open(a.out, "w", encoding="utf-8") as f:
        json.dump({"model": "m", "messages": [{"role": "user", "content": text}]}, f, ensure_ascii=False)
    print(marker(text))


DOC_DIRS = ["/usr/share/common-licenses", "/usr/share/doc"]


def doc_text() -> str:
    """Licence texts and package READMEs of this machine (Debian ships them), in path order:
    long, benign, and full of "you must" and "you may not"."""
    import gzip
    import os
    parts: list[str] = []
    for root in DOC_DIRS:
        for d, _, files in sorted(os.walk(root)):
            for name in sorted(files):
                path = os.path.join(d, name)
                if root.endswith("/doc") and not name.startswith("README"):
                    continue
                try:
                    raw = gzip.open(path).read() if name.endswith(".gz") else open(path, "rb").read()
                    text = raw.decode("utf-8")
                except (OSError, UnicodeDecodeError, EOFError):
                    continue
                parts.append(" ".join(text.split()))
    return "\n\n".join(parts)


def cmd_prompts(a) -> None:
    docs = doc_text() if a.source == "docs" else ""
    if a.source == "docs" and len(docs) < a.chars * 4:
        raise SystemExit(f"not enough text under {DOC_DIRS} for {a.chars}-character prompts")
    with open(a.out, "w", encoding="utf-8") as f:
        for i in range(a.warmup + a.count):
            # Warm-up rows use other seeds than the measured ones.
            seed = 1_000_000 + i if i < a.warmup else a.chars * 1000 + i
            if a.source == "docs":
                start = random.Random(seed).randrange(0, len(docs) - a.chars)
                text = docs[start:start + a.chars]
            else:
                text = prose(a.chars, seed)
            f.write(json.dumps({"text": text}) + "\n")


def cmd_wrk(a) -> None:
    label = json.loads(a.label)
    raw = sys.stdin.read()
    line = next((l for l in raw.splitlines() if l.startswith("WRKJSON ")), None)
    if line is None:
        sys.stderr.write(raw)
        raise SystemExit("no WRKJSON line in the wrk output")
    r = json.loads(line[len("WRKJSON "):])
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6) if r["duration_us"] else 0.0
    r["socket_errors"] = sum(r["errors"][k] for k in ("connect", "read", "write", "timeout"))
    print(json.dumps({"kind": "wrk", **label, **r}))


def cmd_check(a) -> None:
    label = json.loads(a.label)
    rows = [json.loads(l) for l in sys.stdin if l.strip()]
    rows = rows[a.warmup:]
    micros = [float(r["micros"]) for r in rows]
    actions: dict[str, int] = {}
    for r in rows:
        actions[r["action"]] = actions.get(r["action"], 0) + 1
    out = {
        "kind": "check", **label, "n": len(micros),
        "p50_us": pct(micros, 50), "p99_us": pct(micros, 99),
        "mean_us": sum(micros) / len(micros), "max_us": max(micros), "actions": actions,
    }
    # With a classifier: how many prompts its encoder read (the screen decided the rest).
    if any("encoded" in r for r in rows):
        out["encoded"] = sum(1 for r in rows if r.get("encoded"))
    print(json.dumps(out))


def ms(us: float) -> str:
    return f"{us / 1000:.2f}"


def cmd_report(a) -> None:
    meta = json.load(open(a.meta, encoding="utf-8"))
    results = [json.loads(l) for l in open(a.results, encoding="utf-8") if l.strip()]
    wrk = [r for r in results if r["kind"] == "wrk"]
    checks = [r for r in results if r["kind"] == "check"]
    notes = [r for r in results if r["kind"] == "note"]

    def find(**k):
        return next((r for r in wrk if all(r.get(x) == v for x, v in k.items())), None)

    L: list[str] = []
    L.append("# `aisec guard` latency and load (loopback, wrk)")
    L.append("")
    for k, v in meta.items():
        L.append(f"- {k}: {v}")
    L.append("")

    L.append("## Direct to the stub upstream (baseline)")
    L.append("")
    L.append("| prompt chars | conns | connection | p50 ms | p99 ms | req/s |")
    L.append("| ---: | ---: | --- | ---: | ---: | ---: |")
    for r in [r for r in wrk if r["target"] == "direct"]:
        L.append(f"| {r['chars']:,} | {r['conns']} | {r['conn_mode']} | {ms(r['latency_us']['p50'])} | "
                 f"{ms(r['latency_us']['p99'])} | {r['rps']:.0f} |")
    L.append("")

    L.append("## Through the guard")
    L.append("")
    L.append("Added = guard minus direct (keep-alive) at the same size and connections. The guard "
             "keeps a client's connection open for its next request (`--keep-alive`, HTTP/1.1) "
             "only while no other connection waits for one of its threads (`--threads`): with "
             "more connections than threads it closes after each reply, so those rows include a "
             "TCP connect per request (the `close` baseline rows above show that share).")
    L.append("")
    L.append("| prompt chars | scanners | conns | p50 ms | p99 ms | req/s | added p50 ms | added p99 ms | "
             "non-200 | mismatches | socket errors |")
    L.append("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in [r for r in wrk if r["target"] == "guard" and r.get("phase") != "load"]:
        d = find(target="direct", conn_mode="keep-alive", chars=r["chars"], conns=r["conns"])
        add50 = ms(r["latency_us"]["p50"] - d["latency_us"]["p50"]) if d else "n/a"
        add99 = ms(r["latency_us"]["p99"] - d["latency_us"]["p99"]) if d else "n/a"
        r["added_p50_us"] = r["latency_us"]["p50"] - d["latency_us"]["p50"] if d else None
        r["added_p99_us"] = r["latency_us"]["p99"] - d["latency_us"]["p99"] if d else None
        L.append(f"| {r['chars']:,} | {r['set']} | {r['conns']} | {ms(r['latency_us']['p50'])} | "
                 f"{ms(r['latency_us']['p99'])} | {r['rps']:.0f} | {add50} | {add99} | {r['non200']} | "
                 f"{r['mismatch']} | {r['socket_errors']} |")
    L.append("")

    if checks:
        L.append("## Engine evaluation time (`aisec guard check`, in process)")
        L.append("")
        L.append("The `micros` of each prompt (the policy evaluated on one user message, no I/O), over "
                 "distinct prose prompts after a few untimed warm-up prompts.")
        L.append("")
        L.append("`encoder`: the prompts the classifier's MiniLM encoder read; its screen (the static "
                 "table) decided the others alone.")
        L.append("")
        L.append("| prompt chars | scanners | prompts | p50 µs | p99 µs | mean µs | max µs | actions | encoder |")
        L.append("| ---: | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |")
        for r in checks:
            acts = ", ".join(f"{k} {v}" for k, v in sorted(r["actions"].items()))
            enc = f"{r['encoded']}/{r['n']}" if "encoded" in r else "-"
            L.append(f"| {r['chars']:,} | {r.get('source', 'prose')} {r['set']} | {r['n']} | {r['p50_us']:.0f} | "
                     f"{r['p99_us']:.0f} | {r['mean_us']:.0f} | {r['max_us']:.0f} | {acts} | {enc} |")
        L.append("")

    load = [r for r in wrk if r.get("phase") == "load"]
    if load:
        r = load[0]
        e = r["errors"]
        ok = r["socket_errors"] == 0 and r["non200"] == 0 and r["mismatch"] == 0 and r["errors"]["status"] == 0
        L.append(f"## Sustained load: {r['duration_us'] / 1e6:.0f} s, {r['conns']} connections, "
                 f"{r['set']}, {r['chars']:,} characters")
        L.append("")
        L.append("| requests | req/s | p50 ms | p90 ms | p99 ms | max ms | connect | read | write | timeout | non-200 | mismatches | result |")
        L.append("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
        L.append(f"| {r['requests']:,} | {r['rps']:.0f} | {ms(r['latency_us']['p50'])} | {ms(r['latency_us']['p90'])} | "
                 f"{ms(r['latency_us']['p99'])} | {ms(r['latency_us']['max'])} | {e['connect']} | {e['read']} | "
                 f"{e['write']} | {e['timeout']} | {r['non200']} | {r['mismatch']} | {'PASS' if ok else 'FAIL'} |")
        if r.get("first_bad"):
            L.append("")
            L.append(f"First bad reply: `{r['first_bad']}`")
        L.append("")

    if notes:
        L.append("## Notes")
        L.append("")
        for n in notes:
            L.append(f"- {n['text']}")
        L.append("")

    text = "\n".join(L)
    print(text)
    with open(a.txt, "w", encoding="utf-8") as f:
        f.write(text)
    with open(a.json, "w", encoding="utf-8") as f:
        json.dump({"meta": meta, "wrk": wrk, "check": checks, "notes": [n["text"] for n in notes]}, f, indent=1)
        f.write("\n")
    if load and not ok:
        raise SystemExit(1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prose")
    p.add_argument("--chars", type=int, required=True)
    p.add_argument("--seed", type=int, default=1)
    p = sub.add_parser("request")
    p.add_argument("--chars", type=int, required=True)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", required=True)
    p = sub.add_parser("prompts")
    p.add_argument("--chars", type=int, required=True)
    p.add_argument("--count", type=int, default=200)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--out", required=True)
    p.add_argument("--source", choices=["prose", "docs"], default="prose")
    p = sub.add_parser("wrk")
    p.add_argument("--label", required=True)
    p = sub.add_parser("check")
    p.add_argument("--label", required=True)
    p.add_argument("--warmup", type=int, default=5)
    p = sub.add_parser("report")
    for k in ("--results", "--meta", "--txt", "--json"):
        p.add_argument(k, required=True)
    a = ap.parse_args()
    if a.cmd == "prose":
        sys.stdout.write(prose(a.chars, a.seed))
    else:
        {"request": cmd_request, "prompts": cmd_prompts, "wrk": cmd_wrk,
         "check": cmd_check, "report": cmd_report}[a.cmd](a)


if __name__ == "__main__":
    main()
