# shellcheck shell=bash
# test_notify.sh -- edgewatch-notify (issue 8, docs/notify.md) against a real
# local HTTP receiver (http_receiver.py), the stack's Kafka and Valkey.
# Sourced by run.sh; uses its pass/fail/expect/wait_for/quietly/write_config
# and $NOTIFY.
#
# test_notify_config           the receiver's self-test; configuration errors
#                              exit 2 with one line naming the setting
# test_notify_each_rule        each rule's alert to Slack and stdout, once
# test_notify_routing          the route tree: severity with continue, project
#                              and rule globs, two-label matches, the default
# test_notify_grouping         group_wait, group_interval, group_by [], max_batch
# test_notify_repeat           repeat_interval, severity change
# test_notify_resolved         send_resolved per route
# test_notify_suppressed       suppressed_by dropped unless send_suppressed
# test_notify_500_then_recover retries with one Idempotency-Key, delivered once
# test_notify_dead_letter      a 503 receiver past dead_letter_after, a closed
#                              port, a 404 at once, malformed messages
# test_notify_kill_mid_delivery SIGKILL while a request hangs, restart
# test_notify_two_instances    two groups sharing Valkey, two members of a group
# test_notify_dry_run          renders, sends and commits nothing
# test_notify_avro             Avro alert events (framed, then bare) from
#                              `edgewatch replay --alerts-topic`
#
# Each test has its own receiver process and log, alerts topic (ntN-alerts),
# dead-letter topic (ntN-dlq), consumer group (ntN) and Valkey prefix
# (ewtN:), so no test sees another's offsets or dedup keys. Events come from
# alert_events.py (contract-complete, one template per rule). Checks on the
# receiver's log run in one Python process per step (nt_checks): Python
# starts slowly on a loaded machine.

NT_EVENTS=tests/integration/alert_events.py
NT_RECEIVER=tests/integration/http_receiver.py

# The Python side of the checks: the receiver's log, the alert events in a
# recorded request (webhook: the event or a batch), header lookup, and the
# @check registry that nt_checks runs.
NT_PY='import collections, json, os, sys, traceback
A = sys.argv[1:]
PFX = os.environ.get("NT_P", "")
def records(log, path=None, outcome=None):
    """The requests to PFX + path (every path under PFX when path is None)."""
    out = []
    for line in open(log):
        if not line.strip():
            continue
        r = json.loads(line)
        if path is None and not r["path"].startswith(PFX + "/"):
            continue
        if path is not None and r["path"] != PFX + path:
            continue
        if outcome is not None and r["outcome"] != outcome:
            continue
        out.append(r)
    return out
def events_of(r):
    b = r.get("body")
    if isinstance(b, dict) and isinstance(b.get("alerts"), list):
        return b["alerts"]
    if isinstance(b, dict) and "event_id" in b:
        return [b]
    return []
def delivered_ids(log, path):
    return sorted(e["event_id"] for r in records(log, path, "delivered") for e in events_of(r))
def header(r, name):
    for k, v in r["headers"].items():
        if k.lower() == name.lower():
            return v
    return None
def produced(path):
    return [json.loads(l) for l in open(path) if l.strip()]
def strings(x):
    if isinstance(x, str):
        yield x
    elif isinstance(x, dict):
        for v in x.values():
            yield from strings(v)
    elif isinstance(x, list):
        for v in x:
            yield from strings(v)
def dead_letters(path):
    out = []
    for line in open(path):
        if line.strip():
            m = json.loads(line)
            h = m.get("headers") or []
            m["h"] = dict(zip(h[::2], h[1::2]))
            out.append(m)
    return out
CHECKS = []
def check(name):
    def add(f):
        CHECKS.append((name, f))
        return f
    return add
def run_checks():
    for name, f in CHECKS:
        try:
            detail = f()
            print("PASS " + name + (" (%s)" % detail if detail else ""))
        except Exception:
            print("FAIL " + name + ":")
            for l in traceback.format_exc().strip().splitlines()[-3:]:
                print("    " + l[:600])
'

# nt_checks SCRIPT ARGS...: runs the @check functions of SCRIPT (NT_PY
# prepended, ARGS in A) in one Python process; each is one pass or fail.
nt_checks() {
    local script=$1 out line n=0
    shift
    out=$(NT_P=$NT_P python3 -c "$NT_PY
$script
run_checks()" "$@" 2>&1)
    while IFS= read -r line; do
        case $line in
            "PASS "*) pass "${line#PASS }"; n=$((n + 1)) ;;
            "FAIL "*) fail "${line#FAIL }"; n=$((n + 1)) ;;
            *) printf '%s\n' "$line" ;;
        esac
    done <<< "$out"
    [ $n -gt 0 ] || fail "nt_checks: no result (a Python error before the checks?)"
}

# ---- the receiver -------------------------------------------------------------

# One receiver serves every test (it starts slowly on a loaded machine);
# each test sets NT_P=/tN and uses paths under it, so that its requests,
# modes and checks are its own. nt_receiver_up starts the receiver unless it
# runs: NT_PORT, NT_LOG ($STACK_DIR/notify-receiver.jsonl), NT_RECV_PID.
# stack_down stops it.
nt_receiver_up() {
    if [ -n "${NT_RECV_PID:-}" ] && [ "${NT_LOG:-}" = "$STACK_DIR/notify-receiver.jsonl" ] &&
        kill -0 "$NT_RECV_PID" 2>/dev/null; then
        return 0
    fi
    local i
    NT_LOG=$STACK_DIR/notify-receiver.jsonl
    : > "$NT_LOG"
    python3 "$NT_RECEIVER" --log "$NT_LOG" > "$STACK_DIR/notify-receiver.port" 2> "$STACK_DIR/notify-receiver.err" &
    NT_RECV_PID=$!
    stack_track $NT_RECV_PID
    for ((i = 0; i < 200; i++)); do
        [ -s "$STACK_DIR/notify-receiver.port" ] && break
        sleep 0.1
    done
    NT_PORT=$(head -n 1 "$STACK_DIR/notify-receiver.port")
    [ -n "$NT_PORT" ] || { echo "    the test receiver did not start: $(cat "$STACK_DIR/notify-receiver.err")"; return 1; }
}

nt_mode() { # nt_mode PATH MODE (under $NT_P; modes: http_receiver.py)
    curl -sf -X POST --data "{\"path\": \"$NT_P$1\", \"mode\": \"$2\"}" "http://127.0.0.1:$NT_PORT/_control" > /dev/null
}

nt_inflight() { # a request under $NT_P is being answered right now
    curl -sf "http://127.0.0.1:$NT_PORT/_inflight" | grep -q "\"$NT_P/"
}

# The log's lines are json.dumps(sort_keys=True): '"outcome": "delivered"',
# '"path": "/x"', and webhook bodies hold '"event_id": "..."' once per alert.
nt_requests() { # nt_requests LOG PATH [OUTCOME]: number of requests to $NT_P$PATH
    grep -F "\"path\": \"$NT_P$2\"," "$1" | grep -cF "\"outcome\": \"${3:-}"
}
nt_requests_reach() { # nt_requests_reach N LOG PATH [OUTCOME]
    local n=$1
    shift
    [ "$(nt_requests "$@")" -ge "$n" ]
}
nt_delivered_reach() { # nt_delivered_reach N LOG PATH: N alert events delivered to $NT_P$PATH
    [ "$(grep -F "\"path\": \"$NT_P$3\"," "$2" | grep -F '"outcome": "delivered"' | grep -o '"event_id": "' | grep -c .)" \
        -ge "$1" ]
}
nt_all_reach() { # nt_all_reach N LOG: N requests under $NT_P
    [ "$(grep -cF "\"path\": \"$NT_P/" "$2")" -ge "$1" ]
}
# nt_sleep_until LOG SECONDS: sleeps until SECONDS after the first request under $NT_P
nt_sleep_until() {
    sleep "$(grep -F "\"path\": \"$NT_P/" "$1" | head -n 1 | python3 -c 'import json, sys, time
t = json.loads(sys.stdin.readline())["t_start"] + float(sys.argv[1]) - time.time()
print(max(t, 0))' "$2")"
}

# ---- config, events, notifiers ------------------------------------------------

