"""Threat modeling as code: `aisec threat-model` against OWASP pytm, on the same three systems.

Rerun (from the repository root; the first line creates the pytm venv once, outside the repository):

    bench/install_pytm.sh && python3 bench/threatmodel_compare.py --aisec target/release/aisec

The command works from the system python (3.11, stdlib only): the pytm part runs in the venv's python
(`$PYTM_VENV`, default /work/venv-pytm, or `--venv`), which this script starts on itself with the hidden
`--pytm-worker` flag. Results go to bench/results/threatmodel-pytm.txt (Markdown) and
bench/results/threatmodel-pytm.json (the same data, with every finding); `--json` / `--report` move them,
`--runs` sets the timed runs per measure (default 5).

For each model in examples/threat-models/ (rag-support-chatbot, fraud-scoring-pipeline,
autonomous-coding-agent):

1. pytm: the YAML model is translated in code into a pytm model (`build_pytm`: TM, Boundary, Actor,
   Process, Server, Datastore, Dataflow, Data, and pytm's LLM and Agent classes; KIND_NOTES and UNMAPPED
   say which of our properties become which pytm attributes and which have no counterpart), then
   `tm.check()` and `tm.resolve()` run and every entry of `tm.findings` is collected (threat SID, target).
2. aisec: `aisec threat-model MODEL --format json --exit-zero`; the threats are
   `metrics.threat_model.threat_list`.
3. Each pytm finding is judged against the aisec threats through SIDS, a table from every pytm threat
   SID to the aisec rules (TM100-TM253) that cover its concern, on the same element or flow or a named
   related one: covered, not raised by aisec (no aisec rule; the model declares the control aisec checks;
   outside the aisec rule's scope, with the rule's unmet conditions), or not applicable (only with a
   concrete reason drawn from the model: no browser, no XML, no SOAP, no LDAP, no SQL). aisec threats that
   no pytm finding maps to are listed as aisec-only, with the pytm threats (if any) for the concern.
   pytm's library has no STRIDE field: SIDS also holds this bench's STRIDE reading of each pytm threat.
4. Timings, medians of `--runs` runs after a warm-up: aisec as a whole process; pytm in-process (build,
   check, resolve, after pytm is imported and has run once); pytm as a whole process
   (`python -c "...; t.pytm_once(MODEL)"`), and `python -c "import pytm"` alone.

Consistency checks in the report: the YAML reader's element, flow and boundary counts equal aisec's, and
a mirror of aisec's rule conditions (read from crates/aisec-threatmodel/rules/*.toml) predicts exactly
the threats the binary reports; the mirror also gives the unmet conditions quoted for misses.
"""

import argparse
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

SYSTEMS = [
    ("rag", "examples/threat-models/rag-support-chatbot.yaml"),
    ("fraud", "examples/threat-models/fraud-scoring-pipeline.yaml"),
    ("agent", "examples/threat-models/autonomous-coding-agent.yaml"),
]


# --- the model files: a strict reader for the YAML subset they use ----------------------------------
#
# The script runs on the system python (stdlib only) and in the pytm venv (pytm and pydantic only), so
# it cannot count on PyYAML. The models use block mappings and block lists of mappings, flow lists
# (`[a, b]`), plain and quoted scalars, booleans, integers and comments; anything else is an error, and
# main() checks the element, flow and boundary counts against aisec's own reading of each file.

def _scalar(text, where):
    t = text.strip()
    if t.startswith("["):
        if not t.endswith("]"):
            raise ValueError(f"{where}: unsupported flow sequence {t!r}")
        inner = t[1:-1].strip()
        return [_scalar(x, where) for x in inner.split(",")] if inner else []
    if t[:1] in ("{", "&", "*", "!", "|", ">"):
        raise ValueError(f"{where}: unsupported YAML construct {t!r}")
    if len(t) >= 2 and t[0] == t[-1] and t[0] in "'\"":
        return t[1:-1]
    if t in ("true", "false"):
        return t == "true"
    if re.fullmatch(r"-?\d+", t):
        return int(t)
    if t in ("", "~", "null"):
        return None
    return t


def load_yaml(path):
    lines = []
    for no, raw in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        body = raw.rstrip()
        text = body.lstrip(" ")
        if not text or text.startswith("#"):
            continue
        if text.startswith("\t"):
            raise ValueError(f"{path}:{no}: tab indentation")
        indent = len(body) - len(text)
        if "'" not in text and '"' not in text:
            text = re.split(r"\s+#", text, maxsplit=1)[0].rstrip()
        lines.append([indent, text, no])

    def where(i):
        return f"{path}:{lines[i][2]}"

    def is_item(text):
        return text == "-" or text.startswith("- ")

    def block(i, indent):
        if is_item(lines[i][1]):
            return seq(i, indent)
        return mapping(i, indent)

    def seq(i, indent):
        out = []
        while i < len(lines) and lines[i][0] == indent and is_item(lines[i][1]):
            rest = lines[i][1][1:].lstrip(" ")
            if not rest:
                value, i = block(i + 1, lines[i + 1][0])
            elif re.match(r"^[A-Za-z_][\w.-]*:(\s|$)", rest):
                lines[i] = [indent + (len(lines[i][1]) - len(rest)), rest, lines[i][2]]
                value, i = mapping(i, lines[i][0])
            else:
                value, i = _scalar(rest, where(i)), i + 1
            out.append(value)
        return out, i

    def mapping(i, indent):
        out = {}
        while i < len(lines) and lines[i][0] == indent and not is_item(lines[i][1]):
            m = re.match(r"^([A-Za-z_][\w.-]*):(?:\s+(.*))?$", lines[i][1])
            if not m:
                raise ValueError(f"{where(i)}: cannot read {lines[i][1]!r}")
            key, rest = m.group(1), m.group(2)
            if key in out:
                raise ValueError(f"{where(i)}: duplicate key {key}")
            if rest is None or rest == "":
                nxt = i + 1
                if nxt < len(lines) and (
                    lines[nxt][0] > indent or (lines[nxt][0] == indent and is_item(lines[nxt][1]))
                ):
                    out[key], i = block(nxt, lines[nxt][0])
                else:
                    out[key], i = None, i + 1
            else:
                out[key], i = _scalar(rest, where(i)), i + 1
        if i < len(lines) and lines[i][0] > indent:
            raise ValueError(f"{where(i)}: unexpected indentation")
        return out, i

    if not lines:
        raise ValueError(f"{path}: empty")
    doc, end = block(0, lines[0][0])
    if end != len(lines):
        raise ValueError(f"{where(end)}: unexpected content")
    return doc


class System:
    """A model file read into elements, flows and boundaries, with the computed properties that the
    pytm translation and the mapping need (the same definitions as crates/aisec-threatmodel)."""

    def __init__(self, path):
        self.path = str(path)
        doc = load_yaml(path)
        self.name = doc["system"]
        self.description = doc.get("description") or ""
        self.boundaries = {b["id"]: b for b in doc.get("boundaries") or []}
        for b in self.boundaries.values():
            b.setdefault("trusted", b["id"] != "internet")
        self.elements = {e["id"]: e for e in doc["elements"]}
        self.flows = []
        for f in doc.get("flows") or []:
            f = dict(f)
            f.setdefault("id", f"{f['from']}->{f['to']}")
            f.setdefault("data", [])
            self.flows.append(f)
        self.flow_by_id = {f["id"]: f for f in self.flows}
        self.accepted = doc.get("accepted") or []

    def kind(self, target):
        return "flow" if target in self.flow_by_id else self.elements[target]["kind"]

    def untrusted(self, eid):
        e = self.elements[eid]
        b = self.boundaries.get(e.get("boundary"))
        return (b is not None and not b["trusted"]) or (e["kind"] == "actor" and not e.get("trusted", False))

    def inflows(self, eid):
        return [f for f in self.flows if f["to"] == eid]

    def outflows(self, eid):
        return [f for f in self.flows if f["from"] == eid]

    def reachable(self, eid):
        seen = {x for x in self.elements if self.untrusted(x)}
        frontier = list(seen)
        while frontier:
            at = frontier.pop()
            for f in self.outflows(at):
                if f["to"] == eid:
                    return True
                if f["to"] not in seen:
                    seen.add(f["to"])
                    frontier.append(f["to"])
        return False

    def upstream(self, eid):
        """Every element with a chain of flows to `eid`."""
        seen, frontier = set(), [eid]
        while frontier:
            at = frontier.pop()
            for f in self.inflows(at):
                if f["from"] not in seen:
                    seen.add(f["from"])
                    frontier.append(f["from"])
        seen.discard(eid)
        return seen

    def guardrails_of(self, eid):
        return [g for g in self.elements.values() if g["kind"] == "guardrail" and eid in (g.get("protects") or [])]

    def crosses(self, f):
        return self.elements[f["from"]].get("boundary") != self.elements[f["to"]].get("boundary")

    def tools_of(self, agent_id):
        a = self.elements[agent_id]
        ids = set(a.get("tools") or []) | {f["to"] for f in self.outflows(agent_id)}
        return sorted(t for t in ids if self.elements.get(t, {}).get("kind") == "tool")

    def agents_using(self, llm_id):
        """The agents whose flows reach `llm_id` (directly or through a guardrail or other hop)."""
        return sorted(u for u in self.upstream(llm_id) if self.elements[u]["kind"] == "agent")

    def inbound_data(self, eid):
        return {d for f in self.inflows(eid) for d in f["data"]}


