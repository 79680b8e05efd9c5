# shellcheck shell=bash
# test_notify.sh -- edgewatch-notify (issue 8, docs/notify.md) against a real
# local HTTP receiver (http_receiver.py), the stack's Kafka and Valkey.
# Sourced by run.sh; uses its pass/fail/expect/wait_for/quietly/write_config
# and $NOTIFY.
#
# test_notify_config          the receiver's self-test; configuration errors
#                             exit 2 naming the setting
# test_notify_each_rule       each rule's alert to Slack and stdout, once
# test_notify_routing         the route tree: severity with continue, project
#                             and rule globs, two-label matches, the default
# test_notify_grouping        group_wait, group_interval, group_by [], max_batch
# test_notify_repeat          repeat_interval, severity change, no self-repeat
# test_notify_resolved        send_resolved per route
# test_notify_suppressed      suppressed_by dropped unless send_suppressed
# test_notify_500_then_recover retries with one Idempotency-Key, delivered once
# test_notify_dead_letter     a 503 receiver past dead_letter_after, a closed
#                             port, a 404 at once, malformed messages
# test_notify_kill_mid_delivery SIGKILL while a request hangs, restart
# test_notify_two_instances   two groups sharing Valkey, two members of a group
# test_notify_dry_run         renders, sends and commits nothing
#
# Each test has its own receiver process and log, alerts topic (ntN-alerts),
# dead-letter topic (ntN-dlq), consumer group and Valkey prefix (ewtN:), so
# no test sees another's offsets or dedup keys. Events come from
# alert_events.py (contract-complete, one template per rule).

NT_EVENTS=tests/integration/alert_events.py
NT_RECEIVER=tests/integration/http_receiver.py

# Python helpers shared by the checks: the receiver's log, the alert events
# in a recorded request (webhook: the event or a batch), header lookup.
NT_PY='import collections, json, sys
def records(log, path=None, outcome=None):
    out = []
    for line in open(log):
        if not line.strip():
            continue
        r = json.loads(line)
        if path is not None and r["path"] != path:
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
'