# nt_config FILE N NOTIFY_JSON [GROUP] [RETRY_JSON]: the stack's kafka and
# valkey, prefix ewtN:, topics ntN-alerts / ntN-dlq, and the notify object's
# members with group_id GROUP (ntN) and retry RETRY_JSON (fast retries,
# dead_letter_after 30s).
nt_config() {
    local members=${3#*\{} retry=${5:-}
    members=${members%\}*}
    [ -n "$retry" ] || retry='{"initial": "200ms", "max": "1s", "dead_letter_after": "30s"}'
    cat > "$1" <<JSON
{
  "kafka": {"bootstrap.servers": "$KAFKA_BOOTSTRAP", "session.timeout.ms": "6000",
            "heartbeat.interval.ms": "1000"},
  "valkey": {"host": "127.0.0.1", "port": $VALKEY_PORT, "prefix": "ewt$2:"},
  "topics": {"alerts": "nt$2-alerts", "dlq": "nt$2-dlq"},
  "notify": {"group_id": "${4:-nt$2}", "retry": $retry,
    $members}
}
JSON
}

# Topics are created by their first message (4 partitions); a topic that a
# notifier subscribes to before anything is produced is created here.
nt_topic() { stack_kafka_ctl "topic-create $1 4" > /dev/null; return 0; } # nt_topic NAME

# nt_produce TOPIC OUT SPEC...: builds events (alert_events.py), appends them
# to OUT (JSON lines), produces them keyed by alert id.
nt_produce() {
    local topic=$1 out=$2 kv
    shift 2
    kv=$(python3 "$NT_EVENTS" --kv "$@") || return 1
    printf '%s\n' "$kv" | cut -f 2- >> "$out"
    printf '%s\n' "$kv" | kcat -P -b "$KAFKA_BOOTSTRAP" -t "$topic" -K '\t'
}

# nt_field FILE LINE FIELD: a field of the LINE-th event in FILE
nt_field() { sed -n "$2p" "$1" | grep -o "\"$3\":\"[^\"]*\"" | head -n 1 | cut -d'"' -f4; }

# nt_start NAME CFG [ARGS...]: starts a notifier (stdout NAME.out, stderr
# NAME.err in the config's directory); its pid in NT_PID.
nt_start() {
    local name=$1 cfg=$2 dir
    shift 2
    dir=$(dirname "$cfg")
    "$NOTIFY" -c "$cfg" "$@" > "$dir/$name.out" 2> "$dir/$name.err" &
    NT_PID=$!
    stack_track $NT_PID
}