# --- the pytm side (runs inside the pytm venv) ------------------------------------------------------
#
# Each of our element kinds becomes the nearest pytm class, and each property the pytm attribute or
# control with the same meaning; a property with no pytm counterpart is listed in UNMAPPED (and in the
# report). pytm's own defaults (every control False, Process.codeType "Unmanaged", LLM.hasSystemPrompt
# True, ...) are left as they are unless the model says otherwise.

PYTM_CLASS = {
    "actor": "Actor",
    "process": "Process",
    "datastore": "Datastore",
    "model": "Datastore",
    "dataset": "Datastore",
    "feature-store": "Datastore",
    "vector-store": "Datastore",
    "training-pipeline": "Process",
    "llm": "LLM",
    "agent": "Agent",
    "tool": "Process",
    "prompt-template": "Datastore",
    "guardrail": "Process",
    "inference-endpoint": "Server",
}

RUNNING = ("process", "tool", "guardrail", "training-pipeline", "inference-endpoint")
RESTING = ("datastore", "model", "dataset", "prompt-template", "feature-store", "vector-store")
_RUN_NOTE = ("; on every element that runs code (process, tool, guardrail, training-pipeline, inference-endpoint): "
             "input_validation -> controls.validatesInput + sanitizesInput, memory_safe -> checksInputBounds + "
             "usesSecureFunctions, authorization -> authorizesSource + hasAccessControl, least_privilege -> "
             "implementsPOLP, resource_limits -> handlesResourceConsumption + isResilient, config_integrity -> "
             "providesIntegrity, generic_errors -> isHardened, authenticated -> authenticatesSource + "
             "implementsAuthenticationScheme, browser_protection -> usesStrongSessionIdentifiers + encryptsCookies + "
             "implementsCSRFToken + verifySessionIdentifiers + disablesiFrames + definesConnectionTimeout")
_REST_NOTE = ("; on every element where data rests (datastore, model, dataset, prompt-template, feature-store, "
              "vector-store): encrypted_at_rest -> controls.isEncryptedAtRest, access_controlled -> hasAccessControl + "
              "authorizesSource, resource_limits -> handlesResourceConsumption")

# Why each kind became that class, and the attributes each property sets (for the report).
KIND_NOTES = {
    "actor": "Actor (pytm has no trust or human flag on actors; no pytm threat targets Actor)",
    "process": "Process; authenticated -> controls.authenticatesSource + implementsAuthenticationScheme, "
    "input_validation -> controls.validatesInput",
    "datastore": "Datastore; encrypted_at_rest -> controls.isEncryptedAtRest, contains -> storesPII (pii, health) "
    "+ storesSensitiveData (any class above internal), isSQL only when a flow to or from it is `sql`",
    "model": "Datastore (FILE_SYSTEM, not SQL: the model file); signed -> controls.providesIntegrity + usesCodeSigning",
    "dataset": "Datastore (FILE_SYSTEM, not SQL); contains_pii -> storesPII + storesSensitiveData",
    "feature-store": "Datastore (not SQL); access_controlled -> controls.hasAccessControl + authorizesSource, "
    "contains_pii -> storesPII + storesSensitiveData",
    "vector-store": "Datastore (not SQL); access_controlled -> controls.hasAccessControl + authorizesSource, "
    "contains_pii -> storesPII + storesSensitiveData, sources beyond `internal` -> isShared + hasWriteAccess",
    "training-pipeline": "Process; data_validation -> controls.validatesInput",
    "llm": "LLM; hosting hosted -> isThirdParty (local -> isSelfHosted), guarded (a guardrail protects it) -> "
    "hasContentFiltering (+ controls.encodesOutput when the guardrail scans output), reachable -> "
    "processesUntrustedInput, personal data in its inbound flows -> processesPersonalData, an agent sends to it -> "
    "hasAgentCapabilities, that agent's tools write/execute/call out or hold credentials -> "
    "hasAccessToSensitiveSystems, output_to code (or an execute tool) -> executesCode, every execute tool "
    "sandboxed -> controls.isHardened, a vector store upstream -> hasRAG",
    "agent": "Agent; tools -> usesExternalTools",
    "tool": "Process; sandboxed -> controls.isHardened",
    "prompt-template": "Datastore (FILE_SYSTEM, not SQL: the template text); secrets -> storesSensitiveData",
    "guardrail": "Process; input -> controls.validatesInput + sanitizesInput, output -> controls.encodesOutput",
    "inference-endpoint": "Server (an HTTPS API server); authenticated -> controls.authenticatesSource + "
    "implementsAuthenticationScheme, rate_limited -> controls.handlesResourceConsumption, protocol of its "
    "inbound flows -> protocol",
    "flow": "Dataflow; protocol -> protocol (upper case), encrypted -> controls.isEncrypted, authenticated -> "
    "controls.authenticatesSource + implementsAuthenticationScheme, data -> Data objects (one per class)",
}
for _k in RUNNING:
    KIND_NOTES[_k] += _RUN_NOTE
for _k in RESTING:
    KIND_NOTES[_k] += _REST_NOTE

# Properties of ours that no pytm attribute expresses: they change nothing on the pytm side.
UNMAPPED = {
    "actor": ["human", "trusted"],
    "process": ["logging", "runs_untrusted_code", "web_application", "privilege", "handles_payment", "handles_goods"],
    "datastore": ["access_logged", "backups", "log", "signed", "inventory"],
    "model": ["source", "format", "scanned", "registry", "path"],
    "dataset": ["provenance", "validated", "path"],
    "training-pipeline": ["isolated", "reproducible", "robustness_tested"],
    "llm": ["system_prompt_secrets", "rate_limited", "model"],
    "agent": ["autonomy", "human_approval", "memory"],
    "tool": ["side_effects", "credentials"],
    "prompt-template": ["user_input_delimited"],
    "inference-endpoint": ["output_detail", "public", "monitored"],
    "boundary": ["trusted"],
}

# Our data classes as pytm Data: (classification, isPII, isCredentials).
DATA_CLASSES = {
    "public": ("PUBLIC", False, False),
    "internal": ("RESTRICTED", False, False),
    "prompts": ("RESTRICTED", False, False),
    "training-data": ("RESTRICTED", False, False),
    "confidential": ("SENSITIVE", False, False),
    "financial": ("SENSITIVE", False, False),
    "model-weights": ("SENSITIVE", False, False),
    "pii": ("SENSITIVE", True, False),
    "health": ("SENSITIVE", True, False),
    "credentials": ("SECRET", False, True),
    "secrets": ("SECRET", False, True),
}
PERSONAL = {"pii", "health"}
SENSITIVE_STORED = {"confidential", "financial", "model-weights", "pii", "health", "credentials", "secrets"}


