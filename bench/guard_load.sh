#!/usr/bin/env bash
# Latency and load of `aisec guard` on loopback, driven by wrk.
#
#   bench/guard_load.sh                  # full run (about 10 minutes, plus a one-time classifier
#                                        # training on the first run); writes bench/results/guard-latency.{txt,json}
#   bench/guard_load.sh --quick          # 3 s runs, 10 s load, 40 prompts; results to /tmp/guard-load-quick
#   SETS="none heuristics" bench/guard_load.sh --no-load
#
# A stub OpenAI-compatible upstream (bench/guard_stub_upstream.py) answers every chat request with
# "ok " + sha256(last user message)[:16]; wrk's script (bench/guard/chat.lua) checks every reply
# for that marker. For each prompt size and scanner set it runs wrk against the stub directly and
# through the guard, at 1 and 16 connections; then one sustained load through the guard (set
# `recommended`, 1,000 characters, 32 connections), which must show no socket error, no non-200
# reply and no mismatch; then `aisec guard check` times the engine alone on distinct prompts.
#
# Scanner sets: none (bench/guard/none.toml), heuristics (bench/guard/heuristics.toml: injection
# patterns + invisible characters), recommended (no --policy: every pattern scanner of the
# recommended policy, no classifier loaded), classifier (the recommended policy plus
# `--classifier auto`; skipped with a note when the classifier cannot be trained or loaded).
#
# Environment: AISEC (default target/debug/aisec), DURATION (10s), LOAD_DURATION (60s),
# LOAD_CONNS (32), THREADS (guard --threads, 8), SIZES ("1000 10000"), CONNS ("1 16"),
# SETS ("none heuristics recommended classifier"), CHECK_PROMPTS (200), CHECK_SOURCES ("prose
# docs": the prompts `guard check` times, our prose and windows of this machine's licence texts
# and READMEs, see bench/guard/load_helper.py), RESULTS_DIR
# (bench/results), CLASSIFIER_TIMEOUT (seconds for the one-time training, 2400), PROFILE_NOTE.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
HELPER="$HERE/guard/load_helper.py"
LUA="$HERE/guard/chat.lua"

QUICK=0
NO_LOAD=0
NO_CHECK=0
for arg in "$@"; do
    case "$arg" in
        --quick) QUICK=1 ;;
        --no-load) NO_LOAD=1 ;;
        --no-check) NO_CHECK=1 ;;
        -h|--help) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument $arg (see --help)" >&2; exit 2 ;;
    esac
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/guard-load.XXXXXX")
if [[ $QUICK == 1 ]]; then
    : "${DURATION:=3s}" "${LOAD_DURATION:=10s}" "${CHECK_PROMPTS:=40}" "${RESULTS_DIR:=${TMPDIR:-/tmp}/guard-load-quick}"
fi
AISEC=${AISEC:-$ROOT/target/debug/aisec}
DURATION=${DURATION:-10s}
LOAD_DURATION=${LOAD_DURATION:-60s}
LOAD_CONNS=${LOAD_CONNS:-32}
THREADS=${THREADS:-8}
SIZES=${SIZES:-1000 10000}
CONNS=${CONNS:-1 16}
SETS=${SETS:-none heuristics recommended classifier}
CHECK_PROMPTS=${CHECK_PROMPTS:-200}
CHECK_SOURCES=${CHECK_SOURCES:-prose docs}
CHECK_WARMUP=5
RESULTS_DIR=${RESULTS_DIR:-$HERE/results}
CLASSIFIER_TIMEOUT=${CLASSIFIER_TIMEOUT:-2400}
WRK_TIMEOUT=30s
RESULTS="$WORK/results.jsonl"
: > "$RESULTS"

command -v wrk >/dev/null || { echo "wrk is missing (Debian: apt-get install -y wrk)" >&2; exit 2; }
[[ -x $AISEC ]] || { echo "no aisec binary at $AISEC (set AISEC)" >&2; exit 2; }
mkdir -p "$RESULTS_DIR"

PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
note() {
    log "NOTE: $*"
    python3 -c 'import json,sys; print(json.dumps({"kind": "note", "text": sys.argv[1]}))' "$*" >> "$RESULTS"
}