nt_stop() { # nt_stop PID: SIGTERM and wait; returns the exit code
    kill -TERM "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}

# nt_uncommitted TOPIC GROUP [TOPIC GROUP...]: for each pair, the number of
# messages of TOPIC past GROUP's committed offsets, or "timeout"; space
# separated. It joins the group with kcat (in parallel for several pairs),
# so call it after the group's notifiers stopped, and do not reuse the group
# afterwards (the mock broker may keep kcat's member for its session, 6 s).
nt_uncommitted() {
    local i=0 pids=() out=()
    while [ $# -ge 2 ]; do
        (timeout 30 kcat -b "$KAFKA_BOOTSTRAP" -G "$2" -e -q -X auto.offset.reset=earliest \
            -X enable.auto.commit=false -X session.timeout.ms=6000 -X heartbeat.interval.ms=1000 \
            -f '%p:%o\n' "$1" > "$STACK_DIR/uncommitted.$2" 2>/dev/null || echo timeout > "$STACK_DIR/uncommitted.$2") &
        pids+=($!)
        out+=("$2")
        shift 2
    done
    wait "${pids[@]}"
    for ((i = 0; i < ${#out[@]}; i++)); do
        if grep -qx timeout "$STACK_DIR/uncommitted.${out[i]}"; then
            out[i]=timeout
        else
            out[i]=$(grep -c . "$STACK_DIR/uncommitted.${out[i]}")
        fi
    done
    echo "${out[*]}"
}

nt_dlq() { # nt_dlq TOPIC OUT: the dead letters as kcat JSON envelopes
    kcat -C -b "$KAFKA_BOOTSTRAP" -t "$1" -e -q -J > "$2" 2>/dev/null
}
nt_dlq_reach() { # nt_dlq_reach N TOPIC
    [ "$(kcat -C -b "$KAFKA_BOOTSTRAP" -t "$2" -e -q -f '%o\n' 2>/dev/null | grep -c .)" -ge "$1" ]
}

nt_valkey() { redis-cli -p "$VALKEY_PORT" --raw "$@"; }

nt_exits_with() { # nt_exits_with CODE TEXT CMD...: exit CODE, one stderr line mentioning TEXT
    local want=$1 text=$2 err rc
    shift 2
    err=$(timeout 10 "$@" 2>&1 >/dev/null)
    rc=$?
    [ "$rc" -eq "$want" ] && [ "$(printf '%s\n' "$err" | grep -c .)" -eq 1 ] && grep -qF -- "$text" <<< "$err"
}

# ---- tests --------------------------------------------------------------------

test_notify_config() {
    local d=$STACK_DIR/nt0
    mkdir -p "$d"
    expect "notify: the test receiver passes its self-test" quietly "$d/selftest.out" \
        python3 "$NT_RECEIVER" --selftest
    local -a cases=(
        'a route naming an unknown receiver|nosuch|{"receivers": {"a": {"type": "stdout"}}, "route": {"receivers": ["nosuch"]}}'
        'a bad duration|group_wait|{"receivers": {"a": {"type": "stdout"}}, "route": {"receivers": ["a"], "group_wait": "soon"}}'
        'an unknown receiver type|email|{"receivers": {"a": {"type": "email"}}, "route": {"receivers": ["a"]}}'
        'a slack receiver without url|url|{"receivers": {"a": {"type": "slack"}}, "route": {"receivers": ["a"]}}'
        'an unknown match label|colour|{"receivers": {"a": {"type": "stdout"}}, "route": {"receivers": ["a"], "routes": [{"match": {"colour": "red"}, "receivers": ["a"]}]}}'
        'a bad retry duration|dead_letter_after|{"receivers": {"a": {"type": "stdout"}}, "route": {"receivers": ["a"]}}|{"dead_letter_after": "-1s"}'
    )
    local c i=0 name text json retry
    for c in "${cases[@]}"; do
        IFS='|' read -r name text json retry <<< "$c"
        i=$((i + 1))
        nt_config "$d/bad$i.json" 0 "$json" "" "$retry"
        expect "notify config: $name exits 2 with one line naming '$text'" \
            nt_exits_with 2 "$text" "$NOTIFY" -c "$d/bad$i.json"
    done
}

# One alert of each of the 8 rules, each its own group, to a Slack receiver
# (a route with continue) and to stdout (the next route).
test_notify_each_rule() {
    local NT_P=/t1 d=$STACK_DIR/nt1 rules=(request_spike request_drop error_403_rate error_5xx_rate cache_hit_drop
        origin_latency cost_spike cost_drop)
    mkdir -p "$d"
    nt_receiver_up || { fail "notify each rule: the test receiver"; return; }
    nt_config "$d/cfg.json" 1 "{
      \"link_template\": \"https://grafana.example.com/d/edge?var-entity={entity_id}&from={window_start}\",
      \"receivers\": {\"slack\": {\"type\": \"slack\", \"url\": \"http://127.0.0.1:$NT_PORT$NT_P/slack\", \"timeout\": \"2s\",
                                 \"channel\": \"#edge-tests\", \"headers\": {\"X-Edgewatch-Test\": \"t1\"}},
                      \"log\": {\"type\": \"stdout\"}},
      \"route\": {\"receivers\": [\"log\"], \"group_wait\": \"1s\", \"group_interval\": \"1s\",
                \"routes\": [{\"match\": {\"rule\": \"*\"}, \"receivers\": [\"slack\"], \"continue\": true},
                             {\"receivers\": [\"log\"]}]}}"
    local specs=() r i=0
    for r in "${rules[@]}"; do
        i=$((i + 1))
        specs+=("rule=$r,project=proj-$i,owner=team-$i,n=1")
    done
    nt_produce nt1-alerts "$d/produced.jsonl" "${specs[@]}"
    nt_start notify "$d/cfg.json"
    local pid=$NT_PID
    expect "notify each rule: 8 Slack messages delivered" wait_for 25 nt_requests_reach 8 "$NT_LOG" /slack delivered
    expect "notify each rule: 8 FIRING lines on stdout" wait_for 10 bash -c "[ \$(grep -c '^FIRING' '$d/notify.out') -ge 8 ]"
    sleep 1
    nt_stop $pid
    expect "notify each rule: the notifier exits 0 on SIGTERM" test $? -eq 0
    nt_checks '
log, evs = A[0], produced(A[1])
recs = records(log, "/slack")
text_of = lambda r: " ".join(strings(r["body"]))
@check("notify each rule: each rule'"'"'s alert reached Slack exactly once, nothing else was sent")
def _():
    assert len(recs) == 8 and all(r["outcome"] == "delivered" for r in recs), [(r["path"], r["outcome"]) for r in recs]
    assert len(records(log)) == 8, "requests to other paths"
    for e in evs:
        hits = [r for r in recs if e["entity_id"] in text_of(r) and e["rule"] in text_of(r)]
        assert len(hits) == 1, (e["rule"], len(hits))
@check("notify each rule: each Slack message shows status, severity, project, owner, entity, rule, summary, top contributor and link")
def _():
    for e in evs:
        r = next(r for r in recs if e["entity_id"] in text_of(r))
        assert isinstance(r["body"], dict) and isinstance(r["body"].get("text"), str), r["body"]
        text = text_of(r)
        missing = [w for w in (e["project"], e["owner"], e["entity_id"], e["rule"], e["summary"],
                               e["top_contributors"][0]["value"],
                               "https://grafana.example.com/d/edge?var-entity=" + e["entity_id"]) if w not in text]
        missing += [w for w in ("firing", e["severity"]) if w not in text.lower()]
        assert not missing, (e["rule"], missing, text[:600])
@check("notify each rule: JSON POSTs with the configured header and channel, each with its own Idempotency-Key")
def _():
    keys = [header(r, "Idempotency-Key") for r in recs]
    assert all(keys) and len(set(keys)) == 8, keys
    assert all("application/json" in (header(r, "Content-Type") or "") for r in recs)
    assert all(header(r, "X-Edgewatch-Test") == "t1" for r in recs), [header(r, "X-Edgewatch-Test") for r in recs]
    assert all(r["body"].get("channel") == "#edge-tests" for r in recs), [r["body"].get("channel") for r in recs]
@check("notify each rule: stdout has one FIRING line per rule")
def _():
    lines = [l for l in open(A[2]) if l.startswith("FIRING")]
    assert len(lines) == 8, lines
    for e in evs:
        n = sum(1 for l in lines if e["rule"] in l and e["entity_id"] in l)
        assert n == 1, (e["rule"], n)
' "$NT_LOG" "$d/produced.jsonl" "$d/notify.out"
}

# The route tree of docs/notify.md: a critical route with continue, project
# and rule globs, a match on two labels, the root as default.
test_notify_routing() {
    local NT_P=/t2 d=$STACK_DIR/nt2
    mkdir -p "$d"
    nt_receiver_up || { fail "notify routing: the test receiver"; return; }
    local u="http://127.0.0.1:$NT_PORT$NT_P"
    nt_config "$d/cfg.json" 2 "{
      \"receivers\": {\"checkout\": {\"type\": \"webhook\", \"url\": \"$u/checkout\"},
                      \"pager\": {\"type\": \"webhook\", \"url\": \"$u/pager\"},
                      \"finops\": {\"type\": \"webhook\", \"url\": \"$u/finops\"},
                      \"edgeteam\": {\"type\": \"webhook\", \"url\": \"$u/edge\"},
                      \"default\": {\"type\": \"webhook\", \"url\": \"$u/default\"}},
      \"route\": {\"receivers\": [\"default\"], \"group_wait\": \"1s\", \"group_interval\": \"1s\",
        \"routes\": [
          {\"match\": {\"severity\": \"critical\"}, \"receivers\": [\"pager\"], \"continue\": true},
          {\"match\": {\"project\": \"checkout*\"}, \"receiver\": \"checkout\"},
          {\"match\": {\"rule\": [\"cost_spike\", \"cost_drop\"]}, \"receivers\": [\"finops\"]},
          {\"match\": {\"owner\": \"team-edge\", \"entity_id\": \"E9*\"}, \"receivers\": [\"edgeteam\"]}]}}"
    local specs=(
        "rule=request_spike,project=checkout-web,severity=warning,n=1"      # a1 -> checkout
        "rule=error_5xx_rate,project=checkout-api,severity=critical,n=2"    # a2 -> pager, checkout
        "rule=request_spike,project=media,severity=critical,n=3"            # a3 -> pager
        "rule=request_spike,project=media,severity=warning,n=4"             # a4 -> default
        "rule=cost_spike,project=streaming,severity=warning,n=5"            # a5 -> finops
        "rule=error_403_rate,project=media,owner=team-edge,entity_id=E9EDGE00000001,severity=warning,n=6" # a6 -> edge
        "rule=error_403_rate,project=media,owner=team-edge,entity_id=E1EDGE00000001,severity=warning,n=7" # a7 -> default
        "rule=cost_drop,project=checkout-billing,severity=critical,n=8"     # a8 -> pager, checkout
    )
    nt_produce nt2-alerts "$d/produced.jsonl" "${specs[@]}"
    nt_start notify "$d/cfg.json"
    local pid=$NT_PID
    expect "notify routing: 10 notifications arrive" wait_for 25 nt_all_reach 10 "$NT_LOG"
    sleep 1
    nt_stop $pid
    nt_checks '
log, evs = A[0], produced(A[1])
def routed(path, *alerts):
    @check("notify routing: %s gets exactly alerts %s" % (path, ", ".join(map(str, alerts))))
    def _():
        want = sorted(evs[i - 1]["event_id"] for i in alerts)
        got = delivered_ids(log, path)
        assert got == want, (got, want)
routed("/pager", 2, 3, 8)
routed("/checkout", 1, 2, 8)
routed("/finops", 5)
routed("/edge", 6)
routed("/default", 4, 7)
@check("notify routing: no request to any other path, none failed")
def _():
    recs = records(log)
    assert len(recs) == 10, len(recs)
    assert all(r["outcome"] == "delivered" for r in recs), [(r["path"], r["status"]) for r in recs]
@check("notify routing: the shutdown summary counts notifications per receiver (docs/notify.md, Operations)")
def _():
    lines = [l for l in open(A[2]) if "stopped:" in l]
    assert len(lines) == 1, lines
    missing = [rx for rx in ("checkout", "pager", "finops", "edgeteam", "default") if rx not in lines[0]]
    assert not missing, ("receivers not in the summary", missing, lines[0].strip())
@check("notify routing: a webhook gets the alert event itself")
def _():
    by_id = {e["event_id"]: e for e in evs}
    for r in records(log):
        assert r["body"] == by_id[r["body"]["event_id"]], r["body"]
' "$NT_LOG" "$d/produced.jsonl" "$d/notify.err"
}

# group_wait (2s) gathers alerts of one group; group_interval (5s) delays the
# next notification of a group; group_by [] puts a route's alerts in one
# group; max_batch splits a large group.
test_notify_grouping() {
    local NT_P=/t3 d=$STACK_DIR/nt3
    mkdir -p "$d"
    nt_receiver_up || { fail "notify grouping: the test receiver"; return; }
    local u="http://127.0.0.1:$NT_PORT$NT_P"
    nt_config "$d/cfg.json" 3 "{
      \"receivers\": {\"batch\": {\"type\": \"webhook\", \"url\": \"$u/batch\", \"batch\": true},
                      \"small\": {\"type\": \"webhook\", \"url\": \"$u/small\", \"batch\": true, \"max_batch\": 2},
                      \"warm\": {\"type\": \"webhook\", \"url\": \"$u/warm\"}},
      \"route\": {\"receivers\": [\"batch\"], \"group_by\": [\"project\", \"rule\"], \"group_wait\": \"2s\",
                \"group_interval\": \"5s\",
                \"routes\": [{\"match\": {\"project\": \"bulk\"}, \"receivers\": [\"small\"], \"group_by\": []},
                             {\"match\": {\"project\": \"warm\"}, \"receivers\": [\"warm\"], \"group_wait\": \"200ms\"}]}}"
    # A warm-up alert first, so that the timings below start with a running notifier.
    nt_produce nt3-alerts "$d/warm.jsonl" rule=request_spike,project=warm
    nt_start notify "$d/cfg.json"
    local pid=$NT_PID
    expect "notify grouping: the notifier is up (warm-up alert delivered)" \
        wait_for 25 nt_requests_reach 1 "$NT_LOG" /warm delivered
    local t0
    t0=$(date +%s.%N)
    nt_produce nt3-alerts "$d/produced.jsonl" \
        rule=request_spike,project=shop,n=1 rule=request_spike,project=shop,n=2 rule=request_spike,project=shop,n=3 \
        rule=request_spike,project=media,n=1 rule=error_5xx_rate,project=shop,n=1 \
        rule=request_spike,project=bulk,n=1 rule=request_drop,project=bulk,n=1 rule=error_403_rate,project=bulk,n=1 \
        rule=error_5xx_rate,project=bulk,n=1 rule=cache_hit_drop,project=bulk,n=1
    expect "notify grouping: the first notifications arrive" wait_for 20 nt_requests_reach 3 "$NT_LOG" /batch
    # A new alert of a notified group waits for group_interval since that notification.
    nt_produce nt3-alerts "$d/produced.jsonl" rule=request_spike,project=shop,n=4
    expect "notify grouping: the later alert of the group is notified" \
        wait_for 15 nt_requests_reach 4 "$NT_LOG" /batch
    sleep 1.5
    nt_stop $pid
    nt_checks '
log, evs, t0 = A[0], produced(A[1]), float(A[2])
recs = sorted(records(log, "/batch"), key=lambda r: r["t_start"])
first3 = recs[:3]
@check("notify grouping: 3 alerts of one group in one request, other groups apart")
def _():
    sizes = sorted(len(events_of(r)) for r in first3)
    assert sizes == [1, 1, 3], sizes
    big = next(r for r in first3 if len(events_of(r)) == 3)
    assert sorted(e["event_id"] for e in events_of(big)) == sorted(e["event_id"] for e in evs[:3])
    assert all(r["body"].get("version") == "1" and r["body"].get("receiver") == "batch" for r in first3), first3[0]["body"]
    keys = [r["body"].get("group_key") for r in first3]
    assert all(keys) and len(set(keys)) == 3, keys
@check("notify grouping: the first notification waits group_wait (2s), not much longer")
def _():
    first = recs[0]["t_start"] - t0
    assert 1.8 <= first <= 6, round(first, 2)
    return "after %.1fs" % first
@check("notify grouping: group_by [] gathers 5 alerts, max_batch 2 splits them 2+2+1")
def _():
    small = records(log, "/small")
    sizes = sorted(len(events_of(r)) for r in small)
    assert sizes == [1, 2, 2], sizes
    assert delivered_ids(log, "/small") == sorted(e["event_id"] for e in evs if e["project"] == "bulk")
@check("notify grouping: the later alert comes alone, group_interval after the group'"'"'s notification")
def _():
    assert len(recs) == 4, len(recs)
    last = recs[-1]
    assert [e["event_id"] for e in events_of(last)] == [evs[-1]["event_id"]], events_of(last)
    shop = next(r for r in first3 if len(events_of(r)) == 3)
    gap = last["t_start"] - shop["t_start"]
    assert 4.5 <= gap <= 8, round(gap, 2)
    assert last["body"]["group_key"] == shop["body"]["group_key"]
    return "%.1fs later" % gap
' "$NT_LOG" "$d/produced.jsonl" "$t0"
}

# repeat_interval 5s: an update of a firing alert within it is not
# notified, one after it is; a severity change is notified at once.
test_notify_repeat() {
    local NT_P=/t4 d=$STACK_DIR/nt4
    mkdir -p "$d"
    nt_receiver_up || { fail "notify repeat: the test receiver"; return; }
    nt_config "$d/cfg.json" 4 "{
      \"receivers\": {\"rep\": {\"type\": \"webhook\", \"url\": \"http://127.0.0.1:$NT_PORT$NT_P/rep\"}},
      \"route\": {\"receivers\": [\"rep\"], \"group_wait\": \"1s\", \"group_interval\": \"1s\",
                \"repeat_interval\": \"5s\"}}"
    local a=ew-00000000000004a1 spec="rule=request_spike,project=shop,severity=warning,alert_id=ew-00000000000004a1"
    nt_produce nt4-alerts "$d/produced.jsonl" "$spec,window=0"
    nt_start notify "$d/cfg.json"
    local pid=$NT_PID
    expect "notify repeat: the firing alert is notified" wait_for 25 nt_requests_reach 1 "$NT_LOG" /rep delivered
    nt_produce nt4-alerts "$d/produced.jsonl" "$spec,window=1"
    nt_sleep_until "$NT_LOG" 5.6
    nt_produce nt4-alerts "$d/produced.jsonl" "$spec,window=2"
    expect "notify repeat: an update after repeat_interval is notified" \
        wait_for 10 nt_requests_reach 2 "$NT_LOG" /rep delivered
    nt_produce nt4-alerts "$d/produced.jsonl" "$spec,window=3,severity=critical"
    expect "notify repeat: a severity change is notified at once" \
        wait_for 10 nt_requests_reach 3 "$NT_LOG" /rep delivered
    sleep 1
    nt_stop $pid
    nt_checks '
@check("notify repeat: exactly the first, the repeat and the escalation")
def _():
    evs = produced(A[1])
    recs = sorted(records(A[0], "/rep"), key=lambda r: r["t_start"])
    got = [e["event_id"] for r in recs for e in events_of(r)]
    want = [evs[0]["event_id"], evs[2]["event_id"], evs[3]["event_id"]]
    assert got == want, (got, want)
    assert recs[1]["t_start"] - recs[0]["t_start"] >= 5, "repeat before repeat_interval"
' "$NT_LOG" "$d/produced.jsonl"
    expect "notify repeat: nt:al:rep:<alert_id> holds the last notification (critical, firing, sent_at)" \
        test "$(nt_valkey hget "ewt4:nt:al:rep:$a" severity) $(nt_valkey hget "ewt4:nt:al:rep:$a" status) $(nt_valkey hexists "ewt4:nt:al:rep:$a" sent_at)" = "critical firing 1"
    local ev1 ev2
    ev1=$(nt_field "$d/produced.jsonl" 1 event_id)
    ev2=$(nt_field "$d/produced.jsonl" 2 event_id)
    expect "notify repeat: a delivered event is 'sent' in nt:ev:rep:<event_id>, for dedup_ttl (7d)" \
        test "$(nt_valkey get "ewt4:nt:ev:rep:$ev1")" = sent -a "$(nt_valkey pttl "ewt4:nt:ev:rep:$ev1")" -gt 604000000 \
            -a "$(nt_valkey pttl "ewt4:nt:ev:rep:$ev1")" -le 604800000
    expect "notify repeat: nt:al:rep:<alert_id> expires after dedup_ttl (7d)" \
        test "$(nt_valkey pttl "ewt4:nt:al:rep:$a")" -gt 604000000 -a "$(nt_valkey pttl "ewt4:nt:al:rep:$a")" -le 604800000
    expect "notify repeat: the update that was not notified was never claimed" \
        test "$(nt_valkey exists "ewt4:nt:ev:rep:$ev2")" = 0
}

# send_resolved per route: A (true) hears firing, resolved and the re-fire;
# B (false) only the first firing; a resolved never notified as firing is
# not notified.
test_notify_resolved() {
    local NT_P=/t5 d=$STACK_DIR/nt5
    mkdir -p "$d"
    nt_receiver_up || { fail "notify resolved: the test receiver"; return; }
    local u="http://127.0.0.1:$NT_PORT$NT_P"
    nt_config "$d/cfg.json" 5 "{
      \"receivers\": {\"a\": {\"type\": \"webhook\", \"url\": \"$u/a\"}, \"b\": {\"type\": \"webhook\", \"url\": \"$u/b\"}},
      \"route\": {\"receivers\": [\"a\"], \"group_wait\": \"1s\", \"group_interval\": \"1s\", \"repeat_interval\": \"1h\",
        \"routes\": [{\"receivers\": [\"a\"], \"send_resolved\": true, \"continue\": true},
                     {\"receivers\": [\"b\"], \"send_resolved\": false}]}}"
    local x="rule=error_5xx_rate,project=shop,alert_id=ew-00000000000005a1"
    local y="rule=request_drop,project=shop,alert_id=ew-00000000000005b1"
    nt_produce nt5-alerts "$d/produced.jsonl" "$x,window=0" "$y,status=resolved,window=0"
    nt_start notify "$d/cfg.json"
    local pid=$NT_PID
    expect "notify resolved: the firing alert reaches both routes" wait_for 25 nt_all_reach 2 "$NT_LOG"
    nt_produce nt5-alerts "$d/produced.jsonl" "$x,status=resolved,window=5"
    expect "notify resolved: the resolution reaches the send_resolved route" \
        wait_for 15 nt_requests_reach 2 "$NT_LOG" /a delivered
    nt_produce nt5-alerts "$d/produced.jsonl" "$x,window=9"
    expect "notify resolved: firing again after resolved is notified" \
        wait_for 15 nt_requests_reach 3 "$NT_LOG" /a delivered
    sleep 1
    nt_stop $pid
    nt_checks '
@check("notify resolved: A got firing, resolved, firing; B only the first firing; the lone resolved went nowhere")
def _():
    evs = produced(A[1])
    a = [e["event_id"] for r in sorted(records(A[0], "/a"), key=lambda r: r["t_start"]) for e in events_of(r)]
    b = [e["event_id"] for r in records(A[0], "/b") for e in events_of(r)]
    assert a == [evs[0]["event_id"], evs[2]["event_id"], evs[3]["event_id"]], a
    assert b == [evs[0]["event_id"]], b
    assert [r for r in records(A[0]) if r["outcome"] != "delivered"] == []
' "$NT_LOG" "$d/produced.jsonl"
}

# suppressed_by alerts are dropped, except on a route with send_suppressed.
test_notify_suppressed() {
    local NT_P=/t6 d=$STACK_DIR/nt6
    mkdir -p "$d"
    nt_receiver_up || { fail "notify suppressed: the test receiver"; return; }
    local u="http://127.0.0.1:$NT_PORT$NT_P"
    nt_config "$d/cfg.json" 6 "{
      \"receivers\": {\"plain\": {\"type\": \"webhook\", \"url\": \"$u/plain\"},
                      \"wants\": {\"type\": \"webhook\", \"url\": \"$u/wants\"}},
      \"route\": {\"receivers\": [\"plain\"], \"group_wait\": \"1s\", \"group_interval\": \"1s\",
        \"routes\": [{\"match\": {\"project\": \"promo\"}, \"receivers\": [\"wants\"], \"send_suppressed\": true,
                      \"continue\": true},
                     {\"receivers\": [\"plain\"]}]}}"
    nt_produce nt6-alerts "$d/produced.jsonl" \
        rule=request_spike,project=promo,suppressed_by=evt-0123456789ab,n=1 \
        rule=request_spike,project=shop,suppressed_by=sil-0123456789ab,n=2 \
        rule=request_spike,project=shop,n=3 \
        rule=error_5xx_rate,project=promo,n=4
    nt_start notify "$d/cfg.json"
    local pid=$NT_PID
    expect "notify suppressed: notifications arrive" wait_for 25 nt_all_reach 3 "$NT_LOG"
    sleep 2
    nt_stop $pid
    nt_uncommitted nt6-alerts nt6 > "$d/uncommitted" & # while the checks run
    local unc=$!
    nt_checks '
log, evs = A[0], produced(A[1])
@check("notify suppressed: the send_suppressed route gets the suppressed and the plain promo alert, the other route only unsuppressed ones")
def _():
    assert delivered_ids(log, "/wants") == sorted([evs[0]["event_id"], evs[3]["event_id"]]), delivered_ids(log, "/wants")
    assert delivered_ids(log, "/plain") == sorted([evs[2]["event_id"], evs[3]["event_id"]]), delivered_ids(log, "/plain")
    assert len(records(log)) == 4
@check("notify suppressed: the suppressed alert is delivered unchanged, suppressed_by included")
def _():
    r = [r for r in records(log, "/wants") if r["body"].get("event_id") == evs[0]["event_id"]]
    assert r and r[0]["body"] == evs[0] and r[0]["body"]["suppressed_by"] == "evt-0123456789ab"
' "$NT_LOG" "$d/produced.jsonl"
    wait $unc
    expect "notify suppressed: the dropped alert is committed all the same" test "$(cat "$d/uncommitted")" = 0
}

# A receiver answering 500 three times, then 200: retried with backoff and
# one Idempotency-Key per notification, delivered once, committed.
test_notify_500_then_recover() {
    local NT_P=/t7 d=$STACK_DIR/nt7
    mkdir -p "$d"
    nt_receiver_up || { fail "notify 500: the test receiver"; return; }
    nt_mode /flaky fail_first:3
    nt_mode /busy fail_first:2:429
    nt_mode /slow hang_first:1:2.5
    local u="http://127.0.0.1:$NT_PORT$NT_P"
    nt_config "$d/cfg.json" 7 "{
      \"receivers\": {\"flaky\": {\"type\": \"webhook\", \"url\": \"$u/flaky\", \"timeout\": \"2s\"},
                      \"busy\": {\"type\": \"webhook\", \"url\": \"$u/busy\", \"timeout\": \"2s\"},
                      \"slow\": {\"type\": \"webhook\", \"url\": \"$u/slow\", \"timeout\": \"1s\"}},
      \"route\": {\"receivers\": [\"flaky\"], \"group_wait\": \"1s\", \"group_interval\": \"1s\",
        \"routes\": [{\"match\": {\"project\": \"busy\"}, \"receivers\": [\"busy\"]},
                     {\"match\": {\"project\": \"slow\"}, \"receivers\": [\"slow\"]}]}}"
    nt_produce nt7-alerts "$d/produced.jsonl" rule=request_spike,project=a rule=request_spike,project=b \
        rule=error_403_rate,project=c rule=request_spike,project=busy rule=request_spike,project=slow
    nt_start notify "$d/cfg.json"
    local pid=$NT_PID
    expect "notify 500: all three delivered after the receiver recovers" \
        wait_for 30 nt_delivered_reach 3 "$NT_LOG" /flaky
    expect "notify 500: the 429 receiver's alert is delivered after two 429s" \
        wait_for 15 nt_delivered_reach 1 "$NT_LOG" /busy
    expect "notify 500: the alert whose first request timed out (1s) is delivered on a retry" \
        wait_for 15 nt_delivered_reach 1 "$NT_LOG" /slow
    sleep 1.5
    nt_stop $pid
    nt_uncommitted nt7-alerts nt7 > "$d/uncommitted" & # while the checks run
    local unc=$!
    nt_checks '
recs = records(A[0], "/flaky")
evs = produced(A[1])
@check("notify 500: each event delivered exactly once, after the 3 rejected attempts")
def _():
    rej = [r for r in recs if r["outcome"] == "rejected"]
    assert len(rej) == 3 and all(r["status"] == 500 for r in rej), [(r["status"], r["outcome"]) for r in recs]
    for e in evs[:3]:
        n = sum(1 for r in recs if r["outcome"] == "delivered" for x in events_of(r) if x["event_id"] == e["event_id"])
        assert n == 1, (e["event_id"], n)
    return "%d requests" % len(recs)
@check("notify 500: every attempt of one event carries the same Idempotency-Key, events differ")
def _():
    by = collections.defaultdict(set)
    for r in recs:
        for e in events_of(r):
            by[e["event_id"]].add(header(r, "Idempotency-Key"))
    assert len(by) == 3 and all(len(k) == 1 and None not in k for k in by.values()), dict(by)
    assert len(set().union(*by.values())) == 3
@check("notify 500: 429 is retried, delivered once, one key")
def _():
    busy = records(A[0], "/busy")
    assert [r["status"] for r in busy] == [429, 429, 200], [r["status"] for r in busy]
    assert len({header(r, "Idempotency-Key") for r in busy}) == 1
@check("notify 500: a timeout is retried: the abandoned request and the delivered one share the key")
def _():
    slow = sorted(records(A[0], "/slow"), key=lambda r: r["t_start"])
    assert [r["outcome"] for r in slow] == ["abandoned", "delivered"], [r["outcome"] for r in slow]
    assert slow[1]["body"] == evs[4] and header(slow[0], "Idempotency-Key") == header(slow[1], "Idempotency-Key")
    return "first request abandoned by the client"
@check("notify 500: one log line per failed attempt, naming the receiver")
def _():
    err = open(A[2]).read().splitlines()
    n = {rx: sum(1 for l in err if ("notify: %s: " % rx) in l and "attempt" in l) for rx in ("flaky", "busy", "slow")}
    assert n == {"flaky": 3, "busy": 2, "slow": 1}, n
@check("notify 500: a retry waits at least retry.initial (200ms) after the failed attempt, also after a timeout (1s)")
def _():
    by = collections.defaultdict(list)
    for r in records(A[0]):
        by[r["path"], r["body"]["event_id"]].append(r)
    gaps = {}
    for (path, _), rs in by.items():
        rs.sort(key=lambda r: r["t_start"])
        for a, b in zip(rs, rs[1:]):
            failed_at = a["t"] if a["outcome"] == "rejected" else a["t_start"] + 1.0  # the client gave up
            gaps.setdefault(path, []).append(round(b["t_start"] - failed_at, 3))
    assert sorted(gaps) == ["/t7/busy", "/t7/flaky", "/t7/slow"], gaps
    assert min(min(g) for g in gaps.values()) >= 0.15, ("seconds from a failure to its retry", gaps)
' "$NT_LOG" "$d/produced.jsonl" "$d/notify.err"
    wait $unc
    expect "notify 500: the group's committed offsets reach the end of the topic" test "$(cat "$d/uncommitted")" = 0
}

# Dead letters: a receiver answering 503 past dead_letter_after (4s), one on
# a closed port, one answering 404 (at once), a message that is not JSON and
# one without event_id.
test_notify_dead_letter() {
    local NT_P=/t8 d=$STACK_DIR/nt8
    mkdir -p "$d"
    nt_receiver_up || { fail "notify dead letter: the test receiver"; return; }
    nt_mode /unavail status:503
    nt_mode /gone status:404
    local u="http://127.0.0.1:$NT_PORT$NT_P" closed
    closed=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    nt_config "$d/cfg.json" 8 "{
      \"receivers\": {\"unavail\": {\"type\": \"webhook\", \"url\": \"$u/unavail\", \"timeout\": \"2s\"},
                      \"missing\": {\"type\": \"webhook\", \"url\": \"$u/gone\", \"timeout\": \"2s\"},
                      \"portless\": {\"type\": \"webhook\", \"url\": \"http://127.0.0.1:$closed/x\", \"timeout\": \"2s\",
                                     \"connect_timeout\": \"1s\"},
                      \"ok\": {\"type\": \"webhook\", \"url\": \"$u/ok\"}},
      \"route\": {\"receivers\": [\"ok\"], \"group_wait\": \"1s\", \"group_interval\": \"1s\",
        \"routes\": [{\"match\": {\"project\": \"down\"}, \"receivers\": [\"unavail\"]},
                     {\"match\": {\"project\": \"gone\"}, \"receivers\": [\"missing\"]},
                     {\"match\": {\"project\": \"closed\"}, \"receivers\": [\"portless\"]}]}}" \
        "" '{"initial": "200ms", "max": "1s", "dead_letter_after": "4s"}'
    nt_produce nt8-alerts "$d/produced.jsonl" rule=request_spike,project=down,n=1 rule=error_5xx_rate,project=down,n=2 \
        rule=request_spike,project=gone rule=request_spike,project=closed rule=request_spike,project=fine
    { printf 'bad-1\tnot json at all\n'
      python3 "$NT_EVENTS" --kv rule=request_spike,project=fine,n=9,drop=event_id | sed 's/^/noid-/'
    } | kcat -P -b "$KAFKA_BOOTSTRAP" -t nt8-alerts -K '\t'
    nt_start notify "$d/cfg.json"
    local pid=$NT_PID
    expect "notify dead letter: 6 dead letters (2 x 503, 404, closed port, 2 malformed)" wait_for 30 nt_dlq_reach 6 nt8-dlq
    local attempts
    attempts=$(nt_requests "$NT_LOG" /unavail)
    sleep 2
    nt_dlq nt8-dlq "$d/dlq.jsonl"
    expect "notify dead letter: the healthy alert is delivered" nt_delivered_reach 1 "$NT_LOG" /ok
    expect "notify dead letter: no attempt after the dead letter ($attempts)" \
        test "$(nt_requests "$NT_LOG" /unavail)" -eq "$attempts"
    nt_checks '
log, evs, dl = A[0], produced(A[1]), dead_letters(A[2])
def letter_of(e):
    m = [m for m in dl if m.get("payload") and e["event_id"] in m["payload"]]
    assert len(m) == 1, ("dead letters of", e["event_id"], len(m))
    return m[0]
@check("notify dead letter: 503 events dead-lettered after dead_letter_after, retried meanwhile, reason names the receiver")
def _():
    recs = records(log, "/unavail")
    for e in (e for e in evs if e["project"] == "down"):
        tries = [r for r in recs if r["body"]["event_id"] == e["event_id"]]
        assert len(tries) >= 3 and all(r["status"] == 503 for r in tries), len(tries)
        assert tries[-1]["t_start"] - tries[0]["t_start"] >= 2.5, "retried for too short a time"
        m = letter_of(e)
        assert json.loads(m["payload"]) == e and m["key"] == e["alert_id"], m
        h = m["h"]
        assert "unavail" in h.get("edgewatch.reason", "") and "503" in h["edgewatch.reason"], h
        assert h.get("edgewatch.source.topic") == "nt8-alerts", h
        assert "edgewatch.source.partition" in h and "edgewatch.source.offset" in h, h
        waited = m["ts"] / 1000 - tries[0]["t_start"]
        assert 3.5 <= waited <= 12, waited
    return h["edgewatch.reason"]
@check("notify dead letter: a 404 is dead-lettered at once, after one attempt")
def _():
    recs = records(log, "/gone")
    assert len(recs) == 1 and recs[0]["status"] == 404, len(recs)
    m = letter_of(next(e for e in evs if e["project"] == "gone"))
    assert "missing" in m["h"]["edgewatch.reason"] and "404" in m["h"]["edgewatch.reason"], m["h"]
    waited = m["ts"] / 1000 - recs[0]["t"]
    assert waited < 2.0, waited
    return "%.2fs, %s" % (waited, m["h"]["edgewatch.reason"])
@check("notify dead letter: a closed port is dead-lettered naming its receiver")
def _():
    m = letter_of(next(e for e in evs if e["project"] == "closed"))
    assert "portless" in m["h"]["edgewatch.reason"], m["h"]
    return m["h"]["edgewatch.reason"]
@check("notify dead letter: one log line per dead letter")
def _():
    n = sum(1 for l in open(A[3]) if "dead-letter" in l)
    assert n == 6, n
@check("notify dead letter: malformed messages keep key and bytes, with the decoder'"'"'s reason")
def _():
    bad = [m for m in dl if m["key"] == "bad-1"]
    assert len(bad) == 1 and bad[0]["payload"] == "not json at all", bad
    noid = [m for m in dl if (m["key"] or "").startswith("noid-")]
    assert len(noid) == 1 and "event_id" not in json.loads(noid[0]["payload"]), noid
    for m in bad + noid:
        assert m["h"].get("edgewatch.reason") and m["h"].get("edgewatch.source.topic") == "nt8-alerts", m["h"]
        assert "receiver" not in m["h"]["edgewatch.reason"], m["h"]
    return " | ".join(m["h"]["edgewatch.reason"] for m in bad + noid)
' "$NT_LOG" "$d/produced.jsonl" "$d/dlq.jsonl" "$d/notify.err"
    local ev1
    ev1=$(nt_field "$d/produced.jsonl" 1 event_id)
    expect "notify dead letter: the dead-lettered claim is 'dead'" test "$(nt_valkey get "ewt8:nt:ev:unavail:$ev1")" = dead
    nt_stop $pid
    nt_uncommitted nt8-alerts nt8 > "$d/uncommitted" & # meanwhile:
    local unc=$!
    # The receivers come back; a notifier of another group, sharing the
    # Valkey prefix, reads everything again and sends nothing dead-lettered.
    nt_mode /unavail ok
    nt_mode /gone ok
    sed 's/"group_id": "nt8"/"group_id": "nt8-again"/' "$d/cfg.json" > "$d/cfg2.json"
    nt_start notify2 "$d/cfg2.json" --from-beginning
    pid=$NT_PID
    sleep 6
    nt_stop $pid
    wait $unc
    expect "notify dead letter: every message is committed (delivered or dead-lettered)" \
        test "$(cat "$d/uncommitted")" = 0
    expect "notify dead letter: after recovery, a notifier reading from the beginning sends no dead-lettered event" \
        test "$(nt_requests "$NT_LOG" /unavail delivered) $(nt_requests "$NT_LOG" /gone delivered) $(nt_requests "$NT_LOG" /ok delivered)" = "0 0 1"
    nt_dlq nt8-dlq "$d/dlq2.jsonl"
    nt_checks '
@check("notify dead letter: ... and dead-letters no alert event twice")
def _():
    ids = []
    for m in dead_letters(A[0]):
        try:
            ids.append(json.loads(m["payload"])["event_id"])
        except (ValueError, KeyError, TypeError):
            pass
    assert len(ids) == 4 and len(set(ids)) == 4, ids
' "$d/dlq2.jsonl"
}

# SIGKILL while a request hangs in the receiver; the restarted notifier
# takes over once the dead instance's claim lease (timeout 2s + 10s) ends.
test_notify_kill_mid_delivery() {
    local NT_P=/t9 d=$STACK_DIR/nt9
    mkdir -p "$d"
    nt_receiver_up || { fail "notify kill: the test receiver"; return; }
    nt_mode /hook hang_first:1:4
    nt_config "$d/cfg.json" 9 "{
      \"receivers\": {\"hook\": {\"type\": \"webhook\", \"url\": \"http://127.0.0.1:$NT_PORT$NT_P/hook\", \"timeout\": \"2s\"}},
      \"route\": {\"receivers\": [\"hook\"], \"group_wait\": \"1s\", \"group_interval\": \"1s\"}}"
    nt_produce nt9-alerts "$d/produced.jsonl" rule=request_spike,project=p1 rule=request_spike,project=p2 \
        rule=request_spike,project=p3 rule=error_5xx_rate,project=p4 rule=origin_latency,project=p5
    nt_start notify1 "$d/cfg.json"
    local pid=$NT_PID
    if wait_for 25 nt_inflight; then
        kill -KILL $pid
        wait $pid 2>/dev/null
        pass "notify kill: SIGKILLed while a request was in flight"
    else
        fail "notify kill: no request reached the receiver"
    fi
    nt_start notify2 "$d/cfg.json"
    pid=$NT_PID
    expect "notify kill: the hung request is abandoned (the kill was mid-delivery)" \
        wait_for 10 nt_requests_reach 1 "$NT_LOG" /hook abandoned
    expect "notify kill: the restarted notifier delivers all 5" wait_for 45 nt_delivered_reach 5 "$NT_LOG" /hook
    sleep 1.5
    nt_stop $pid
    expect "notify kill: the restarted notifier exits 0 on SIGTERM" test $? -eq 0
    nt_uncommitted nt9-alerts nt9 > "$d/uncommitted" & # while the checks run
    local unc=$!
    nt_checks '
recs = records(A[0], "/hook")
@check("notify kill: every event delivered exactly once, none lost")
def _():
    cnt = collections.Counter(e["event_id"] for r in recs if r["outcome"] == "delivered" for e in events_of(r))
    want = [e["event_id"] for e in produced(A[1])]
    assert sorted(cnt) == sorted(want) and set(cnt.values()) == {1}, cnt
    return "%d requests, %d abandoned" % (len(recs), sum(r["outcome"] == "abandoned" for r in recs))
@check("notify kill: the retried request carries the abandoned one'"'"'s Idempotency-Key")
def _():
    ab = [r for r in recs if r["outcome"] == "abandoned"]
    assert ab
    for a in ab:
        later = [r for r in recs if r["outcome"] == "delivered" and r["body"]["event_id"] == a["body"]["event_id"]]
        assert len(later) == 1 and header(later[0], "Idempotency-Key") == header(a, "Idempotency-Key"), \
            (header(a, "Idempotency-Key"), [header(r, "Idempotency-Key") for r in later])
' "$NT_LOG" "$d/produced.jsonl"
    wait $unc
    expect "notify kill: everything is committed" test "$(cat "$d/uncommitted")" = 0
}

# Two notifiers in different groups sharing Valkey (active-active) and two
# members of one group (one stops midway): every event sent once.
test_notify_two_instances() {
    local NT_P=/t10 d=$STACK_DIR/nt10
    mkdir -p "$d"
    nt_receiver_up || { fail "notify two instances: the test receiver"; return; }
    nt_topic nt10b-alerts
    local notify="{
      \"receivers\": {\"hook\": {\"type\": \"webhook\", \"url\": \"http://127.0.0.1:$NT_PORT$NT_P/hook\", \"timeout\": \"2s\"}},
      \"route\": {\"receivers\": [\"hook\"], \"group_wait\": \"1s\", \"group_interval\": \"1s\"}"
    nt_config "$d/a.json" 10 "$notify, \"instance\": \"a\"}" nt10a
    sed 's/"nt10a"/"nt10b"/; s/"instance": "a"/"instance": "b"/' "$d/a.json" > "$d/b.json"
    # At the same time: two members of one group (nt10c) on nt10b-alerts,
    # delivering to /hook2; the second stops after the first 20.
    sed 's/"nt10-alerts"/"nt10b-alerts"/; s/"nt10a"/"nt10c"/; s#/hook"#/hook2"#' "$d/a.json" > "$d/c1.json"
    sed 's/"nt10-alerts"/"nt10b-alerts"/; s/"nt10b"/"nt10c"/; s#/hook"#/hook2"#' "$d/b.json" > "$d/c2.json"
    local specs=() i
    for i in $(seq 1 10); do specs+=("rule=request_spike,project=pa$i" "rule=error_5xx_rate,project=pa$i"); done
    nt_produce nt10-alerts "$d/produced_a.jsonl" "${specs[@]}"
    nt_start a "$d/a.json"
    local pa=$NT_PID
    nt_start b "$d/b.json"
    local pb=$NT_PID
    nt_start c1 "$d/c1.json"
    local p1=$NT_PID
    nt_start c2 "$d/c2.json"
    local p2=$NT_PID
    specs=()
    for i in $(seq 1 10); do specs+=("rule=request_spike,project=pc$i" "rule=error_403_rate,project=pc$i"); done
    nt_produce nt10b-alerts "$d/produced_c.jsonl" "${specs[@]}"
    expect "notify two groups: all 20 delivered" wait_for 30 nt_delivered_reach 20 "$NT_LOG" /hook
    expect "notify one group, two members: 20 delivered" wait_for 30 nt_delivered_reach 20 "$NT_LOG" /hook2
    nt_stop $p2
    sleep 1
    nt_stop $pa
    nt_stop $pb
    nt_uncommitted nt10-alerts nt10a nt10-alerts nt10b > "$d/uncommitted" & # checked below
    local unc=$!
    specs=()
    for i in $(seq 11 15); do specs+=("rule=request_spike,project=pc$i" "rule=error_403_rate,project=pc$i"); done
    nt_produce nt10b-alerts "$d/produced_c.jsonl" "${specs[@]}"
    expect "notify one group: after one member stops, the other delivers the next 10" \
        wait_for 30 nt_delivered_reach 30 "$NT_LOG" /hook2
    sleep 1.5
    nt_stop $p1
    nt_uncommitted nt10b-alerts nt10c > "$d/uncommitted_c" & # while the checks run
    local unc_c=$!
    nt_checks '
def once(log, path, produced_file):
    cnt = collections.Counter(e["event_id"] for r in records(log, path, "delivered") for e in events_of(r))
    want = sorted(e["event_id"] for e in produced(produced_file))
    assert sorted(cnt) == want and set(cnt.values()) == {1}, (len(cnt), [k for k, v in cnt.items() if v > 1])
@check("notify two groups (active-active, one Valkey): each of 20 events delivered exactly once")
def _():
    once(A[0], "/hook", A[1])
@check("notify one group, two members: each of 30 events delivered exactly once")
def _():
    once(A[0], "/hook2", A[2])
' "$NT_LOG" "$d/produced_a.jsonl" "$d/produced_c.jsonl"
    wait $unc
    expect "notify two groups: both groups committed everything" test "$(cat "$d/uncommitted")" = "0 0"
    wait $unc_c
    expect "notify one group: the group committed everything" test "$(cat "$d/uncommitted_c")" = 0
}

# --dry-run renders what would be sent, sends nothing, commits nothing,
# writes nothing to Valkey, and exits at the end of the topic.
test_notify_dry_run() {
    local NT_P=/t11 d=$STACK_DIR/nt11
    mkdir -p "$d"
    nt_receiver_up || { fail "notify dry-run: the test receiver"; return; }
    local u="http://127.0.0.1:$NT_PORT$NT_P"
    nt_config "$d/cfg.json" 11 "{
      \"receivers\": {\"hook\": {\"type\": \"webhook\", \"url\": \"$u/dry\", \"batch\": true},
                      \"chat\": {\"type\": \"slack\", \"url\": \"$u/dryslack\"},
                      \"rephook\": {\"type\": \"webhook\", \"url\": \"$u/dryrep\"}},
      \"route\": {\"receivers\": [\"hook\"], \"group_wait\": \"1s\", \"group_interval\": \"1s\",
        \"routes\": [{\"match\": {\"project\": \"rep\"}, \"receivers\": [\"rephook\"], \"repeat_interval\": \"1s\"},
                     {\"match\": {\"severity\": \"critical\"}, \"receivers\": [\"chat\"], \"continue\": true},
                     {\"receivers\": [\"hook\"]}]}}"
    # The alert of project rep is updated 2.5 s later: by the messages'
    # timestamps, past group_wait and repeat_interval (1s), so dry-run shows
    # it twice (read at once, without timestamps, it would be one).
    local rep="rule=request_spike,project=rep,severity=warning,alert_id=ew-0000000000011ae1"
    nt_produce nt11-alerts "$d/rep.jsonl" "$rep,window=0"
    nt_produce nt11-alerts "$d/produced.jsonl" rule=request_spike,project=shop,severity=warning,n=1 \
        rule=request_spike,project=shop,severity=warning,n=2 rule=error_5xx_rate,project=media,severity=critical
    sleep 2.5
    nt_produce nt11-alerts "$d/rep.jsonl" "$rep,window=1"
    local rc
    timeout 30 "$NOTIFY" -c "$d/cfg.json" --dry-run --from-beginning > "$d/dry.out" 2> "$d/dry.err"
    rc=$?
    expect "notify dry-run: exits 0 by itself at the end of the topic (exit $rc)" test $rc -eq 0
    nt_checks '
import re
out = open(A[0]).read()
h = [l for l in out.splitlines() if l.startswith("== dry-run:")]
@check("notify dry-run: a header per notification (webhook 2 + 1 alerts, slack 1)")
def _():
    hook = sorted(int(re.search(r": (\d+) alerts?$", l).group(1)) for l in h if l.startswith("== dry-run: hook (webhook) group "))
    chat = [l for l in h if l.startswith("== dry-run: chat (slack) group ")]
    assert hook == [1, 2] and len(chat) == 1, h
@check("notify dry-run: the rendered bodies hold every event")
def _():
    for e in produced(A[1]):
        assert e["event_id"] in out, e["event_id"]
@check("notify dry-run: time follows the messages'"'"' timestamps (an update 2.5s later is a repeat, shown again)")
def _():
    reps = [l for l in h if l.startswith("== dry-run: rephook (webhook) group ")]
    assert len(reps) == 2 and len(h) == 5, h
    first, second = out.index(produced(A[2])[0]["event_id"]), out.index(produced(A[2])[1]["event_id"])
    assert first < second
' "$d/dry.out" "$d/produced.jsonl" "$d/rep.jsonl"
    expect "notify dry-run: the receiver got nothing" test "$(nt_requests "$NT_LOG" /dry) $(nt_requests "$NT_LOG" /dryslack)" = "0 0"
    expect "notify dry-run: nothing written to Valkey" test -z "$(nt_valkey --scan --pattern 'ewt11:*')"
    # A real run with the same group still delivers everything: nothing was committed.
    nt_start notify "$d/cfg.json"
    local pid=$NT_PID
    expect "notify dry-run: a later real run delivers all 3" wait_for 25 nt_delivered_reach 3 "$NT_LOG" /dry
    expect "notify dry-run: ... and the critical one to Slack" wait_for 10 nt_requests_reach 1 "$NT_LOG" /dryslack delivered
    sleep 1
    nt_stop $pid
    timeout 30 "$NOTIFY" -c "$d/cfg.json" --dry-run > "$d/dry2.out" 2> "$d/dry2.err"
    rc=$?
    expect "notify dry-run: without --from-beginning it starts at the committed offsets (nothing to show, exit $rc)" \
        test $rc -eq 0 -a "$(grep -c '^== dry-run:' "$d/dry2.out")" -eq 0
}

# Avro alert events, as `edgewatch replay --alerts-topic` produces them with
# alerts.format avro: Confluent-framed (schema id 42) first, then the same
# events as bare datums. The notifier delivers the framed ones (the
# incident's firing and resolved, in one batch: they come within one
# group_wait), and drops the bare copies as duplicates, not as undecodable.
test_notify_avro() {
    local NT_P=/t12 d=$STACK_DIR/nt12
    mkdir -p "$d"
    nt_receiver_up || { fail "notify avro: the test receiver"; return; }
    "$EW" gen --scenario spike --seed 3 --start 2026-11-01T10:00:00Z --out "$d/lines.tsv" \
        --metadata-out "$d/meta.json" 2>/dev/null
    cat > "$d/replay.json" <<JSON
{"kafka": {"bootstrap.servers": "$KAFKA_BOOTSTRAP"}, "metadata": "$d/meta.json",
 "alerts": {"format": "avro", "schema_id": 42}}
JSON
    quietly "$d/replay1.err" "$EW" replay -c "$d/replay.json" --in-memory --input "$d/lines.tsv" \
        --alerts-out "$d/produced.jsonl" --alerts-topic nt12-alerts
    expect "notify avro: replay produced an incident, firing then resolved, as framed Avro" bash -c "
        [ \"\$(grep -c . '$d/produced.jsonl')\" -ge 2 ] &&
        [ \"\$(kcat -C -b '$KAFKA_BOOTSTRAP' -t nt12-alerts -e -q -f '%s' -c 1 | head -c 1 | od -An -tx1 | tr -d ' ')\" = 00 ]"
    nt_config "$d/cfg.json" 12 "{
      \"receivers\": {\"hook\": {\"type\": \"webhook\", \"url\": \"http://127.0.0.1:$NT_PORT$NT_P/hook\", \"batch\": true}},
      \"route\": {\"receivers\": [\"hook\"], \"group_wait\": \"2s\", \"group_interval\": \"1s\"}}"
    nt_start notify "$d/cfg.json"
    local pid=$NT_PID n
    n=$(grep -c . "$d/produced.jsonl")
    expect "notify avro: every event is delivered" wait_for 25 nt_delivered_reach "$n" "$NT_LOG" /hook
    quietly "$d/replay2.err" "$EW" replay -c "$d/replay.json" --in-memory --input "$d/lines.tsv" \
        --alerts-out "$d/bare.jsonl" --alerts-topic nt12-alerts --set alerts.schema_id=-1
    sleep 2.5
    nt_stop $pid
    nt_uncommitted nt12-alerts nt12 > "$d/uncommitted" & # while the checks run
    local unc=$!
    nt_checks '
@check("notify avro: each event delivered once, as the JSON of the contract; firing and resolved in one batch")
def _():
    evs = produced(A[1])
    recs = records(A[0], "/hook")
    got = [e for r in recs for e in events_of(r)]
    assert sorted(e["event_id"] for e in got) == sorted(e["event_id"] for e in evs), (got, evs)
    assert all(e in evs for e in got), "a delivered event differs from the replayed JSON"
    assert len(recs) == 1 and [e["status"] for e in events_of(recs[0])] == ["firing", "resolved"], \
        [[e["status"] for e in events_of(r)] for r in recs]
    return "%d events" % len(got)
' "$NT_LOG" "$d/produced.jsonl"
    nt_dlq nt12-dlq "$d/dlq.jsonl"
    expect "notify avro: nothing dead-lettered (bare datums decode too)" test "$(grep -c . "$d/dlq.jsonl")" -eq 0
    wait $unc
    expect "notify avro: framed and bare events are all read and committed" test "$(cat "$d/uncommitted")" = 0
}