def build_pytm(system):
    """The pytm model of `system`: (tm, {our id: pytm element}, {flow id: (protocol, isEncrypted)})."""
    import pytm
    from pytm import TM, Classification, DatastoreType

    TM.reset()
    tm = TM(system.name, description=system.description or system.name)
    bounds = {bid: pytm.Boundary(b.get("name") or bid) for bid, b in system.boundaries.items()}
    objs = {}

    def controls(obj, **kw):
        for k, v in kw.items():
            if v:
                setattr(obj.controls, k, True)

    for eid, e in system.elements.items():
        kind = e["kind"]
        cls = getattr(pytm, PYTM_CLASS[kind])
        kw = {"description": e.get("description") or ""}
        if e.get("boundary"):
            kw["inBoundary"] = bounds[e["boundary"]]
        flows_here = system.inflows(eid) + system.outflows(eid)
        if cls is pytm.Datastore:
            contains = set(e.get("contains") or [])
            if e.get("contains_pii"):
                contains.add("pii")
            if kind == "prompt-template" and e.get("secrets"):
                contains.add("secrets")
            kw["storesPII"] = bool(contains & PERSONAL)
            kw["storesSensitiveData"] = bool(contains & SENSITIVE_STORED)
            kw["isSQL"] = any(f.get("protocol") == "sql" for f in flows_here)
            if kw["isSQL"]:
                kw["type"] = DatastoreType.SQL
            elif kind in ("model", "dataset", "prompt-template"):
                kw["type"] = DatastoreType.FILE_SYSTEM
            if kind == "vector-store" and set(e.get("sources") or []) - {"internal"}:
                kw["isShared"] = True
                kw["hasWriteAccess"] = True
        if kind == "llm":
            guards = system.guardrails_of(eid)
            agents = system.agents_using(eid)
            tools = [system.elements[t] for a in agents for t in system.tools_of(a)]
            exec_tools = [t for t in tools if t.get("side_effects") == "execute"]
            kw.update(
                isThirdParty=e.get("hosting") == "hosted",
                isSelfHosted=e.get("hosting") == "local",
                processesPersonalData=bool(system.inbound_data(eid) & PERSONAL),
                hasAgentCapabilities=bool(agents),
                hasAccessToSensitiveSystems=any(
                    t.get("side_effects") in ("write", "external", "execute") or t.get("credentials") for t in tools
                ),
                executesCode=e.get("output_to") == "code" or bool(exec_tools),
                hasContentFiltering=bool(guards),
                processesUntrustedInput=system.reachable(eid),
                hasRAG=any(system.elements[u]["kind"] == "vector-store" for u in system.upstream(eid)),
            )
        if kind == "agent":
            kw["usesExternalTools"] = bool(system.tools_of(eid))
        if kind == "inference-endpoint":
            protos = {f.get("protocol") for f in system.inflows(eid) if f.get("protocol")}
            if len(protos) == 1:
                kw["protocol"] = protos.pop().upper()
        obj = cls(e.get("name") or eid, **kw)
        objs[eid] = obj
        # A flow's `authenticated` says its receiver authenticates the sender, so a process-like
        # element whose every inbound flow is authenticated authenticates its sources; likewise it
        # requires encrypted input (pytm's element-level controls.isEncrypted) when every inbound
        # flow is encrypted.
        ins = system.inflows(eid)
        if cls in (pytm.Process, pytm.Server, pytm.LLM, pytm.Agent):
            auth = e.get("authenticated") or (bool(ins) and all(f.get("authenticated") for f in ins))
            controls(obj, authenticatesSource=auth, implementsAuthenticationScheme=auth)
        controls(obj, isEncrypted=bool(ins) and all(f.get("encrypted") for f in ins))
        # The controls aisec's classic rules check on every element that runs code, as the pytm
        # controls that express them.
        if kind in RUNNING:
            controls(obj, validatesInput=e.get("input_validation"), sanitizesInput=e.get("input_validation"))
            controls(obj, checksInputBounds=e.get("memory_safe"), usesSecureFunctions=e.get("memory_safe"))
            controls(obj, authorizesSource=e.get("authorization"), hasAccessControl=e.get("authorization"))
            controls(obj, implementsPOLP=e.get("least_privilege"))
            controls(obj, handlesResourceConsumption=e.get("resource_limits"), isResilient=e.get("resource_limits"))
            controls(obj, providesIntegrity=e.get("config_integrity"))
            controls(obj, isHardened=e.get("generic_errors"))
            if e.get("authenticated"):
                controls(obj, authenticatesSource=True, implementsAuthenticationScheme=True)
            bp = e.get("browser_protection")
            controls(obj, usesStrongSessionIdentifiers=bp, encryptsCookies=bp, implementsCSRFToken=bp,
                     verifySessionIdentifiers=bp, disablesiFrames=bp, definesConnectionTimeout=bp)
        if kind in RESTING:
            controls(obj, isEncryptedAtRest=e.get("encrypted_at_rest"))
            controls(obj, handlesResourceConsumption=e.get("resource_limits"))
            controls(obj, hasAccessControl=e.get("access_controlled"), authorizesSource=e.get("access_controlled"))
        if kind == "inference-endpoint":
            controls(obj, handlesResourceConsumption=e.get("rate_limited"))
        if kind == "model":
            controls(obj, providesIntegrity=e.get("signed"), usesCodeSigning=e.get("signed"))
        if kind == "training-pipeline":
            controls(obj, validatesInput=e.get("data_validation"))
        if kind == "tool":
            controls(obj, isHardened=e.get("sandboxed"))
        if kind == "guardrail":
            controls(obj, validatesInput=e.get("input"), sanitizesInput=e.get("input"), encodesOutput=e.get("output"))
        if kind == "llm":
            guards = system.guardrails_of(eid)
            controls(obj, encodesOutput=any(g.get("output") for g in guards))
            agents = system.agents_using(eid)
            exec_tools = [system.elements[t] for a in agents for t in system.tools_of(a)
                          if system.elements[t].get("side_effects") == "execute"]
            controls(obj, isHardened=bool(exec_tools) and all(t.get("sandboxed") for t in exec_tools))

    data = {}
    for name, (cl, pii, cred) in DATA_CLASSES.items():
        data[name] = pytm.Data(name, classification=getattr(Classification, cl), isPII=pii, isCredentials=cred)

    def level(names):
        return max((data[n].classification for n in names), default=Classification.UNKNOWN,
                   key=lambda c: c.value)

    # maxClassification: our schema has no per-element clearance, so every element and flow is
    # cleared for the most sensitive class the model itself sends through it (pytm's default,
    # UNKNOWN, would make DS06 "Data Leak" fire on every flow that carries any classified data).
    for eid, obj in objs.items():
        touching = [d for f in system.inflows(eid) + system.outflows(eid) for d in f["data"]]
        obj.maxClassification = level(touching)

    declared = {}
    for f in system.flows:
        df = pytm.Dataflow(objs[f["from"]], objs[f["to"]], f.get("name") or f["id"],
                           data=[data[d] for d in f["data"]])
        df.maxClassification = level(f["data"])
        if f.get("protocol"):
            df.protocol = f["protocol"].upper()
        controls(df, isEncrypted=f.get("encrypted"), authenticatesSource=f.get("authenticated"),
                 implementsAuthenticationScheme=f.get("authenticated"))
        objs[f["id"]] = df
        declared[f["id"]] = (df.protocol, df.controls.isEncrypted)
    return tm, objs, declared


def run_pytm(system):
    """Build, check and resolve; the findings as (SID, our target id, severity) plus pytm's threat data."""
    tm, objs, declared = build_pytm(system)
    tm.check()
    # pytm 1.4.0's check() copies the sink's default `protocol` and `controls.isEncrypted` onto every
    # forward flow, replacing what was set on the flow (in pytm before the pydantic rewrite, a value set
    # on the flow was write-once and won). Our model states both per flow, so they are set back.
    for fid, (proto, enc) in declared.items():
        objs[fid].protocol = proto
        objs[fid].controls.isEncrypted = enc
    tm.resolve()
    back = {id(o): k for k, o in objs.items()}
    out = []
    for f in tm.findings:
        out.append({
            "sid": f.threat_id,
            "name": f.description,
            "target": back[id(f.element)],
            "pytm_class": type(f.element).__name__,
            "severity": f.severity,
        })
    return out


def pytm_once(path):
    """One whole analysis of one model file (for the `python -c` whole-process timing)."""
    print(len(run_pytm(System(path))))


def pytm_worker(paths, runs):
    import importlib.metadata

    from pytm import TM

    result = {"pytm_version": importlib.metadata.version("pytm"),
              "pydantic_version": importlib.metadata.version("pydantic"),
              "python": sys.version.split()[0], "systems": {}, "library": {}}
    for path in paths:
        system = System(path)
        findings = run_pytm(system)
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            run_pytm(system)
            times.append(time.perf_counter() - t0)
        threats = {}
        for t in TM._threats:
            if any(f["sid"] == t.id for f in findings):
                threats[t.id] = {
                    "name": t.description,
                    "targets": [getattr(c, "__name__", str(c)) for c in t.target],
                    "condition": t.condition,
                    "severity": t.severity,
                    "references": t.references,
                }
        result["library"] = {t.id: [getattr(c, "__name__", str(c)) for c in t.target] for t in TM._threats}
        result["systems"][path] = {
            "findings": findings,
            "in_process_s": times,
            "pytm_classes": {eid: PYTM_CLASS[e["kind"]] for eid, e in system.elements.items()},
            "threat_library_size": len(TM._threats),
            "threats": threats,
        }
    json.dump(result, sys.stdout)


# --- aisec's rules, read from the TOML, and a mirror of their conditions -----------------------------
#
# The mirror (the semantics of crates/aisec-threatmodel/src/engine.rs) serves two things: a check that
# it predicts exactly the threats the binary reports, and the reason, condition by condition, when an
# aisec rule that covers a pytm finding's concern does not fire on that element.

RULE_FILES = ["crates/aisec-threatmodel/rules/ai.toml", "crates/aisec-threatmodel/rules/stride.toml"]


def load_rules():
    import tomllib

    rules = {}
    for name in RULE_FILES:
        with open(REPO / name, "rb") as fh:
            for r in tomllib.load(fh)["rule"]:
                rules[r["id"]] = r
    return rules


def actual(system, target, key):
    if target in system.flow_by_id:
        f = system.flow_by_id[target]
        if key in ("encrypted", "authenticated"):
            return bool(f.get(key, False))
        if key == "crosses_boundary":
            return system.crosses(f)
        if key == "data":
            return list(f["data"])
        return False
    e = system.elements[target]
    if key == "exposed":
        return any(system.untrusted(f["from"]) for f in system.inflows(target))
    if key == "reachable":
        return system.reachable(target)
    if key == "guarded":
        return bool(system.guardrails_of(target))
    if key == "untrusted":
        return system.untrusted(target)
    if key == "tool_effects":
        ids = set(e.get("tools") or []) | {f["to"] for f in system.outflows(target)}
        return [system.elements[t]["side_effects"] for t in sorted(ids)
                if t in system.elements and system.elements[t]["kind"] == "tool" and "side_effects" in system.elements[t]]
    if key == "reads_from":
        return [system.elements[f["from"]]["kind"] for f in system.inflows(target)]
    if key == "reads_data":
        return [d for f in system.inflows(target) for d in f["data"]]
    if key == "sends_unauthenticated":
        return any(not f.get("authenticated", False) for f in system.outflows(target))
    v = e.get(key)
    if isinstance(v, bool):
        return v
    if isinstance(v, str):
        return [v]
    if isinstance(v, list):
        return [str(x) for x in v]
    return False


def matches(a, want):
    if isinstance(a, bool):
        return isinstance(want, bool) and a == want
    if isinstance(want, bool):
        return bool(a) == want
    if isinstance(want, str):
        return want in a
    if isinstance(want, list):
        return any(w in a for w in want)
    return False


def rule_applies(rule, system, target):
    return system.kind(target) in rule["applies"]