# wait_listening PID FILE SECONDS: the URL from "listening on URL", the first line of FILE.
wait_listening() {
    local pid=$1 file=$2 secs=$3 i line
    for ((i = 0; i < secs * 10; i++)); do
        line=$(head -n1 "$file" 2>/dev/null || true)
        if [[ $line == "listening on "* ]]; then
            echo "${line#listening on }"
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# stop PID: ends one process this script started.
stop() {
    local p=$1 keep=() q
    kill "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
    for q in "${PIDS[@]}"; do [[ $q == "$p" ]] || keep+=("$q"); done
    PIDS=("${keep[@]+"${keep[@]}"}")
}

# start_guard SET SECONDS: starts the guard with SET's flags; sets GUARD_PID and GUARD_URL.
start_guard() {
    local set=$1 secs=$2 args=()
    case "$set" in
        none) args=(--policy "$HERE/guard/none.toml") ;;
        heuristics) args=(--policy "$HERE/guard/heuristics.toml") ;;
        recommended) args=() ;;
        classifier) args=(--classifier auto) ;;
        *) echo "unknown scanner set $set" >&2; return 1 ;;
    esac
    "$AISEC" --quiet guard --upstream "$STUB_URL/v1" --port 0 --threads "$THREADS" "${args[@]+"${args[@]}"}" \
        > "$WORK/guard.out" 2> "$WORK/guard.err" &
    GUARD_PID=$!
    PIDS+=("$GUARD_PID")
    if ! GUARD_URL=$(wait_listening "$GUARD_PID" "$WORK/guard.out" "$secs"); then
        log "the guard ($set) did not start:"
        tail -n 20 "$WORK/guard.err" >&2 || true
        stop "$GUARD_PID"
        return 1
    fi
}

# run_wrk LABEL_JSON URL CONNS DURATION BODY MARKER [close]: one wrk run, one result line.
run_wrk() {
    local label=$1 url=$2 conns=$3 dur=$4 body=$5 marker=$6 mode=${7:-}
    local threads=$((conns < 2 ? 1 : 2))
    wrk -t"$threads" -c"$conns" -d"$dur" --latency --timeout "$WRK_TIMEOUT" -s "$LUA" \
        "$url/v1/chat/completions" -- "$body" "$marker" $mode > "$WORK/wrk.out" 2>&1 || true
    if ! python3 "$HELPER" wrk --label "$label" < "$WORK/wrk.out" > "$WORK/wrk.json" 2> /dev/null; then
        note "wrk failed for $label: $(tail -n 3 "$WORK/wrk.out" | tr '\n' ' ' | cut -c1-300)"
        return 0
    fi
    cat "$WORK/wrk.json" >> "$RESULTS"
    python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
print("  %-7s %-12s %6s chars c=%-3s p50 %7.2f ms  p99 %7.2f ms  %7.0f req/s  non200 %d mismatch %d sockerr %d" % (
    r["target"], r.get("set", r.get("conn_mode", "")), r["chars"], r["conns"], r["latency_us"]["p50"] / 1e3,
    r["latency_us"]["p99"] / 1e3, r["rps"], r["non200"], r["mismatch"], r["socket_errors"]))' < "$WORK/wrk.json" >&2
}

# check_reply URL BODY MARKER: one request by curl, for a readable error before wrk runs.
check_reply() {
    local got
    got=$(curl -s -m 60 -H 'content-type: application/json' --data-binary @"$2" "$1/v1/chat/completions" || true)
    if [[ $got != *"$3"* ]]; then
        log "unexpected reply from $1: ${got:0:300}"
        return 1
    fi
}