# nt_py NAME SCRIPT ARGS...: a check in Python (NT_PY prepended); passes
# when it exits 0, else fails showing its output.
nt_py() {
    local name=$1 script=$2 out
    shift 2
    out=$(python3 -c "$NT_PY
$script" "$@" 2>&1)
    if [ $? -eq 0 ]; then
        pass "$name${out:+ ($out)}"
    else
        fail "$name:"
        printf '%s\n' "$out" | tail -15 | sed 's/^/    /'
    fi
}

# ---- the receiver -------------------------------------------------------------

# nt_receiver_start DIR: NT_PORT, NT_LOG (DIR/recv.jsonl), NT_RECV_PID.
nt_receiver_start() {
    local dir=$1
    NT_LOG=$dir/recv.jsonl
    : > "$NT_LOG"
    python3 "$NT_RECEIVER" --log "$NT_LOG" > "$dir/recv.port" 2> "$dir/recv.err" &
    NT_RECV_PID=$!
    stack_track $NT_RECV_PID
    wait_for 10 test -s "$dir/recv.port" || { echo "    receiver did not start"; return 1; }
    NT_PORT=$(head -n 1 "$dir/recv.port")
}

nt_receiver_stop() {
    kill "$NT_RECV_PID" 2>/dev/null
    wait "$NT_RECV_PID" 2>/dev/null
    return 0
}

nt_mode() { # nt_mode PATH MODE
    curl -sf -X POST --data "{\"path\": \"$1\", \"mode\": \"$2\"}" "http://127.0.0.1:$NT_PORT/_control" > /dev/null
}

nt_inflight() { # nt_inflight: a request is being answered right now
    [ "$(curl -sf "http://127.0.0.1:$NT_PORT/_inflight" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])' 2>/dev/null)" -ge 1 ] 2>/dev/null
}

# nt_requests LOG PATH [OUTCOME]: number of recorded requests
nt_requests() {
    python3 -c "$NT_PY
print(len(records(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)))" "$@"
}
nt_requests_reach() { # nt_requests_reach N LOG PATH [OUTCOME]
    local n=$1; shift
    [ "$(nt_requests "$@")" -ge "$n" ]
}
# nt_delivered LOG PATH: the event ids delivered (2xx) to PATH, sorted, one a line
nt_delivered() {
    python3 -c "$NT_PY
ids = [e.get('event_id') for r in records(sys.argv[1], sys.argv[2], 'delivered') for e in events_of(r)]
print('\n'.join(sorted(map(str, ids))))" "$@"
}
# nt_sleep_until LOG SECONDS: sleeps until SECONDS after the first request in LOG
nt_sleep_until() {
    sleep "$(python3 -c 'import json, sys, time
t = json.loads(open(sys.argv[1]).readline())["t_start"] + float(sys.argv[2]) - time.time()
print(max(t, 0))' "$1" "$2")"
}
nt_lines_reach() { # nt_lines_reach N FILE: FILE has at least N lines
    [ "$(grep -c . "$2")" -ge "$1" ]
}
nt_delivered_reach() { # nt_delivered_reach N LOG PATH: at least N events delivered
    [ "$(nt_delivered "$2" "$3" | grep -c .)" -ge "$1" ]
}

# ---- config, events, notifiers ------------------------------------------------

# nt_config FILE N NOTIFY_JSON: the stack's kafka and valkey, prefix ewtN:,
# topics ntN-alerts / ntN-dlq, and the notify object (group_id ntN and fast
# retries unless it sets its own).
nt_config() {
    write_config "$1"
    python3 - "$1" "$2" "$3" <<'PY'
import json, sys
path, n, notify = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
cfg = json.load(open(path))
cfg.pop("metadata", None)
cfg["valkey"]["prefix"] = f"ewt{n}:"
cfg["topics"] = {"alerts": f"nt{n}-alerts", "dlq": f"nt{n}-dlq"}
notify.setdefault("group_id", f"nt{n}")
notify.setdefault("retry", {"initial": "200ms", "max": "1s", "dead_letter_after": "30s"})
cfg["notify"] = notify
json.dump(cfg, open(path, "w"), indent=2)
PY
}

nt_topics() { # nt_topics N: creates ntN-alerts and ntN-dlq with 4 partitions
    stack_kafka_ctl "topic-create nt$1-alerts 4" > /dev/null
    stack_kafka_ctl "topic-create nt$1-dlq 4" > /dev/null
    return 0
}

# nt_produce TOPIC OUT SPEC...: builds events (alert_events.py), appends them
# to OUT (JSON lines), produces them keyed by alert id.
nt_produce() {
    local topic=$1 out=$2 kv
    shift 2
    kv=$(python3 "$NT_EVENTS" --kv "$@") || return 1
    printf '%s\n' "$kv" | cut -f 2- >> "$out"
    printf '%s\n' "$kv" | kcat -P -b "$KAFKA_BOOTSTRAP" -t "$topic" -K '\t'
}

# nt_event_id SPEC: the event id alert_events.py gives SPEC
nt_event_id() { python3 "$NT_EVENTS" "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["event_id"])'; }

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
            -f '%p:%o\n' "$1" > "$STACK_DIR/uncommitted.$i" 2>/dev/null || echo timeout > "$STACK_DIR/uncommitted.$i") &
        pids+=($!)
        i=$((i + 1))
        shift 2
    done
    wait "${pids[@]}"
    for ((i = 0; i < ${#pids[@]}; i++)); do
        if grep -qx timeout "$STACK_DIR/uncommitted.$i"; then out+=(timeout); else out+=("$(grep -c . "$STACK_DIR/uncommitted.$i")"); fi
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
        'a bad retry duration|dead_letter_after|{"receivers": {"a": {"type": "stdout"}}, "route": {"receivers": ["a"]}, "retry": {"dead_letter_after": "-1s"}}'
    )
    local c i=0 name text json
    for c in "${cases[@]}"; do
        IFS='|' read -r name text json <<< "$c"
        i=$((i + 1))
        nt_config "$d/bad$i.json" 0 "$json"
        expect "notify config: $name exits 2 with one line naming '$text'" \
            nt_exits_with 2 "$text" "$NOTIFY" -c "$d/bad$i.json"
    done
}

# One alert of each of the 8 rules, each its own group, to a Slack receiver
# (continue) and to stdout.
test_notify_each_rule() {
    local d=$STACK_DIR/nt1 rules=(request_spike request_drop error_403_rate error_5xx_rate cache_hit_drop
        origin_latency cost_spike cost_drop)
    mkdir -p "$d"
    nt_receiver_start "$d" || { fail "notify each rule: receiver"; return; }
    nt_topics 1
    nt_config "$d/cfg.json" 1 "{
      \"link_template\": \"https://grafana.example.com/d/edge?var-entity={entity_id}&from={window_start}\",
      \"receivers\": {\"slack\": {\"type\": \"slack\", \"url\": \"http://127.0.0.1:$NT_PORT/slack\", \"timeout\": \"2s\"},
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
    expect "notify each rule: 8 FIRING lines on stdout" wait_for 10 \
        bash -c "[ \$(grep -c '^FIRING' '$d/notify.out') -ge 8 ]"
    sleep 1.5
    nt_stop $pid
    expect "notify each rule: the notifier exits 0 on SIGTERM" test $? -eq 0
    nt_py "notify each rule: each rule's alert reached Slack exactly once, nothing else was sent" '
recs = records(sys.argv[1], "/slack")
evs = produced(sys.argv[2])
assert len(recs) == 8 and all(r["outcome"] == "delivered" for r in recs), [(r["path"], r["outcome"]) for r in recs]
assert len(records(sys.argv[1])) == 8, "requests to other paths"
for e in evs:
    hits = [r for r in recs if e["entity_id"] in " ".join(strings(r["body"])) and e["rule"] in " ".join(strings(r["body"]))]
    assert len(hits) == 1, (e["rule"], len(hits))' "$NT_LOG" "$d/produced.jsonl"
    nt_py "notify each rule: each Slack message shows status, severity, project, owner, entity, rule, summary, top contributor and link" '
recs = records(sys.argv[1], "/slack")
for e in produced(sys.argv[2]):
    r = next(r for r in recs if e["entity_id"] in " ".join(strings(r["body"])))
    assert isinstance(r["body"], dict) and isinstance(r["body"].get("text"), str), r["body"]
    text = " ".join(strings(r["body"]))
    low = text.lower()
    missing = [w for w in (e["project"], e["owner"], e["entity_id"], e["rule"], e["summary"],
                           e["top_contributors"][0]["value"], "https://grafana.example.com/d/edge?var-entity=" + e["entity_id"])
               if w not in text]
    missing += [w for w in ("firing", e["severity"]) if w not in low]
    assert not missing, (e["rule"], missing, text[:600])' "$NT_LOG" "$d/produced.jsonl"
    nt_py "notify each rule: JSON POSTs, each with its own Idempotency-Key" '
recs = records(sys.argv[1], "/slack")
keys = [header(r, "Idempotency-Key") for r in recs]
assert all(keys) and len(set(keys)) == 8, keys
assert all("application/json" in (header(r, "Content-Type") or "") for r in recs)' "$NT_LOG"
    nt_py "notify each rule: stdout has one FIRING line per rule" '
lines = [l for l in open(sys.argv[1]) if l.startswith("FIRING")]
assert len(lines) == 8, lines
for e in produced(sys.argv[2]):
    n = sum(1 for l in lines if e["rule"] in l and e["entity_id"] in l)
    assert n == 1, (e["rule"], n)' "$d/notify.out" "$d/produced.jsonl"
    nt_receiver_stop
}

# The route tree of docs/notify.md: a critical route with continue, project
# and rule globs, a match on two labels, the root as default.
test_notify_routing() {
    local d=$STACK_DIR/nt2
    mkdir -p "$d"
    nt_receiver_start "$d" || { fail "notify routing: receiver"; return; }
    nt_topics 2
    local u="http://127.0.0.1:$NT_PORT"
    nt_config "$d/cfg.json" 2 "{
      \"receivers\": {\"checkout\": {\"type\": \"webhook\", \"url\": \"$u/checkout\"},
                      \"pager\": {\"type\": \"webhook\", \"url\": \"$u/pager\"},
                      \"finops\": {\"type\": \"webhook\", \"url\": \"$u/finops\"},
                      \"edge\": {\"type\": \"webhook\", \"url\": \"$u/edge\"},
                      \"default\": {\"type\": \"webhook\", \"url\": \"$u/default\"}},
      \"route\": {\"receivers\": [\"default\"], \"group_wait\": \"1s\", \"group_interval\": \"1s\",
        \"routes\": [
          {\"match\": {\"severity\": \"critical\"}, \"receivers\": [\"pager\"], \"continue\": true},
          {\"match\": {\"project\": \"checkout*\"}, \"receiver\": \"checkout\"},
          {\"match\": {\"rule\": [\"cost_spike\", \"cost_drop\"]}, \"receivers\": [\"finops\"]},
          {\"match\": {\"owner\": \"team-edge\", \"entity_id\": \"E9*\"}, \"receivers\": [\"edge\"]}]}}"
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
    expect "notify routing: 10 notifications arrive" wait_for 25 nt_lines_reach 10 "$NT_LOG"
    sleep 1.5
    nt_stop $pid
    local want
    for want in "pager 2 3 8" "checkout 1 2 8" "finops 5" "edge 6" "default 4 7"; do
        nt_py "notify routing: /${want%% *} gets exactly alerts ${want#* }" '
evs = produced(sys.argv[2])
want = sorted(evs[int(i) - 1]["event_id"] for i in sys.argv[4:])
got = sorted(e["event_id"] for r in records(sys.argv[1], "/" + sys.argv[3], "delivered") for e in events_of(r))
assert got == want, (got, want)' "$NT_LOG" "$d/produced.jsonl" $want
    done
    nt_py "notify routing: no request to any other path, none failed" '
recs = records(sys.argv[1])
assert len(recs) == 10, len(recs)
assert all(r["outcome"] == "delivered" for r in recs), [(r["path"], r["status"]) for r in recs]' "$NT_LOG"
    nt_py "notify routing: a webhook gets the alert event itself" '
evs = {e["event_id"]: e for e in produced(sys.argv[2])}
for r in records(sys.argv[1]):
    assert r["body"] == evs[r["body"]["event_id"]], r["body"]' "$NT_LOG" "$d/produced.jsonl"
    nt_receiver_stop
}

# group_wait (2s) gathers alerts of one group; group_interval (5s) delays the next
# notification of a group; group_by [] puts a route's alerts in one group;
# max_batch splits a large group.
test_notify_grouping() {
    local d=$STACK_DIR/nt3
    mkdir -p "$d"
    nt_receiver_start "$d" || { fail "notify grouping: receiver"; return; }
    nt_topics 3
    local u="http://127.0.0.1:$NT_PORT"
    nt_config "$d/cfg.json" 3 "{
      \"receivers\": {\"batch\": {\"type\": \"webhook\", \"url\": \"$u/batch\", \"batch\": true},
                      \"small\": {\"type\": \"webhook\", \"url\": \"$u/small\", \"batch\": true, \"max_batch\": 2},
                      \"warm\": {\"type\": \"webhook\", \"url\": \"$u/warm\"}},
      \"route\": {\"receivers\": [\"batch\"], \"group_by\": [\"project\", \"rule\"], \"group_wait\": \"2s\",
                \"group_interval\": \"5s\",
                \"routes\": [{\"match\": {\"project\": \"bulk\"}, \"receivers\": [\"small\"], \"group_by\": []},
                             {\"match\": {\"project\": \"warm\"}, \"receivers\": [\"warm\"]}]}}"
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
    # A new alert of a notified group waits for group_interval (5s) since that notification.
    nt_produce nt3-alerts "$d/produced.jsonl" rule=request_spike,project=shop,n=4
    wait_for 10 nt_requests_reach 3 "$NT_LOG" /small
    nt_py "notify grouping: 3 alerts of one group in one request, other groups apart" '
recs = sorted(records(sys.argv[1], "/batch"), key=lambda r: r["t_start"])[:3]
sizes = sorted(len(events_of(r)) for r in recs)
assert sizes == [1, 1, 3], sizes
evs = produced(sys.argv[2])
shop = sorted(e["event_id"] for e in evs[:3])
big = next(r for r in recs if len(events_of(r)) == 3)
assert sorted(e["event_id"] for e in events_of(big)) == shop
keys = [r["body"].get("group_key") for r in recs]
assert all(r["body"].get("version") == "1" and r["body"].get("receiver") == "batch" for r in recs), recs[0]["body"]
assert all(keys) and len(set(keys)) == 3, keys' "$NT_LOG" "$d/produced.jsonl"
    nt_py "notify grouping: the first notification waits group_wait (2s), not longer than needed" '
t0 = float(sys.argv[2])
first = min(r["t_start"] for r in records(sys.argv[1], "/batch"))
assert 1.8 <= first - t0 <= 5, round(first - t0, 2)
print("after %.1fs" % (first - t0))' "$NT_LOG" "$t0"
    nt_py "notify grouping: group_by [] gathers 5 alerts, max_batch 2 splits them 2+2+1" '
recs = records(sys.argv[1], "/small")
sizes = sorted(len(events_of(r)) for r in recs)
assert sizes == [1, 2, 2], sizes
ids = sorted(e["event_id"] for r in recs for e in events_of(r))
want = sorted(e["event_id"] for e in produced(sys.argv[2]) if e["project"] == "bulk")
assert ids == want, (ids, want)' "$NT_LOG" "$d/produced.jsonl"
    expect "notify grouping: a later alert of the group is notified" wait_for 15 nt_requests_reach 4 "$NT_LOG" /batch
    sleep 1.5
    nt_stop $pid
    nt_py "notify grouping: it comes alone, group_interval after the group's first notification" '
evs = produced(sys.argv[2])
new = evs[-1]["event_id"]
recs = records(sys.argv[1], "/batch")
assert len(recs) == 4, len(recs)
last = max(recs, key=lambda r: r["t_start"])
assert [e["event_id"] for e in events_of(last)] == [new], events_of(last)
shop = next(r for r in recs if len(events_of(r)) == 3)
gap = last["t_start"] - shop["t_start"]
assert 4.5 <= gap <= 8, round(gap, 2)
assert last["body"]["group_key"] == shop["body"]["group_key"]
print("%.1fs later" % gap)' "$NT_LOG" "$d/produced.jsonl"
    nt_receiver_stop
}

# repeat_interval 5s: an update of a firing alert within it is not
# notified, one after it is; a severity change is notified at once.
test_notify_repeat() {
    local d=$STACK_DIR/nt4
    mkdir -p "$d"
    nt_receiver_start "$d" || { fail "notify repeat: receiver"; return; }
    nt_topics 4
    nt_config "$d/cfg.json" 4 "{
      \"receivers\": {\"rep\": {\"type\": \"webhook\", \"url\": \"http://127.0.0.1:$NT_PORT/rep\"}},
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
    sleep 1.5
    nt_stop $pid
    nt_py "notify repeat: exactly the first, the repeat and the escalation" '
evs = produced(sys.argv[2])
recs = sorted(records(sys.argv[1], "/rep"), key=lambda r: r["t_start"])
got = [e["event_id"] for r in recs for e in events_of(r)]
want = [evs[0]["event_id"], evs[2]["event_id"], evs[3]["event_id"]]
assert got == want, (got, want)
assert recs[1]["t_start"] - recs[0]["t_start"] >= 5, "repeat before repeat_interval"' "$NT_LOG" "$d/produced.jsonl"
    expect "notify repeat: nt:al:rep:<alert_id> holds the last notification (critical, firing, sent_at)" \
        test "$(nt_valkey hget "ewt4:nt:al:rep:$a" severity) $(nt_valkey hget "ewt4:nt:al:rep:$a" status) $(nt_valkey hexists "ewt4:nt:al:rep:$a" sent_at)" = "critical firing 1"
    local ev1 ev2
    ev1=$(sed -n 1p "$d/produced.jsonl" | python3 -c 'import json,sys; print(json.load(sys.stdin)["event_id"])')
    ev2=$(sed -n 2p "$d/produced.jsonl" | python3 -c 'import json,sys; print(json.load(sys.stdin)["event_id"])')
    expect "notify repeat: a delivered event is 'sent' in nt:ev:rep:<event_id>, with a TTL" \
        test "$(nt_valkey get "ewt4:nt:ev:rep:$ev1")" = sent -a "$(nt_valkey pttl "ewt4:nt:ev:rep:$ev1")" -gt 0
    expect "notify repeat: the update that was not notified was never claimed" \
        test "$(nt_valkey exists "ewt4:nt:ev:rep:$ev2")" = 0
    nt_receiver_stop
}

# send_resolved per route: A (true) hears firing, resolved and the re-fire;
# B (false) only the first firing; a resolved never notified as firing is
# not notified.
test_notify_resolved() {
    local d=$STACK_DIR/nt5
    mkdir -p "$d"
    nt_receiver_start "$d" || { fail "notify resolved: receiver"; return; }
    nt_topics 5
    local u="http://127.0.0.1:$NT_PORT"
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
    expect "notify resolved: the firing alert reaches both routes" wait_for 25 nt_lines_reach 2 "$NT_LOG"
    nt_produce nt5-alerts "$d/produced.jsonl" "$x,status=resolved,window=5"
    expect "notify resolved: the resolution reaches the send_resolved route" \
        wait_for 15 nt_requests_reach 2 "$NT_LOG" /a delivered
    sleep 1.5
    nt_produce nt5-alerts "$d/produced.jsonl" "$x,window=9"
    expect "notify resolved: firing again after resolved is notified" \
        wait_for 15 nt_requests_reach 3 "$NT_LOG" /a delivered
    sleep 1.5
    nt_stop $pid
    nt_py "notify resolved: A got firing, resolved, firing; B only the first firing; the lone resolved went nowhere" '
evs = produced(sys.argv[2])
a = [e["event_id"] for r in sorted(records(sys.argv[1], "/a"), key=lambda r: r["t_start"]) for e in events_of(r)]
b = [e["event_id"] for r in records(sys.argv[1], "/b") for e in events_of(r)]
assert a == [evs[0]["event_id"], evs[2]["event_id"], evs[3]["event_id"]], a
assert b == [evs[0]["event_id"]], b
assert [r for r in records(sys.argv[1]) if r["outcome"] != "delivered"] == []' "$NT_LOG" "$d/produced.jsonl"
    nt_receiver_stop
}

# suppressed_by alerts are dropped, except on a route with send_suppressed.
test_notify_suppressed() {
    local d=$STACK_DIR/nt6
    mkdir -p "$d"
    nt_receiver_start "$d" || { fail "notify suppressed: receiver"; return; }
    nt_topics 6
    local u="http://127.0.0.1:$NT_PORT"
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
    expect "notify suppressed: notifications arrive" wait_for 25 bash -c "[ \$(grep -c . '$NT_LOG') -ge 3 ]"
    sleep 2
    nt_stop $pid
    nt_py "notify suppressed: send_suppressed route gets the suppressed and the plain promo alert; the other route only unsuppressed" '
evs = produced(sys.argv[2])
ids = lambda p: sorted(e["event_id"] for r in records(sys.argv[1], p, "delivered") for e in events_of(r))
assert ids("/wants") == sorted([evs[0]["event_id"], evs[3]["event_id"]]), ids("/wants")
assert ids("/plain") == sorted([evs[2]["event_id"], evs[3]["event_id"]]), ids("/plain")
assert len(records(sys.argv[1])) == 4' "$NT_LOG" "$d/produced.jsonl"
    nt_py "notify suppressed: the suppressed alert is delivered unchanged, suppressed_by included" '
evs = produced(sys.argv[2])
r = [r for r in records(sys.argv[1], "/wants") if r["body"].get("event_id") == evs[0]["event_id"]]
assert r and r[0]["body"] == evs[0] and r[0]["body"]["suppressed_by"] == "evt-0123456789ab"' "$NT_LOG" "$d/produced.jsonl"
    expect "notify suppressed: the dropped alert is committed all the same" \
        test "$(nt_uncommitted nt6-alerts nt6)" = 0
    nt_receiver_stop
}

# A receiver answering 500 three times, then 200: retried with backoff and
# one Idempotency-Key per notification, delivered once, committed.
test_notify_500_then_recover() {
    local d=$STACK_DIR/nt7
    mkdir -p "$d"
    nt_receiver_start "$d" || { fail "notify 500: receiver"; return; }
    nt_topics 7
    nt_mode /flaky fail_first:3
    nt_config "$d/cfg.json" 7 "{
      \"receivers\": {\"flaky\": {\"type\": \"webhook\", \"url\": \"http://127.0.0.1:$NT_PORT/flaky\", \"timeout\": \"2s\"}},
      \"route\": {\"receivers\": [\"flaky\"], \"group_wait\": \"1s\", \"group_interval\": \"1s\"}}"
    nt_produce nt7-alerts "$d/produced.jsonl" rule=request_spike,project=a rule=request_spike,project=b \
        rule=error_403_rate,project=c
    nt_start notify "$d/cfg.json"
    local pid=$NT_PID
    expect "notify 500: all three delivered after the receiver recovers" \
        wait_for 30 nt_delivered_reach 3 "$NT_LOG" /flaky
    sleep 1.5
    nt_stop $pid
    nt_py "notify 500: each event delivered exactly once, after the 3 rejected attempts" '
recs = records(sys.argv[1], "/flaky")
evs = produced(sys.argv[2])
rej = [r for r in recs if r["outcome"] == "rejected"]
assert len(rej) == 3 and all(r["status"] == 500 for r in rej), [(r["status"], r["outcome"]) for r in recs]
for e in evs:
    n = sum(1 for r in recs if r["outcome"] == "delivered" for x in events_of(r) if x["event_id"] == e["event_id"])
    assert n == 1, (e["event_id"], n)
print(len(recs), "requests")' "$NT_LOG" "$d/produced.jsonl"
    nt_py "notify 500: every attempt of one event carries the same Idempotency-Key, events differ" '
by = collections.defaultdict(set)
for r in records(sys.argv[1], "/flaky"):
    for e in events_of(r):
        by[e["event_id"]].add(header(r, "Idempotency-Key"))
assert len(by) == 3 and all(len(k) == 1 and None not in k for k in by.values()), dict(by)
assert len(set().union(*by.values())) == 3' "$NT_LOG"
    nt_py "notify 500: a retry waits at least retry.initial (200ms) after a failure" '
by = collections.defaultdict(list)
for r in records(sys.argv[1], "/flaky"):
    by[r["body"]["event_id"]].append(r)
gaps = [b["t_start"] - a["t"] for rs in by.values() for a, b in zip(rs, rs[1:])]
assert gaps and min(gaps) >= 0.15, gaps' "$NT_LOG"
    expect "notify 500: the group's committed offsets reach the end of the topic" \
        test "$(nt_uncommitted nt7-alerts nt7)" = 0
    nt_receiver_stop
}

# Dead letters: a receiver answering 503 past dead_letter_after (4s), one on
# a closed port, one answering 404 (at once), a message that is not JSON and
# one without event_id.
test_notify_dead_letter() {
    local d=$STACK_DIR/nt8
    mkdir -p "$d"
    nt_receiver_start "$d" || { fail "notify dead letter: receiver"; return; }
    nt_topics 8
    nt_mode /unavail status:503
    nt_mode /gone status:404
    local u="http://127.0.0.1:$NT_PORT" closed
    closed=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    nt_config "$d/cfg.json" 8 "{
      \"retry\": {\"initial\": \"200ms\", \"max\": \"1s\", \"dead_letter_after\": \"4s\"},
      \"receivers\": {\"unavail\": {\"type\": \"webhook\", \"url\": \"$u/unavail\", \"timeout\": \"2s\"},
                      \"missing\": {\"type\": \"webhook\", \"url\": \"$u/gone\", \"timeout\": \"2s\"},
                      \"portless\": {\"type\": \"webhook\", \"url\": \"http://127.0.0.1:$closed/x\", \"timeout\": \"2s\",
                                   \"connect_timeout\": \"1s\"},
                      \"ok\": {\"type\": \"webhook\", \"url\": \"$u/ok\"}},
      \"route\": {\"receivers\": [\"ok\"], \"group_wait\": \"1s\", \"group_interval\": \"1s\",
        \"routes\": [{\"match\": {\"project\": \"down\"}, \"receivers\": [\"unavail\"]},
                     {\"match\": {\"project\": \"gone\"}, \"receivers\": [\"missing\"]},
                     {\"match\": {\"project\": \"closed\"}, \"receivers\": [\"portless\"]}]}}"
    nt_produce nt8-alerts "$d/produced.jsonl" rule=request_spike,project=down,n=1 rule=error_5xx_rate,project=down,n=2 \
        rule=request_spike,project=gone rule=request_spike,project=closed rule=request_spike,project=fine
    printf 'bad-1\tnot json at all\n' | kcat -P -b "$KAFKA_BOOTSTRAP" -t nt8-alerts -K '\t'
    python3 "$NT_EVENTS" --kv rule=request_spike,project=fine,n=9,drop=event_id |
        sed 's/^/noid-/' | kcat -P -b "$KAFKA_BOOTSTRAP" -t nt8-alerts -K '\t'
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
    nt_py "notify dead letter: 503 events dead-lettered after dead_letter_after, retried meanwhile, reason names the receiver" '
recs = records(sys.argv[1], "/unavail")
evs = [e for e in produced(sys.argv[2]) if e["project"] == "down"]
dl = [json.loads(l) for l in open(sys.argv[3])]
hdr = lambda m: dict(zip(m["headers"][::2], m["headers"][1::2])) if m.get("headers") else {}
for e in evs:
    tries = [r for r in recs if r["body"]["event_id"] == e["event_id"]]
    assert len(tries) >= 3 and all(r["status"] == 503 for r in tries), len(tries)
    span = tries[-1]["t_start"] - tries[0]["t_start"]
    assert span >= 2.5, span
    m = [m for m in dl if m.get("payload") and e["event_id"] in m["payload"]]
    assert len(m) == 1, len(m)
    m = m[0]
    assert json.loads(m["payload"]) == e and m["key"] == e["alert_id"], m
    h = hdr(m)
    assert "unavail" in h.get("edgewatch.reason", "") and "503" in h["edgewatch.reason"], h
    assert h.get("edgewatch.source.topic") == "nt8-alerts" and "edgewatch.source.partition" in h and "edgewatch.source.offset" in h, h
    waited = m["ts"] / 1000 - tries[0]["t_start"]
    assert 3.5 <= waited <= 12, waited
print(h["edgewatch.reason"])' "$NT_LOG" "$d/produced.jsonl" "$d/dlq.jsonl"
    nt_py "notify dead letter: a 404 is dead-lettered at once, after one attempt" '
recs = records(sys.argv[1], "/gone")
e = next(e for e in produced(sys.argv[2]) if e["project"] == "gone")
dl = [json.loads(l) for l in open(sys.argv[3])]
assert len(recs) == 1 and recs[0]["status"] == 404, len(recs)
m = [m for m in dl if m.get("payload") and e["event_id"] in m["payload"]]
assert len(m) == 1
h = dict(zip(m[0]["headers"][::2], m[0]["headers"][1::2]))
assert "missing" in h["edgewatch.reason"] and "404" in h["edgewatch.reason"], h
waited = m[0]["ts"] / 1000 - recs[0]["t"]
assert waited < 2.0, waited
print("%.2fs, %s" % (waited, h["edgewatch.reason"]))' "$NT_LOG" "$d/produced.jsonl" "$d/dlq.jsonl"
    nt_py "notify dead letter: a closed port is dead-lettered naming its receiver" '
e = next(e for e in produced(sys.argv[1]) if e["project"] == "closed")
dl = [json.loads(l) for l in open(sys.argv[2])]
m = [m for m in dl if m.get("payload") and e["event_id"] in m["payload"]]
assert len(m) == 1
h = dict(zip(m[0]["headers"][::2], m[0]["headers"][1::2]))
assert "portless" in h["edgewatch.reason"], h' "$d/produced.jsonl" "$d/dlq.jsonl"
    nt_py "notify dead letter: malformed messages keep key and bytes, with the decoder's reason" '
dl = [json.loads(l) for l in open(sys.argv[1])]
bad = [m for m in dl if m["key"] == "bad-1"]
assert len(bad) == 1 and bad[0]["payload"] == "not json at all", bad
noid = [m for m in dl if (m["key"] or "").startswith("noid-")]
assert len(noid) == 1 and "event_id" not in json.loads(noid[0]["payload"]), noid
for m in bad + noid:
    h = dict(zip(m["headers"][::2], m["headers"][1::2]))
    assert h.get("edgewatch.reason") and h.get("edgewatch.source.topic") == "nt8-alerts", h
    assert "receiver" not in h["edgewatch.reason"], h
print(" | ".join(dict(zip(m["headers"][::2], m["headers"][1::2]))["edgewatch.reason"] for m in bad + noid))' "$d/dlq.jsonl"
    local ev1
    ev1=$(head -n 1 "$d/produced.jsonl" | python3 -c 'import json,sys; print(json.load(sys.stdin)["event_id"])')
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
    nt_py "notify dead letter: ... and dead-letters no alert event twice" '
ids = []
for m in map(json.loads, open(sys.argv[1])):
    try:
        ids.append(json.loads(m["payload"])["event_id"])
    except (ValueError, KeyError, TypeError):
        pass
assert len(ids) == 4 and len(set(ids)) == 4, ids' "$d/dlq2.jsonl"
    nt_receiver_stop
}

# SIGKILL while a request hangs in the receiver; the restarted notifier
# takes over once the dead instance's claim lease (timeout 2s + 10s) ends.
test_notify_kill_mid_delivery() {
    local d=$STACK_DIR/nt9
    mkdir -p "$d"
    nt_receiver_start "$d" || { fail "notify kill: receiver"; return; }
    nt_topics 9
    nt_mode /hook hang_first:1:4
    nt_config "$d/cfg.json" 9 "{
      \"receivers\": {\"hook\": {\"type\": \"webhook\", \"url\": \"http://127.0.0.1:$NT_PORT/hook\", \"timeout\": \"2s\"}},
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
    nt_py "notify kill: every event delivered exactly once, none lost" '
recs = records(sys.argv[1], "/hook")
cnt = collections.Counter(e["event_id"] for r in recs if r["outcome"] == "delivered" for e in events_of(r))
want = [e["event_id"] for e in produced(sys.argv[2])]
assert sorted(cnt) == sorted(want) and set(cnt.values()) == {1}, cnt
print(len(recs), "requests,", sum(r["outcome"] == "abandoned" for r in recs), "abandoned")' "$NT_LOG" "$d/produced.jsonl"
    nt_py "notify kill: the retried request carries the abandoned one's Idempotency-Key" '
recs = records(sys.argv[1], "/hook")
ab = [r for r in recs if r["outcome"] == "abandoned"]
assert ab
for a in ab:
    later = [r for r in recs if r["outcome"] == "delivered" and r["body"]["event_id"] == a["body"]["event_id"]]
    assert len(later) == 1 and header(later[0], "Idempotency-Key") == header(a, "Idempotency-Key"), \
        (header(a, "Idempotency-Key"), [header(r, "Idempotency-Key") for r in later])' "$NT_LOG"
    expect "notify kill: everything is committed" test "$(nt_uncommitted nt9-alerts nt9)" = 0
    nt_receiver_stop
}

# Two notifiers in different groups sharing Valkey (active-active) and two
# members of one group (one stops midway): every event sent once.
test_notify_two_instances() {
    local d=$STACK_DIR/nt10
    mkdir -p "$d"
    nt_receiver_start "$d" || { fail "notify two instances: receiver"; return; }
    nt_topics 10
    stack_kafka_ctl "topic-create nt10b-alerts 4" > /dev/null
    local notify="{
      \"receivers\": {\"hook\": {\"type\": \"webhook\", \"url\": \"http://127.0.0.1:$NT_PORT/hook\", \"timeout\": \"2s\"}},
      \"route\": {\"receivers\": [\"hook\"], \"group_wait\": \"1s\", \"group_interval\": \"1s\"}"
    nt_config "$d/a.json" 10 "$notify, \"group_id\": \"nt10a\", \"instance\": \"a\"}"
    nt_config "$d/b.json" 10 "$notify, \"group_id\": \"nt10b\", \"instance\": \"b\"}"
    local specs=() i
    for i in $(seq 1 10); do specs+=("rule=request_spike,project=pa$i" "rule=error_5xx_rate,project=pa$i"); done
    nt_produce nt10-alerts "$d/produced_a.jsonl" "${specs[@]}"
    nt_start a "$d/a.json"
    local pa=$NT_PID
    nt_start b "$d/b.json"
    local pb=$NT_PID
    expect "notify two groups: all 20 delivered" wait_for 30 nt_delivered_reach 20 "$NT_LOG" /hook
    sleep 1.5
    nt_stop $pa
    nt_stop $pb
    nt_py "notify two groups (active-active, one Valkey): each of 20 events delivered exactly once" '
cnt = collections.Counter(e["event_id"] for r in records(sys.argv[1], "/hook", "delivered") for e in events_of(r))
want = sorted(e["event_id"] for e in produced(sys.argv[2]))
assert sorted(cnt) == want and set(cnt.values()) == {1}, [k for k, v in cnt.items() if v > 1]' "$NT_LOG" "$d/produced_a.jsonl"
    nt_uncommitted nt10-alerts nt10a nt10-alerts nt10b > "$d/uncommitted" & # checked below
    local unc=$!

    # Two members of one group; the second stops after the first 20.
    : > "$NT_LOG"
    sed 's/"nt10-alerts"/"nt10b-alerts"/; s/"nt10a"/"nt10c"/' "$d/a.json" > "$d/c1.json"
    sed 's/"nt10-alerts"/"nt10b-alerts"/; s/"nt10b"/"nt10c"/' "$d/b.json" > "$d/c2.json"
    nt_start c1 "$d/c1.json"
    local p1=$NT_PID
    nt_start c2 "$d/c2.json"
    local p2=$NT_PID
    specs=()
    for i in $(seq 1 10); do specs+=("rule=request_spike,project=pc$i" "rule=error_403_rate,project=pc$i"); done
    nt_produce nt10b-alerts "$d/produced_c.jsonl" "${specs[@]}"
    expect "notify one group, two members: 20 delivered" wait_for 30 nt_delivered_reach 20 "$NT_LOG" /hook
    nt_stop $p2
    specs=()
    for i in $(seq 11 15); do specs+=("rule=request_spike,project=pc$i" "rule=error_403_rate,project=pc$i"); done
    nt_produce nt10b-alerts "$d/produced_c.jsonl" "${specs[@]}"
    expect "notify one group: after one member stops, the other delivers the next 10" \
        wait_for 30 nt_delivered_reach 30 "$NT_LOG" /hook
    sleep 1.5
    nt_stop $p1
    nt_py "notify one group, two members: each of 30 events delivered exactly once" '
cnt = collections.Counter(e["event_id"] for r in records(sys.argv[1], "/hook", "delivered") for e in events_of(r))
want = sorted(e["event_id"] for e in produced(sys.argv[2]))
assert sorted(cnt) == want and set(cnt.values()) == {1}, (len(cnt), [k for k, v in cnt.items() if v > 1])' \
        "$NT_LOG" "$d/produced_c.jsonl"
    wait $unc
    expect "notify two groups: both groups committed everything" test "$(cat "$d/uncommitted")" = "0 0"
    expect "notify one group: the group committed everything" test "$(nt_uncommitted nt10b-alerts nt10c)" = 0
    nt_receiver_stop
}

# --dry-run renders what would be sent, sends nothing, commits nothing,
# writes nothing to Valkey, and exits at the end of the topic.
test_notify_dry_run() {
    local d=$STACK_DIR/nt11
    mkdir -p "$d"
    nt_receiver_start "$d" || { fail "notify dry-run: receiver"; return; }
    nt_topics 11
    local u="http://127.0.0.1:$NT_PORT"
    nt_config "$d/cfg.json" 11 "{
      \"receivers\": {\"hook\": {\"type\": \"webhook\", \"url\": \"$u/dry\", \"batch\": true},
                      \"chat\": {\"type\": \"slack\", \"url\": \"$u/dryslack\"}},
      \"route\": {\"receivers\": [\"hook\"], \"group_wait\": \"1s\", \"group_interval\": \"1s\",
        \"routes\": [{\"match\": {\"severity\": \"critical\"}, \"receivers\": [\"chat\"], \"continue\": true},
                     {\"receivers\": [\"hook\"]}]}}"
    nt_produce nt11-alerts "$d/produced.jsonl" rule=request_spike,project=shop,severity=warning,n=1 \
        rule=request_spike,project=shop,severity=warning,n=2 rule=error_5xx_rate,project=media,severity=critical
    local rc
    timeout 30 "$NOTIFY" -c "$d/cfg.json" --dry-run --from-beginning > "$d/dry.out" 2> "$d/dry.err"
    rc=$?
    expect "notify dry-run: exits 0 by itself at the end of the topic (exit $rc)" test $rc -eq 0
    expect "notify dry-run: a header per notification (webhook 2 + 1 alerts, slack 1)" python3 -c '
import re, sys
h = [l.rstrip("\n") for l in open(sys.argv[1]) if l.startswith("== dry-run:")]
hook = sorted(int(re.search(r": (\d+) alerts?$", l).group(1)) for l in h if l.startswith("== dry-run: hook (webhook) group "))
chat = [l for l in h if l.startswith("== dry-run: chat (slack) group ")]
assert hook == [1, 2] and len(chat) == 1 and len(h) == 3, h' "$d/dry.out"
    nt_py "notify dry-run: the rendered bodies hold every event" '
text = open(sys.argv[1]).read()
for e in produced(sys.argv[2]):
    assert e["event_id"] in text, e["event_id"]' "$d/dry.out" "$d/produced.jsonl"
    expect "notify dry-run: the receiver got nothing" test "$(grep -c . "$NT_LOG")" -eq 0
    expect "notify dry-run: nothing written to Valkey" test -z "$(nt_valkey --scan --pattern 'ewt11:*')"
    # A real run with the same group still delivers everything.
    nt_start notify "$d/cfg.json"
    local pid=$NT_PID
    expect "notify dry-run: a later real run delivers all 3" wait_for 25 nt_delivered_reach 3 "$NT_LOG" /dry
    expect "notify dry-run: ... and the critical one to Slack" wait_for 10 nt_requests_reach 1 "$NT_LOG" /dryslack delivered
    sleep 1.5
    nt_stop $pid
    timeout 30 "$NOTIFY" -c "$d/cfg.json" --dry-run > "$d/dry2.out" 2> "$d/dry2.err"
    rc=$?
    expect "notify dry-run: without --from-beginning it starts at the committed offsets (nothing to show, exit $rc)" \
        test $rc -eq 0 -a "$(grep -c '^== dry-run:' "$d/dry2.out")" -eq 0
    nt_receiver_stop
}