def failed_conditions(rule, system, target):
    return [(k, w, actual(system, target, k)) for k, w in rule.get("when", {}).items()
            if not matches(actual(system, target, k), w)]


def predicted_threats(rules, system):
    out = set()
    for rid, r in rules.items():
        for t in list(system.elements) + [f["id"] for f in system.flows]:
            if rule_applies(r, system, t) and not failed_conditions(r, system, t):
                out.add((rid, t))
    return out


def _fmt(v):
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, list):
        return "[" + ", ".join(v) + "]"
    return str(v)


# Rule conditions that name a control (the rest say where a rule applies: exposure, boundaries, data).
CONTROL_KEYS = {
    "encrypted", "authenticated", "input_validation", "logging", "encrypted_at_rest", "access_logged",
    "data_validation", "access_controlled", "signed", "scanned", "validated", "rate_limited", "monitored",
    "sandboxed", "human_approval", "guarded", "user_input_delimited", "robustness_tested",
}


def why_not(rule, system, target):
    parts = [f"{k} is {_fmt(a) if a != [] else 'none'} (needs {_fmt(w)})" for k, w, a in failed_conditions(rule, system, target)]
    return f"{rule['id']} on {target}: " + "; ".join(parts)


# --- the mapping: every pytm 1.4 threat (SID) against the aisec rules that cover its concern --------
#
# pytm's threat library has no STRIDE field; the STRIDE categories below are this bench's reading of
# each threat (CAPEC pattern and description), in aisec's category names.
# Rules: "TMxxx" is the same element or flow as the pytm finding; "TMxxx@scope" a related one:
#   inflow        a flow into the element           source_actor  an actor sending to it
#   agent         the agent that calls this tool, or that drives this LLM
#   tools         the tools of this agent, or of the agent that drives this LLM
#   upstream      any element with a chain of flows to it
#   models        a model element upstream (or stored in an upstream registry)
#   sink / source the element a flow goes to / comes from
# `na` names a check (NA_CHECKS) that can make a finding not applicable, with a reason drawn from the
# model; `gap` says what aisec lacks when none of the rules fires.

S, T, R, I, D, E = ("Spoofing", "Tampering", "Repudiation", "InformationDisclosure", "DenialOfService",
                    "ElevationOfPrivilege")

_MEM = "a flaw in the element's own code (memory safety, unsafe functions, encodings); aisec raises it on every element that runs code (TM205, mitigated by memory_safe) and injection at its inputs (TM202 exposed, TM209 internal)"
_INJ = "input injection; aisec raises it where the input comes from outside (TM202 at an exposed process) or from a hijackable agent (TM130/TM131 at the agent that calls the tool), TM142 for code execution in a tool"
_XSS = "a browser-side attack; aisec raises session, CSRF and framing threats on processes marked web_application (TM215), and has no XSS-specific rule"
_XML = "an XML-processing attack; aisec's schema has no data formats or parsers"
_AUTH = "authentication of the element's callers; aisec raises it on every process, tool, guardrail and training pipeline (TM208), on flows across a boundary (TM251), at an inference endpoint (TM123), and on the actor (TM200)"
_AUTHZ = "authorisation inside the element; aisec raises it on every element that runs code (TM206), on stores (TM218), feature stores (TM114), RAG indexes (TM151) and tool credentials (TM143)"
_DOS = "resource exhaustion; aisec raises it on every element that runs code (TM203), an unauthenticated endpoint (TM123), an LLM without rate limits (TM136), stores that data from outside reaches (TM212) and the other stores (TM219)"
_CHAN = "the channel; aisec raises every clear-text flow (TM253 inside a boundary, TM250 and TM252 across one) but unauthenticated flows only when they cross a trust boundary (TM251), and has no property for server authentication, revocation checks, TLS versions or VPNs, which pytm's conditions ask for on encrypted flows too"
_RECON = "reconnaissance of a web server; aisec raises it on exposed processes and inference endpoints (TM216, mitigated by generic_errors)"


def _sid(stride, rules="", na=None, gap=""):
    out = []
    for tok in rules.split():
        rid, _, scope = tok.partition("@")
        out.append((rid, scope or "same"))
    return {"stride": stride, "aisec": out, "na": na, "gap": gap}