# ---- the machine and the binary --------------------------------------------------------------
CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
WRK_VERSION=$(wrk -v 2>&1 | head -n1 | sed "s/ *Copyright.*//" || true)
AISEC_VERSION=$("$AISEC" --version 2>/dev/null || echo unknown)
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git -C "$ROOT" status --porcelain 2>/dev/null | head -n1) ]]; then COMMIT="$COMMIT + uncommitted changes"; fi
if [[ -z ${PROFILE_NOTE:-} ]]; then
    case "$AISEC" in
        */release/*) PROFILE_NOTE="release profile" ;;
        *) PROFILE_NOTE="dev profile (debug build): aisec-guard and aisec-llm at opt-level 2, candle and gemm at 2-3, other dependencies at opt-level 1, the aisec binary crate at 0" ;;
    esac
fi
HAS_CHECK=0
"$AISEC" guard check --help >/dev/null 2>&1 && HAS_CHECK=1

python3 - "$WORK/meta.json" <<EOF
import json, sys
json.dump({
    "date (UTC)": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
    "aisec": "$AISEC_VERSION, commit $COMMIT",
    "binary": "$AISEC",
    "build": "$PROFILE_NOTE",
    "machine": "$(nproc) CPUs ($CPU), $(uname -sr); wrk, the guard and the stub share them",
    "wrk": "$WRK_VERSION",
    "stub upstream": "bench/guard_stub_upstream.py (asyncio, keep-alive), Python $(python3 -c 'import platform; print(platform.python_version())')",
    "guard": "--threads $THREADS, --keep-alive 5 (the default), --stream-mode buffer, no audit log",
    "runs": "wrk -t2 (-t1 at 1 connection) -d$DURATION --latency --timeout $WRK_TIMEOUT per cell; sustained load -c$LOAD_CONNS -d$LOAD_DURATION",
    "prompts": "deterministic English prose (bench/guard/load_helper.py), exactly N characters, one user message",
}, open(sys.argv[1], "w"), indent=1)
EOF
log "aisec: $AISEC ($AISEC_VERSION); $PROFILE_NOTE"
log "machine: $(nproc) x $CPU; $WRK_VERSION"

# ---- inputs ----------------------------------------------------------------------------------
declare -A MARKER
for n in $SIZES; do
    MARKER[$n]=$(python3 "$HELPER" request --chars "$n" --seed 1 --out "$WORK/body-$n.json")
done

# ---- the stub --------------------------------------------------------------------------------
python3 "$HERE/guard_stub_upstream.py" --port 0 > "$WORK/stub.out" 2> "$WORK/stub.err" &
STUB_PID=$!
PIDS+=("$STUB_PID")
STUB_URL=$(wait_listening "$STUB_PID" "$WORK/stub.out" 10) || { cat "$WORK/stub.err" >&2; exit 1; }
log "stub upstream at $STUB_URL"
for n in $SIZES; do check_reply "$STUB_URL" "$WORK/body-$n.json" "${MARKER[$n]}"; done

# ---- the classifier, trained once before any timing ------------------------------------------
if [[ " $SETS " == *" classifier "* ]]; then
    log "preparing --classifier auto (trains into the cache on first use; up to ${CLASSIFIER_TIMEOUT}s)"
    t0=$(date +%s)
    ok=0
    if [[ $HAS_CHECK == 1 ]]; then
        python3 "$HELPER" prompts --chars 200 --count 1 --warmup 0 --out "$WORK/one.jsonl"
        timeout "$CLASSIFIER_TIMEOUT" "$AISEC" guard check --input "$WORK/one.jsonl" --classifier auto \
            > /dev/null 2> "$WORK/train.err" && ok=1
    else
        start_guard classifier "$CLASSIFIER_TIMEOUT" 2> "$WORK/train.err" && { ok=1; stop "$GUARD_PID"; }
    fi
    if [[ $ok == 1 ]]; then
        log "classifier ready ($(($(date +%s) - t0)) s)"
    else
        note "scanner set 'classifier' skipped: --classifier auto failed after $(($(date +%s) - t0)) s: $(tail -n 3 "$WORK/train.err" | tr '\n' ' ' | cut -c1-300)"
        SETS=$(echo " $SETS " | sed 's/ classifier / /; s/^ *//; s/ *$//')
    fi
fi

# ---- direct to the stub ----------------------------------------------------------------------
log "direct to the stub (keep-alive, then a new connection per request)"
for n in $SIZES; do
    for mode in keep-alive close; do
        for c in $CONNS; do
            run_wrk "{\"target\":\"direct\",\"conn_mode\":\"$mode\",\"chars\":$n,\"conns\":$c}" \
                "$STUB_URL" "$c" "$DURATION" "$WORK/body-$n.json" "${MARKER[$n]}" \
                "$([[ $mode == close ]] && echo close || true)"
        done
    done
done

# ---- through the guard -----------------------------------------------------------------------
for set in $SETS; do
    start_guard "$set" 300 || { note "scanner set '$set': the guard did not start"; continue; }
    log "guard ($set) at $GUARD_URL"
    for n in $SIZES; do
        check_reply "$GUARD_URL" "$WORK/body-$n.json" "${MARKER[$n]}" \
            || note "scanner set '$set', $n characters: the first reply lacked the marker"
        # Untimed warm-up: lazily built scanner tables, the upstream connection pool.
        wrk -t1 -c4 -d2s --timeout "$WRK_TIMEOUT" -s "$LUA" "$GUARD_URL/v1/chat/completions" \
            -- "$WORK/body-$n.json" "${MARKER[$n]}" > /dev/null 2>&1 || true
        for c in $CONNS; do
            run_wrk "{\"target\":\"guard\",\"set\":\"$set\",\"chars\":$n,\"conns\":$c}" \
                "$GUARD_URL" "$c" "$DURATION" "$WORK/body-$n.json" "${MARKER[$n]}"
        done
    done
    stop "$GUARD_PID"
done

# ---- sustained load --------------------------------------------------------------------------
LOAD_SIZE=$(echo "$SIZES" | awk '{print $1}')
if [[ $NO_LOAD == 0 ]]; then
    if start_guard recommended 300; then
        log "sustained load: $LOAD_DURATION, $LOAD_CONNS connections, recommended, $LOAD_SIZE characters"
        wrk -t1 -c4 -d2s --timeout "$WRK_TIMEOUT" -s "$LUA" "$GUARD_URL/v1/chat/completions" \
            -- "$WORK/body-$LOAD_SIZE.json" "${MARKER[$LOAD_SIZE]}" > /dev/null 2>&1 || true
        run_wrk "{\"target\":\"guard\",\"phase\":\"load\",\"set\":\"recommended\",\"chars\":$LOAD_SIZE,\"conns\":$LOAD_CONNS}" \
            "$GUARD_URL" "$LOAD_CONNS" "$LOAD_DURATION" "$WORK/body-$LOAD_SIZE.json" "${MARKER[$LOAD_SIZE]}"
        stop "$GUARD_PID"
    else
        note "sustained load skipped: the guard did not start"
    fi
fi

# ---- the engine alone: aisec guard check -----------------------------------------------------
if [[ $NO_CHECK == 0 ]]; then
    if [[ $HAS_CHECK == 0 ]]; then
        note "engine evaluation time skipped: this binary has no 'aisec guard check'"
    else
        for n in $SIZES; do
            for src in $CHECK_SOURCES; do
                python3 "$HELPER" prompts --chars "$n" --count "$CHECK_PROMPTS" --warmup "$CHECK_WARMUP" \
                    --source "$src" --out "$WORK/prompts-$src-$n.jsonl"
            done
        done
        for set in $SETS; do
            case "$set" in
                none) args=(--policy "$HERE/guard/none.toml") ;;
                heuristics) args=(--policy "$HERE/guard/heuristics.toml") ;;
                recommended) args=() ;;
                classifier) args=(--classifier auto) ;;
            esac
            for n in $SIZES; do
              for src in $CHECK_SOURCES; do
                log "guard check: $set, $src, $n characters, $CHECK_PROMPTS prompts"
                if "$AISEC" guard check --input "$WORK/prompts-$src-$n.jsonl" "${args[@]+"${args[@]}"}" \
                    > "$WORK/check.out" 2> "$WORK/check.err"; then
                    python3 "$HELPER" check --label "{\"set\":\"$set\",\"chars\":$n,\"source\":\"$src\"}" \
                        --warmup "$CHECK_WARMUP" < "$WORK/check.out" >> "$RESULTS"
                else
                    note "guard check ($set, $src, $n characters) failed: $(tail -n 2 "$WORK/check.err" | tr '\n' ' ' | cut -c1-300)"
                fi
              done
            done
        done
    fi
fi

# ---- the report ------------------------------------------------------------------------------
status=0
python3 "$HELPER" report --results "$RESULTS" --meta "$WORK/meta.json" \
    --txt "$RESULTS_DIR/guard-latency.txt" --json "$RESULTS_DIR/guard-latency.json" || status=$?
log "wrote $RESULTS_DIR/guard-latency.txt and .json"
exit "$status"