SIDS = {
    "INP01": _sid([T, E], "TM205 TM202 TM209", gap=_MEM),
    "INP02": _sid([T, E], "TM205 TM202 TM209", gap=_MEM),
    "INP03": _sid([T, E], "TM202", na="browser", gap=_XSS),
    "INP04": _sid([T], "", gap="HTTP request splitting; " + _RECON),
    "INP05": _sid([T, E], "TM202", na="sql", gap="SQL injection; aisec has no SQL rule"),
    "INP06": _sid([T, E], "TM202", na="soap", gap="SOAP parameter tampering"),
    "INP07": _sid([T, E], "TM205 TM202 TM209", gap=_MEM),
    "INP08": _sid([T, E], "TM205 TM202 TM209", gap=_MEM),
    "INP09": _sid([T, E], "TM202", na="ldap", gap="LDAP injection"),
    "INP10": _sid([T], "TM202 TM209", gap="parameter injection (request-parameter separators); aisec's input-validation rule TM202 is for processes, and its endpoint input rule (TM122, model evasion) is a different concern"),
    "INP11": _sid([I, T], "TM202 TM209", gap="path traversal; aisec's schema has no file-path handling"),
    "INP12": _sid([T, E], "TM205 TM202 TM209", gap=_MEM),
    "INP13": _sid([T, E], "TM202 TM209 TM142 TM130@agent TM131@agent", gap=_INJ),
    "INP14": _sid([T], "TM202 TM209 TM122 TM130@agent TM131@agent", gap=_INJ + "; at an inference endpoint, manipulated input data is model evasion (TM122)"),
    "INP15": _sid([T], "TM202", na="mail", gap="IMAP/SMTP injection"),
    "INP16": _sid([E], "TM202 TM209", gap="PHP remote file inclusion; aisec's schema records no implementation language"),
    "INP17": _sid([T], "", na="browser", gap=_XSS),
    "INP18": _sid([I], "TM216", gap="fuzzing for error messages; " + _RECON),
    "INP19": _sid([D], "", na="xml", gap=_XML),
    "INP20": _sid([T, S], "TM215", na="browser", gap=_XSS),
    "INP21": _sid([T], "", na="xml", gap=_XML),
    "INP22": _sid([D], "", na="xml", gap=_XML),
    "INP23": _sid([T, E], "TM202 TM209 TM142 TM130@agent TM131@agent", gap=_INJ),
    "INP24": _sid([T, E], "TM205 TM202 TM209", gap=_MEM),
    "INP25": _sid([T], "TM202 TM209 TM130@agent TM131@agent", gap=_INJ),
    "INP26": _sid([T, E], "TM202 TM209 TM142 TM130@agent TM131@agent", gap=_INJ),
    "INP27": _sid([T], "TM202", na="browser", gap=_XSS),
    "INP28": _sid([T], "TM202", na="browser", gap=_XSS),
    "INP29": _sid([T], "TM202", na="browser", gap=_XSS),
    "INP30": _sid([T], "TM202", na="browser", gap=_XSS),
    "INP31": _sid([T, E], "TM202 TM209 TM142 TM130@agent TM131@agent", gap=_INJ),
    "INP32": _sid([T], "TM202", na="xml", gap=_XML),
    "INP33": _sid([T, E], "TM202 TM209 TM142 TM130@agent TM131@agent", gap=_INJ),
    "INP34": _sid([D, T], "", na="soap", gap="SOAP array overflow"),
    "INP35": _sid([T], "TM205 TM202 TM209", gap=_MEM),
    "INP36": _sid([T], "TM202 TM209", gap="HTTP response smuggling; aisec's schema has no HTTP-intermediary properties"),
    "INP37": _sid([T], "TM202 TM209", gap="HTTP request smuggling; aisec's schema has no HTTP-intermediary properties"),
    "INP38": _sid([T], "TM202", na="browser", gap=_XSS),
    "INP39": _sid([T], "TM202", na="browser", gap=_XSS),
    "INP40": _sid([T], "TM202", na="browser", gap=_XSS),
    "INP41": _sid([T, E], "TM202 TM209 TM142 TM130@agent TM131@agent", gap=_INJ),
    "CR01": _sid([S], "TM215", na="browser", gap=_XSS),
    "CR02": _sid([I], "TM215", na="browser", gap=_XSS),
    "CR03": _sid([S], "TM208 TM251@inflow TM123 TM200@source_actor", gap=_AUTH),
    "CR04": _sid([S], "TM215", na="browser", gap=_XSS),
    "CR05": _sid([I], "TM210 TM217 TM250@inflow TM253@inflow", gap="weak encryption; aisec raises data at rest without encryption (TM210 for sensitive datastores, TM217 for AI artifacts), not the algorithm"),
    "CR06": _sid([T, I], "TM250 TM251 TM253", gap=_CHAN),
    "CR07": _sid([T], "", na="xml", gap=_XML),
    "CR08": _sid([T], "TM250 TM253", gap=_CHAN),
    "SC01": _sid([I], "", na="browser", gap=_XSS),
    "SC02": _sid([T], "TM202", na="browser", gap=_XSS),
    "SC03": _sid([T], "TM202", na="browser", gap=_XSS),
    "SC04": _sid([T], "TM202", na="browser", gap=_XSS),
    "SC05": _sid([T], "", na="browser", gap=_XSS),
    "LB01": _sid([T], "TM202 TM209", gap=_INJ),
    "AA01": _sid([S], "TM208 TM251@inflow TM123 TM200@source_actor", gap=_AUTH),
    "AA02": _sid([S], "TM208 TM251@inflow TM123 TM200@source_actor", gap=_AUTH),
    "AA03": _sid([S], "TM208 TM251@inflow TM123 TM200@source_actor", gap=_AUTH),
    "AA04": _sid([T, S], "TM202 TM209", gap="a server trusting checks done by its client; aisec's schema has no client-side validation property"),
    "DS01": _sid([I], "TM216", gap="probing a server for information; " + _RECON),
    "DS02": _sid([I], "", gap="undocumented switches in production; aisec's schema has no deployment-environment property"),
    "DS03": _sid([I], "TM216", gap="footprinting; " + _RECON),
    "DS04": _sid([T, I], "TM202", na="browser", gap=_XSS),
    "DS05": _sid([I], "", gap="sensitive data in a server cache; aisec's schema has no cache property"),
    "DS06": _sid([I], "TM252 TM250", gap=_CHAN),
    "DE01": _sid([I], "TM250 TM252 TM253", gap=_CHAN),
    "DE02": _sid([T], "TM205 TM202 TM209", gap=_MEM),
    "DE03": _sid([I], "TM250 TM252 TM253", gap=_CHAN),
    "DE04": _sid([R, T], "TM211", gap="log tampering; aisec raises stores whose writes are not logged apart from them (TM211)"),
    "API01": _sid([E], "TM123", gap="test APIs left in production"),
    "API02": _sid([T], "TM202 TM209", gap=_INJ),
    "AC01": _sid([E], "TM206 TM218 TM114 TM151 TM143", gap=_AUTHZ),
    "AC02": _sid([T], "TM150 TM114", gap="shared data written by several parties; aisec raises it for RAG indexes (TM150) and feature stores (TM114)"),
    "AC03": _sid([T, E], "TM205 TM202 TM209", gap=_MEM),
    "AC04": _sid([T], "", na="xml", gap=_XML),
    "AC05": _sid([S, T], "TM250 TM251 TM253", gap=_CHAN),
    "AC06": _sid([E], "TM100@models TM101@models TM102@models", gap="executing an uploaded or planted file; aisec raises it for model files (TM100-TM102), not for other files a server runs"),
    "AC07": _sid([E], "TM206 TM123", gap=_AUTHZ),
    "AC08": _sid([E, T], "TM206 TM213", gap="OS/application registry tampering; aisec raises missing authorisation (TM206) and unprotected configuration (TM213)"),
    "AC09": _sid([E], "TM206", gap="misuse of legitimate functionality; aisec raises missing authorisation (TM206)"),
    "AC10": _sid([I, S], "", gap="TLS configuration; aisec's schema has no TLS version"),
    "AC11": _sid([S], "TM215", na="browser", gap=_XSS),
    "AC12": _sid([E], "TM207 TM206 TM202 TM204 TM142 TM143", gap="privilege escalation inside the element; aisec raises excess privilege (TM207) and missing authorisation (TM206) on every element that runs code, and untrusted code (TM204) and tool rights (TM142, TM143)"),
    "AC13": _sid([E], "TM207 TM206 TM202 TM204 TM142 TM143", gap="hijacking a privileged process; same coverage as AC12"),
    "AC14": _sid([E], "TM205 TM207 TM204 TM142", gap=_MEM),
    "AC15": _sid([T], "TM213 TM207 TM112 TM114", gap="schema poisoning; aisec raises configuration and schemas the element does not protect (TM213) and its privileges (TM207), and unvalidated training inputs (TM112) and writable feature stores (TM114)"),
    "AC16": _sid([S], "TM215", na="browser", gap=_XSS),
    "AC17": _sid([S], "TM215", na="browser", gap=_XSS),
    "AC18": _sid([S], "TM215", na="browser", gap=_XSS),
    "AC19": _sid([S], "TM215", na="browser", gap=_XSS),
    "AC20": _sid([S], "TM215", na="browser", gap=_XSS),
    "AC21": _sid([S, T], "TM215", na="browser", gap=_XSS),
    "AC22": _sid([I], "TM252 TM143@sink TM143@source", gap="credential lifetime and rotation; aisec raises credentials held by tools (TM143) and sent across a boundary in clear text (TM252)"),
    "AC23": _sid([I], "TM208 TM252 TM253 TM143@sink TM143@source", gap="credential lifetime and rotation; aisec raises credentials held by tools (TM143) and sent across a boundary in clear text (TM252)"),
    "AC24": _sid([I], "TM252 TM143@sink TM143@source", gap="hard-coded credentials; aisec raises credentials held by tools (TM143)"),
    "DO01": _sid([D], "TM203 TM123 TM136 TM212 TM219", gap=_DOS),
    "DO02": _sid([D], "TM203 TM123 TM136 TM212 TM219", gap=_DOS),
    "DO03": _sid([D], "", na="xml", gap=_XML),
    "DO04": _sid([D], "", na="xml", gap=_XML),
    "DO05": _sid([D], "", na="xml", gap=_XML),
    "HA01": _sid([I, T], "TM202 TM209", gap="path traversal; aisec's schema has no file-path handling"),
    "HA02": _sid([I], "", gap="reverse engineering with physical access; aisec's schema has no physical-access property"),
    "HA03": _sid([I], "TM216", gap="web application fingerprinting; " + _RECON),
    "HA04": _sid([I], "", gap="reverse engineering with physical access; aisec's schema has no physical-access property"),
    "DR01": _sid([I], "TM252 TM250 TM253", gap=_CHAN),
    "LLM01": _sid([T, E], "TM130 TM160", gap="direct prompt injection"),
    "LLM02": _sid([T, E], "TM131 TM131@agent TM150@upstream TM160", gap="indirect prompt injection"),
    "LLM03": _sid([I], "TM137", gap="data sent to a hosted model"),
    "LLM04": _sid([T], "TM110@upstream TM112@upstream", gap="training-data poisoning"),
    "LLM05": _sid([E], "TM140@agent TM143@tools TM144@tools", gap="excessive agency"),
    "LLM06": _sid([E], "TM135 TM142@tools", gap="model output executed as code"),
    "LLM07": _sid([T, E], "TM130 TM160", gap="jailbreaking"),
    "LLM08": _sid([I], "TM160 TM132 TM151@upstream", gap="sensitive data in replies"),
    "LLM09": _sid([E, T], "TM213@tools", gap="untrusted tool launch configuration (MCP-style servers started from configuration); aisec raises unprotected configuration and launch settings on the agent's tools (TM213)"),
}


def _protocols(system, eid):
    return sorted({(f.get("protocol") or "none") for f in system.inflows(eid) + system.outflows(eid)}) or ["none"]


def na_browser(system, target):
    ins = system.inflows(target)
    for f in ins:
        src = system.elements[f["from"]]
        # `human: false` marks a machine client (the payment gateway); the models leave it unset on people.
        if src["kind"] == "actor" and src.get("human") is not False and (f.get("protocol") or "") in ("http", "https"):
            return None
    desc = ", ".join(f"{f['from']} ({f.get('protocol') or 'no protocol'})" for f in ins) or "none"
    return f"serves no browser: no person reaches it over HTTP(S) (inbound flows: {desc})"


def na_xml(system, target):
    return ("no XML: no pytm Data has format XML (pytm's own XML-payload threats AC04, DO03, DO04, CR07 key on it and "
            "stay silent); the XML-parser threats fire on pytm's usesXMLParser False")


def na_soap(system, target):
    return f"no SOAP: its flows use {', '.join(_protocols(system, target))}"


def na_ldap(system, target):
    if "ldap" in _protocols(system, target):
        return None
    return f"no LDAP: its flows use {', '.join(_protocols(system, target))} and the model has no directory"


def na_sql(system, target):
    if "sql" in _protocols(system, target):
        return None
    return f"no SQL: its flows use {', '.join(_protocols(system, target))}"


def na_mail(system, target):
    if {"imap", "smtp"} & set(_protocols(system, target)):
        return None
    return f"no IMAP/SMTP: its flows use {', '.join(_protocols(system, target))}"


NA_CHECKS = {"browser": na_browser, "xml": na_xml, "soap": na_soap, "ldap": na_ldap, "sql": na_sql, "mail": na_mail}
NA_TEXT = {
    "browser": "applies only to an element that serves a browser (one a person reaches over HTTP(S); `human: false` marks a machine client)",
    "xml": "applies only where XML is parsed; no pytm Data in the model has format XML",
    "soap": "applies only to SOAP endpoints", "ldap": "applies only where LDAP is used",
    "sql": "applies only to an element with a SQL flow", "mail": "applies only to IMAP/SMTP",
}


def related(system, target, scope):
    kind = system.kind(target)
    if scope == "same":
        return [target]
    if kind == "flow":
        f = system.flow_by_id[target]
        return {"sink": [f["to"]], "source": [f["from"]]}.get(scope, [])
    if scope == "inflow":
        return [f["id"] for f in system.inflows(target)]
    if scope == "source_actor":
        return sorted({f["from"] for f in system.inflows(target) if system.elements[f["from"]]["kind"] == "actor"})
    if scope == "agent":
        if kind == "tool":
            return [a for a, e in system.elements.items() if e["kind"] == "agent" and target in system.tools_of(a)]
        return system.agents_using(target) if kind == "llm" else []
    if scope == "tools":
        agents = [target] if kind == "agent" else system.agents_using(target) if kind == "llm" else []
        return sorted({t for a in agents for t in system.tools_of(a)})
    if scope == "upstream":
        return sorted(system.upstream(target))
    if scope == "models":
        up = system.upstream(target)
        return sorted(m for m, e in system.elements.items()
                      if e["kind"] == "model" and (m in up or e.get("registry") in up))
    raise ValueError(scope)


# --- the comparison -----------------------------------------------------------------------------------

def status_name(st):
    return st.get("status") if isinstance(st, dict) else str(st)


def classify(system, rules, aisec_by_key, finding):
    """One pytm finding: covered / not raised / not applicable, with the evidence or the reason."""
    sid, target = finding["sid"], finding["target"]
    entry = SIDS.get(sid)
    out = dict(finding)
    out["stride"] = entry["stride"] if entry else []
    if entry is None:
        out.update(outcome="not raised", why="no-mapping", reason=f"{sid} is not in this bench's mapping table")
        return out
    na = NA_CHECKS[entry["na"]](system, target) if entry["na"] else None
    candidates = [(rid, t, scope) for rid, scope in entry["aisec"] for t in related(system, target, scope)]
    hits = [(rid, t, scope) for rid, t, scope in candidates if (rid, t) in aisec_by_key]
    if na is not None:
        out.update(outcome="not applicable", why=entry["na"], reason=na,
                   aisec_anyway=[f"{rid}@{t}" for rid, t, _ in hits])
        return out
    if hits:
        same = any(scope == "same" for _, _, scope in hits)
        out.update(outcome="covered", why="same target" if same else "related target",
                   aisec=[{"rule": rid, "target": t, "scope": scope, "status": status_name(aisec_by_key[(rid, t)]["status"])}
                          for rid, t, scope in hits])
        out["aisec_mitigated_only"] = all(h["status"] == "mitigated" for h in out["aisec"])
        return out
    fitting = [(rid, t) for rid, t, _ in candidates if rule_applies(rules[rid], system, t)]
    if fitting:
        # "control declared": some mapped rule fails only on control properties (the model states the
        # control aisec checks for); otherwise the element or flow is outside the rule's scope (inside a
        # boundary, not exposed, no sensitive data, ...).
        declared = any(failed_conditions(rules[rid], system, t)
                       and all(k in CONTROL_KEYS for k, _, _ in failed_conditions(rules[rid], system, t))
                       for rid, t in fitting)
        out.update(outcome="not raised", why="control declared" if declared else "outside rule scope",
                   reason="; ".join(why_not(rules[rid], system, t) for rid, t in fitting[:4])
                   + (f"; (+{len(fitting) - 4} more)" if len(fitting) > 4 else ""),
                   gap=entry["gap"])
    else:
        kind = system.kind(target)
        names = ", ".join(rid for rid, _ in entry["aisec"]) or "none"
        out.update(outcome="not raised", why="no aisec rule",
                   reason=f"no aisec rule covers this concern on a {kind} (mapped rules: {names})", gap=entry["gap"])
    return out


def timed(cmd, runs, cwd):
    times = []
    for i in range(runs + 1):
        t0 = time.perf_counter()
        p = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        dt = time.perf_counter() - t0
        if p.returncode != 0:
            raise RuntimeError(f"{shlex.join(cmd)} exited {p.returncode}: {p.stderr.decode(errors='replace')[-2000:]}")
        if i:  # the first run is a warm-up (page cache, .pyc)
            times.append(dt)
    return times, p.stdout


def run_aisec(aisec, path):
    cmd = [aisec, "threat-model", path, "--format", "json", "--exit-zero"]
    p = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{shlex.join(cmd)} exited {p.returncode}: {p.stderr[-2000:]}")
    return cmd, json.loads(p.stdout)


def pytm_python(venv):
    py = Path(venv) / "bin" / "python"
    if not py.exists():
        sys.exit(f"no pytm venv at {venv}: run bench/install_pytm.sh first (or set PYTM_VENV / --venv)")
    return str(py)


def median(xs):
    return statistics.median(xs) if xs else None


def compare(args):
    rules = load_rules()
    py = pytm_python(args.venv)
    aisec = args.aisec
    aisec_version = subprocess.run([aisec, "--version"], capture_output=True, text=True).stdout.strip()
    paths = [p for _, p in SYSTEMS]

    worker_cmd = [py, str(Path(__file__).resolve()), "--pytm-worker", "--runs", str(args.runs), *paths]
    print(f"pytm: {shlex.join(worker_cmd)}", file=sys.stderr)
    w = subprocess.run(worker_cmd, cwd=REPO, capture_output=True, text=True)
    if w.returncode != 0:
        sys.exit(f"the pytm worker failed:\n{w.stderr[-4000:]}")
    pt = json.loads(w.stdout)

    import_times, _ = timed([py, "-c", "import pytm"], args.runs, REPO)
    result = {
        "versions": {
            "aisec": aisec_version,
            "pytm": pt["pytm_version"],
            "pydantic": pt["pydantic_version"],
            "python_pytm_venv": pt["python"],
            "python_driver": sys.version.split()[0],
        },
        "machine": {"platform": sys.platform, "cpus": os.cpu_count(), "uname": " ".join(os.uname()),
                    "loadavg_at_start": os.getloadavg()},
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "runs": args.runs,
        "commands": {
            "rerun": "bench/install_pytm.sh && python3 bench/threatmodel_compare.py --aisec " + aisec,
            "pytm_worker": shlex.join(worker_cmd),
            "pytm_import_only": shlex.join([py, "-c", "import pytm"]),
        },
        "pytm_import_s": {"runs": import_times, "median": median(import_times)},
        "translation": {"kinds": PYTM_CLASS, "notes": KIND_NOTES, "unmapped": UNMAPPED, "data_classes": DATA_CLASSES},
        "mapping": {sid: {"stride": e["stride"], "aisec": [f"{r}@{s}" if s != "same" else r for r, s in e["aisec"]],
                          "na": e["na"], "gap": e["gap"]} for sid, e in SIDS.items()},
        "systems": {},
    }

    for key, path in SYSTEMS:
        system = System(REPO / path)
        cmd, report = run_aisec(aisec, path)
        tm = report["metrics"]["threat_model"]
        threats = tm["threat_list"]
        aisec_by_key = {(t["rule"], t["target"]): t for t in threats}
        checks = {
            "yaml_matches_aisec_counts": (len(system.elements), len(system.flows), len(system.boundaries))
            == (tm["elements"], tm["flows"], tm["boundaries"]),
            "rule_mirror_matches_aisec": predicted_threats(rules, system) == set(aisec_by_key),
        }
        if not all(checks.values()):
            print(f"warning: {key}: consistency check failed: {checks}", file=sys.stderr)
        ps = pt["systems"][path]
        findings = [classify(system, rules, aisec_by_key, f) for f in ps["findings"]]

        used = {(h["rule"], h["target"]) for f in findings if f["outcome"] == "covered" for h in f["aisec"]}
        mapped_rules = {r for e in SIDS.values() for r, _ in e["aisec"]}
        fired = {f["sid"] for f in findings}

        def pytm_class(x):
            return "Dataflow" if system.kind(x) == "flow" else PYTM_CLASS[system.kind(x)]

        def would_cover(rule, target):
            """The (SID, pytm target) pairs whose pytm finding this aisec threat would cover."""
            out = []
            everything = list(system.elements) + [f["id"] for f in system.flows]
            for sid, e in SIDS.items():
                targets = set(pt["library"].get(sid, []))
                for r, scope in e["aisec"]:
                    if r != rule:
                        continue
                    for y in everything:
                        if pytm_class(y) in targets and target in related(system, y, scope):
                            out.append(f"{sid}@{y}")
            return sorted(set(out))
        aisec_only = []
        for t in threats:
            if (t["rule"], t["target"]) in used:
                continue
            aisec_only.append({
                "rule": t["rule"], "title": t["title"], "target": t["target"], "target_kind": t["target_kind"],
                "status": status_name(t["status"]), "stride": t["stride"], "atlas": t["atlas"],
                "owasp_llm": t.get("owasp_llm", []), "score": t["score"], "ai": t["rule"] < "TM200",
                "pytm_has_a_threat_for_it": t["rule"] in mapped_rules,
                "pytm_threats_for_it": sorted(sid for sid, e in SIDS.items() if any(r == t["rule"] for r, _ in e["aisec"])),
                "pytm_threats_that_would_map_here": would_cover(t["rule"], t["target"]),
            })

        a_times, _ = timed(cmd, args.runs, REPO)
        once = [py, "-c", f"import sys; sys.path.insert(0, {json.dumps(str(HERE))}); import threatmodel_compare as t; "
                          f"t.pytm_once({json.dumps(path)})"]
        p_times, p_out = timed(once, args.runs, REPO)
        if int(p_out.decode().strip()) != len(findings):
            print(f"warning: {key}: the python -c run found {p_out.decode().strip()} pytm findings, the worker {len(findings)}",
                  file=sys.stderr)

        def count(pred):
            return sum(1 for f in findings if pred(f))

        applicable = count(lambda f: f["outcome"] != "not applicable")
        covered = count(lambda f: f["outcome"] == "covered")
        by_status = {}
        for t in threats:
            by_status[status_name(t["status"])] = by_status.get(status_name(t["status"]), 0) + 1
        pytm_stride, aisec_stride = {}, {}
        for f in findings:
            for s in f["stride"]:
                pytm_stride[s] = pytm_stride.get(s, 0) + 1
        for t in threats:
            for s in t["stride"]:
                aisec_stride[s] = aisec_stride.get(s, 0) + 1
        result["systems"][key] = {
            "path": path,
            "system": system.name,
            "elements": len(system.elements),
            "flows": len(system.flows),
            "checks": checks,
            "pytm_classes": ps["pytm_classes"],
            "aisec_command": shlex.join(cmd),
            "pytm_once_command": shlex.join(once),
            "counts": {
                "pytm_findings": len(findings),
                "pytm_findings_on_flows": count(lambda f: system.kind(f["target"]) == "flow"),
                "pytm_distinct_threats": len({f["sid"] for f in findings}),
                "pytm_library_threats": ps["threat_library_size"],
                "aisec_threats": len(threats),
                "aisec_by_status": by_status,
                "aisec_rules_loaded": len(rules),
                "pytm_not_applicable": len(findings) - applicable,
                "pytm_applicable": applicable,
                "covered": covered,
                "covered_same_target": count(lambda f: f["outcome"] == "covered" and f["why"] == "same target"),
                "covered_related_target": count(lambda f: f["outcome"] == "covered" and f["why"] == "related target"),
                "covered_only_as_mitigated": count(lambda f: f["outcome"] == "covered" and f["aisec_mitigated_only"]),
                "not_raised": count(lambda f: f["outcome"] == "not raised"),
                "not_raised_no_rule": count(lambda f: f.get("why") == "no aisec rule"),
                "not_raised_control_declared": count(lambda f: f.get("why") == "control declared"),
                "not_raised_outside_rule_scope": count(lambda f: f.get("why") == "outside rule scope"),
                "not_applicable_but_aisec_raises": count(lambda f: f.get("aisec_anyway")),
                "aisec_only": len(aisec_only),
                "aisec_only_ai": sum(1 for a in aisec_only if a["ai"]),
            },
            "stride": {"pytm": pytm_stride, "aisec": aisec_stride},
            "pytm_threats": ps["threats"],
            "pytm_findings": findings,
            "aisec_threats": [{"rule": t["rule"], "title": t["title"], "target": t["target"], "target_kind": t["target_kind"],
                               "status": status_name(t["status"]), "stride": t["stride"], "atlas": t["atlas"],
                               "score": t["score"]} for t in threats],
            "aisec_only": aisec_only,
            "timings_s": {
                "aisec_process": {"runs": a_times, "median": median(a_times)},
                "aisec_reported_duration_ms": report.get("duration_ms"),
                "pytm_in_process": {"runs": ps["in_process_s"], "median": median(ps["in_process_s"])},
                "pytm_process": {"runs": p_times, "median": median(p_times)},
            },
        }
        c = result["systems"][key]["counts"]
        print(f"{key}: pytm {c['pytm_findings']} findings ({c['pytm_applicable']} applicable, {c['covered']} covered by aisec); "
              f"aisec {c['aisec_threats']} threats ({c['aisec_only']} without a pytm counterpart)", file=sys.stderr)

    tot = {}
    for s in result["systems"].values():
        for k, v in s["counts"].items():
            if isinstance(v, int) and k not in ("pytm_library_threats", "aisec_rules_loaded", "pytm_distinct_threats"):
                tot[k] = tot.get(k, 0) + v
    result["totals"] = tot
    result["machine"]["loadavg_at_end"] = os.getloadavg()
    return result


# --- the report -----------------------------------------------------------------------------------------

def _ms(s):
    return "-" if s is None else f"{s * 1000:.1f}"


def _pct(a, b):
    return "-" if not b else f"{100 * a / b:.0f}%"


def _cell(text):
    return str(text).replace("|", "\\|")


def markdown(res):
    v = res["versions"]
    L = []
    add = L.append
    add("# `aisec threat-model` and OWASP pytm on the same three systems")
    add("")
    add(f"Written by `bench/threatmodel_compare.py` on {res['date_utc']} ({res['machine']['cpus']} CPUs, "
        f"{res['machine']['uname']}), {res['runs']} timed runs per measure. Rerun with:")
    add("")
    add("```sh")
    add(res["commands"]["rerun"])
    add("```")
    add("")
    add("## Versions")
    add("")
    add(f"- aisec: `{v['aisec']}` (threat rules TM100-TM253 from `crates/aisec-threatmodel/rules/*.toml`, "
        f"{next(iter(res['systems'].values()))['counts']['aisec_rules_loaded']} rules)")
    add(f"- pytm: {v['pytm']} (pydantic {v['pydantic']}, Python {v['python_pytm_venv']}), its built-in threat library "
        f"(`pytm/threatlib/threats.json`, {next(iter(res['systems'].values()))['counts']['pytm_library_threats']} "
        "active threats), pinned in `bench/requirements-pytm.txt`")
    add(f"- driver: Python {v['python_driver']} (stdlib only)")
    add("")
    add("## Commands")
    add("")
    for key, s in res["systems"].items():
        add(f"- {key}, aisec: `{s['aisec_command']}`")
    add(f"- pytm, findings and in-process timings (all three systems): `{res['commands']['pytm_worker']}`")
    first = next(iter(res["systems"].values()))
    add(f"- pytm, whole process, per system: `{first['pytm_once_command']}`")
    add(f"- pytm import alone: `{res['commands']['pytm_import_only']}`")
    add("")
    add("## How each system becomes a pytm model")
    add("")
    add("The script reads each YAML model and builds the pytm model in code (`build_pytm`): one `Boundary` per "
        "boundary, one element per element, one `Dataflow` per flow, one `Data` per data class. pytm 1.4.0 has "
        "`LLM` and `Agent` classes; our other AI kinds become the nearest classic class.")
    add("")
    add("| our kind | pytm element and attributes |")
    add("|---|---|")
    for kind, note in res["translation"]["notes"].items():
        add(f"| {kind} | {_cell(note)} |")
    add("")
    add("Our properties with no pytm counterpart (they change nothing on the pytm side): " + "; ".join(
        f"{k}: {', '.join(p)}" for k, p in res["translation"]["unmapped"].items()) + ".")
    add("")
    add("Data classes as pytm `Data` (classification, isPII, isCredentials): " + ", ".join(
        f"{k} ({c}{', PII' if p else ''}{', credentials' if cr else ''})" for k, (c, p, cr) in res["translation"]["data_classes"].items()) + ".")
    add("")
    add("Other choices, each visible in `build_pytm` / `run_pytm`:")
    add("")
    add("- pytm runs as its CLI does: `tm.check()` then `tm.resolve()`, and the findings are `tm.findings`. pytm 1.4.0's "
        "`check()` copies the sink's default `protocol` and `controls.isEncrypted` onto every forward flow, replacing "
        "the flow's own (before the pydantic rewrite a value set on the flow was write-once and won); our models "
        "state both per flow, so they are set back on each flow between `check()` and `resolve()`.")
    add("- `maxClassification`: our schema has no per-element clearance, so each element and flow is cleared for the "
        "most sensitive class the model itself sends through it. Left at pytm's default (UNKNOWN), DS06 \"Data Leak\" "
        "would fire on every flow that carries classified data.")
    per = {}
    for s in res["systems"].values():
        for f in s["pytm_findings"]:
            if f["pytm_class"] in ("Process", "Server"):
                per[(s["path"], f["target"])] = per.get((s["path"], f["target"]), 0) + 1
    add("- Every other pytm attribute and control keeps pytm's default (all controls False; `Process.codeType` "
        "\"Unmanaged\"; `LLM.hasSystemPrompt` True; `Dataflow.usesVPN` False). pytm's conditions fire on many of these "
        f"defaults, which is why it raises {min(per.values())}-{max(per.values())} threats on every Process and Server "
        "element here.")
    add("- pytm's threat library has no STRIDE field: the STRIDE categories of pytm threats here are this bench's "
        "reading of each threat (its CAPEC pattern and description), in the `SIDS` table.")
    add("")
    add("## How a pytm finding is judged")
    add("")
    add("`SIDS` in the script maps each of pytm's threats (all of them, not only those that fire) to the aisec rules "
        "that cover the same concern, each on the same element or flow or on a named related one (the agent that "
        "calls a tool, the flows into a process, ...). A finding is:")
    add("")
    add("- **covered** when aisec reports one of those rules on that element (same target) or on the related one "
        "(related target), whatever the aisec status (open, mitigated, accepted): aisec considered the threat there;")
    add("- **not raised by aisec** otherwise, for one of three reasons: *no aisec rule* covers the concern for that "
        "kind of element; *control declared*: a mapped aisec rule applies there but the model states the control it "
        "checks (the flow is encrypted, the process validates input, ...), while pytm's condition asks for more or "
        "other controls; *outside rule scope*: a mapped aisec rule applies to that kind but not there (the flow stays "
        "inside one boundary, the process receives nothing from an untrusted element, the flow carries no sensitive "
        "data). The unmet conditions come from a mirror of aisec's rule conditions in the script, which predicts "
        "exactly the threats the binary reports (checked below);")
    add("- **not applicable** only when a check on the model gives a concrete reason: " + "; ".join(
        f"`{k}`: {t}" for k, t in NA_TEXT.items()) + ".")
    add("")

    add("## Counts per system")
    add("")
    add("| system | elements / flows | pytm findings (on flows) | distinct pytm threats | not applicable | applicable | "
        "covered by aisec: same target + related | of which aisec has only as mitigated | not raised: no aisec rule + "
        "control declared + outside rule scope | aisec threats | aisec threats with no pytm finding (AI rules) |")
    add("|---|---|---|---|---|---|---|---|---|---|---|")
    for key, s in res["systems"].items():
        c = s["counts"]
        st = ", ".join(f"{n} {k}" for k, n in sorted(c["aisec_by_status"].items()))
        add(f"| {key} ({s['system']}) | {s['elements']} / {s['flows']} | {c['pytm_findings']} ({c['pytm_findings_on_flows']}) | "
            f"{c['pytm_distinct_threats']} | {c['pytm_not_applicable']} | {c['pytm_applicable']} | "
            f"{c['covered']} ({_pct(c['covered'], c['pytm_applicable'])}): {c['covered_same_target']} + {c['covered_related_target']} | "
            f"{c['covered_only_as_mitigated']} | {c['not_raised']}: {c['not_raised_no_rule']} + {c['not_raised_control_declared']} + "
            f"{c['not_raised_outside_rule_scope']} | "
            f"{c['aisec_threats']} ({st}) | {c['aisec_only']} ({c['aisec_only_ai']}) |")
    t = res["totals"]
    add(f"| **total** | | {t['pytm_findings']} ({t['pytm_findings_on_flows']}) | | {t['pytm_not_applicable']} | "
        f"{t['pytm_applicable']} | {t['covered']} ({_pct(t['covered'], t['pytm_applicable'])}): {t['covered_same_target']} + "
        f"{t['covered_related_target']} | {t['covered_only_as_mitigated']} | {t['not_raised']}: {t['not_raised_no_rule']} + "
        f"{t['not_raised_control_declared']} + {t['not_raised_outside_rule_scope']} | {t['aisec_threats']} | "
        f"{t['aisec_only']} ({t['aisec_only_ai']}) |")
    add("")
    add(f"Coverage is covered / applicable. {t['not_applicable_but_aisec_raises']} findings judged not applicable had an "
        "aisec threat on the mapped target anyway.")
    add("")
    add("By STRIDE category (a threat counts once per category it carries; pytm's categories are this bench's):")
    add("")
    cats = [S, T, R, I, D, E]
    add("| system | tool | " + " | ".join(cats) + " |")
    add("|---|---|" + "---|" * len(cats))
    for key, s in res["systems"].items():
        for tool in ("pytm", "aisec"):
            add(f"| {key} | {tool} | " + " | ".join(str(s["stride"][tool].get(c, 0)) for c in cats) + " |")
    add("")

    # The mapping table, over the threats that fired.
    rows = {}
    names = {}
    for key, s in res["systems"].items():
        names.update({sid: th["name"] for sid, th in s["pytm_threats"].items()})
        for f in s["pytm_findings"]:
            r = rows.setdefault(f["sid"], {"n": 0, "covered": 0, "not raised": 0, "not applicable": 0, "systems": set()})
            r["n"] += 1
            r[f["outcome"]] += 1
            r["systems"].add(key)
    add("## Mapping table (the pytm threats that fired)")
    add("")
    add("`@scope` marks a related target (see the script's `SIDS` table). The mapping of all of pytm's threats, "
        "including those that fired nowhere here, is in the JSON (`mapping`).")
    add("")
    add("| pytm SID | pytm threat | STRIDE (bench) | aisec rules | findings | covered | not raised | n/a |")
    add("|---|---|---|---|---|---|---|---|")
    for sid in sorted(rows, key=lambda x: (re.sub(r"\d", "", x), int(re.sub(r"\D", "", x)))):
        m = res["mapping"][sid]
        r = rows[sid]
        add(f"| {sid} | {_cell(names.get(sid, ''))} | {', '.join(m['stride'])} | {' '.join(m['aisec']) or '-'} | {r['n']} | "
            f"{r['covered']} | {r['not raised']} | {r['not applicable']} |")
    add("")

    add("## pytm findings that aisec does not raise")
    add("")
    add("Per pytm threat: what aisec lacks, then per system the targets, grouped by the reason (for *control "
        "declared* and *outside rule scope*, the mapped aisec rules' unmet conditions).")
    add("")
    for sid in sorted(rows, key=lambda x: (re.sub(r"\d", "", x), int(re.sub(r"\D", "", x)))):
        misses = [(k, f) for k, s in res["systems"].items() for f in s["pytm_findings"]
                  if f["sid"] == sid and f["outcome"] == "not raised"]
        if not misses:
            continue
        add(f"### {sid} {names.get(sid, '')} ({len(misses)} findings)")
        add("")
        add(f"aisec: {res['mapping'][sid]['gap']}.")
        add("")
        groups = {}
        for k, f in misses:
            reason = f["reason"].replace(f" on {f['target']}:", ":")
            groups.setdefault((k, f["why"], reason), []).append(f["target"])
        for (k, why, reason), targets in groups.items():
            add(f"- {k}: {', '.join(targets)} ({why}: {reason})")
        add("")

    add("## pytm findings judged not applicable")
    add("")
    na = {}
    for k, s in res["systems"].items():
        for f in s["pytm_findings"]:
            if f["outcome"] == "not applicable":
                na.setdefault((f["sid"], f["reason"]), []).append(f"{k}:{f['target']}")
    for (sid, reason), targets in sorted(na.items()):
        add(f"- {sid} {names.get(sid, '')}: {', '.join(targets)}: {reason}")
    add("")

    add("## aisec threats with no pytm finding")
    add("")
    add("aisec threats that no pytm finding maps to on the same or a related target. The last column lists the pytm "
        "threats that would have mapped to this threat had pytm raised them (`SID@pytm target`; none fired): "
        "\"none\" means pytm 1.4.0's library has no threat for the concern on any element it could attach to here.")
    add("")
    add("| system | rule | threat | target | status | STRIDE | ATLAS | pytm threats that would map here |")
    add("|---|---|---|---|---|---|---|---|")
    for k, s in res["systems"].items():
        for a in s["aisec_only"]:
            sids = ", ".join(a["pytm_threats_that_would_map_here"]) or "none"
            add(f"| {k} | {a['rule']} | {_cell(a['title'])} | {a['target']} ({a['target_kind']}) | {a['status']} | "
                f"{', '.join(a['stride'])} | {', '.join(a['atlas']) or '-'} | {sids} |")
    add("")

    add("## Timings")
    add("")
    la, lb = res["machine"]["loadavg_at_start"], res["machine"]["loadavg_at_end"]
    add(f"Median of {res['runs']} runs after one untimed warm-up, milliseconds, on {res['machine']['cpus']} CPUs with "
        f"load average {la[0]:.2f} at the start and {lb[0]:.2f} at the end (other work on the machine shows up in "
        "both tools' times). aisec runs as a whole process and "
        "writes its full JSON report (threats, ATLAS coverage matrix, data-flow diagram); pytm in-process is build "
        "model + `check()` + `resolve()` in an interpreter that has already imported pytm and run once; pytm whole "
        "process is `python -c` doing the same from a cold interpreter (start-up, importing pytm and pydantic, "
        "loading the threat library).")
    add("")
    add("| system | aisec process | aisec's own duration_ms | pytm in-process | pytm process | pytm in-process / aisec process | pytm process / aisec process |")
    add("|---|---|---|---|---|---|---|")
    for k, s in res["systems"].items():
        tm = s["timings_s"]
        a, pi, pp = tm["aisec_process"]["median"], tm["pytm_in_process"]["median"], tm["pytm_process"]["median"]
        add(f"| {k} | {_ms(a)} | {tm['aisec_reported_duration_ms']} | {_ms(pi)} | {_ms(pp)} | {pi / a:.1f}x | {pp / a:.1f}x |")
    add("")
    add(f"`python -c \"import pytm\"` alone: {_ms(res['pytm_import_s']['median'])} ms (median).")
    add("")
    add("## Consistency checks")
    add("")
    for k, s in res["systems"].items():
        add(f"- {k}: " + ", ".join(f"{n}: {'ok' if ok else 'FAILED'}" for n, ok in s["checks"].items()))
    add("")
    return "\n".join(L)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--aisec", default="target/release/aisec", help="the aisec binary (default target/release/aisec)")
    ap.add_argument("--venv", default=os.environ.get("PYTM_VENV", "/work/venv-pytm"),
                    help="the pytm venv from bench/install_pytm.sh (default $PYTM_VENV or /work/venv-pytm)")
    ap.add_argument("--runs", type=int, default=5, help="timed runs per measure (median; default 5)")
    ap.add_argument("--json", default="bench/results/threatmodel-pytm.json")
    ap.add_argument("--report", default="bench/results/threatmodel-pytm.txt")
    ap.add_argument("--pytm-worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("paths", nargs="*", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.pytm_worker:
        pytm_worker(args.paths, args.runs)
        return
    aisec = Path(args.aisec).resolve()
    if not aisec.is_file():
        sys.exit(f"no aisec binary at {args.aisec}: build it with `cargo build --release -p aisec`")
    args.aisec = os.path.relpath(aisec, REPO) if aisec.is_relative_to(REPO) else str(aisec)
    res = compare(args)
    for out, text in ((args.json, json.dumps(res, indent=1, sort_keys=False) + "\n"), (args.report, markdown(res))):
        p = Path(out)
        if not p.is_absolute():
            p = Path.cwd() / p
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
        print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
