#!/usr/bin/env bash
# Integration tests: the real edgewatch binaries against the embedded Kafka
# broker (edgewatch dev-kafka, over loopback TCP) and a real Valkey/Redis
# server. Everything is started in a temporary directory and stopped on exit,
# also when a test fails. Ends with "N passed, N failed".
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
source tests/lib/stack.sh
source tests/integration/test_lua.sh
source tests/integration/test_state.sh
source tests/integration/test_state_show.sh
source tests/integration/test_suppress.sh
source tests/integration/test_replay.sh
source tests/integration/test_score.sh
source tests/integration/test_cost_state.sh
source tests/integration/test_billing.sh
source tests/integration/test_alerts.sh
source tests/integration/test_notify.sh
EW=${EDGEWATCH_BIN:-build/edgewatch}
NOTIFY=${EDGEWATCH_NOTIFY_BIN:-build/edgewatch-notify}
passed=0
failed=0

pass() { echo "PASS: $1"; passed=$((passed + 1)); }
fail() { echo "FAIL: $1"; failed=$((failed + 1)); }
expect() { # expect NAME COMMAND... : passes when the command succeeds
    local name=$1; shift
    if "$@"; then pass "$name"; else fail "$name"; fi
}

# wait_for SECONDS COMMAND...: polls until the command succeeds.
wait_for() {
    local deadline=$((SECONDS + $1)); shift
    until "$@"; do
        [ $SECONDS -ge $deadline ] && return 1
        sleep 0.5
    done
}

exit_code_is() { local want=$1; shift; "$@" >/dev/null 2>&1; [ $? -eq "$want" ]; }
stderr_mentions() { local text=$1; shift; "$@" 2>&1 >/dev/null | grep -q -- "$text"; }

write_config() { # write_config FILE [extra json members]
    cat > "$1" <<JSON
{
  "kafka": {"bootstrap.servers": "$KAFKA_BOOTSTRAP", "session.timeout.ms": "6000",
            "heartbeat.interval.ms": "1000"},
  "valkey": {"host": "127.0.0.1", "port": $VALKEY_PORT},
  "metadata": "$STACK_DIR/meta.json"${2:+,
  $2}
}
JSON
}

offsets_total() {
    redis-cli -p "$VALKEY_PORT" --raw hvals ew:off:cloudfront-realtime-logs | awk '{s += $1} END {print s + 0}'
}
offsets_reach() { [ "$(offsets_total)" -ge "$1" ]; }

test_cli() {
    expect "edgewatch --help exits 0" exit_code_is 0 "$EW" --help
    expect "run --help exits 0" exit_code_is 0 "$EW" run --help
    expect "unknown command exits 2" exit_code_is 2 "$EW" frobnicate
    expect "unknown flag exits 2" exit_code_is 2 "$EW" run --bogus
    expect "unknown flag is named" stderr_mentions "--bogus" "$EW" run --bogus
    expect "run without -c exits 2" exit_code_is 2 "$EW" run
    echo '{"window": {"widht": "60s"}}' > "$STACK_DIR/typo.json"
    expect "config typo exits 2" exit_code_is 2 "$EW" check -c "$STACK_DIR/typo.json"
    expect "config typo is named" stderr_mentions "window.widht" "$EW" check -c "$STACK_DIR/typo.json"
    echo '{"cloudfront": {"fields": ["timestamp", "c-ipp"]}}' > "$STACK_DIR/fields.json"
    expect "unknown field name is named" stderr_mentions "c-ipp" "$EW" check -c "$STACK_DIR/fields.json"
    expect "missing config file exits 2" exit_code_is 2 "$EW" check -c "$STACK_DIR/nope.json"
    echo '{"distributions": [{"id": "E1", "domain": "d1", "rules": {"request_spike": {"z_warning": "x"}}}]}' \
        > "$STACK_DIR/bad-meta.json"
    write_config "$STACK_DIR/bad-meta-cfg.json"
    sed -i "s#$STACK_DIR/meta.json#$STACK_DIR/bad-meta.json#" "$STACK_DIR/bad-meta-cfg.json"
    expect "check names a bad rule override in the metadata" \
        stderr_mentions "distribution E1: override: rules.request_spike.z_warning" "$EW" check -c "$STACK_DIR/bad-meta-cfg.json"
    expect "run exits 2 on a bad metadata file" exit_code_is 2 "$EW" run -c "$STACK_DIR/bad-meta-cfg.json"
    expect "gen unknown scenario exits 2" exit_code_is 2 "$EW" gen --scenario nope --out /dev/null
    expect "notify unknown flag exits 2" exit_code_is 2 "$NOTIFY" --bogus
    expect "dev-kafka --help exits 0" exit_code_is 0 "$EW" dev-kafka --help
}

test_gen_deterministic() {
    "$EW" gen --scenario spike --seed 3 --start 2026-11-01T00:00:00Z --minutes 5 --out "$STACK_DIR/a.tsv" 2>/dev/null
    "$EW" gen --scenario spike --seed 3 --start 2026-11-01T00:00:00Z --minutes 5 --out "$STACK_DIR/b.tsv" 2>/dev/null
    expect "gen is deterministic for a seed" cmp -s "$STACK_DIR/a.tsv" "$STACK_DIR/b.tsv"
    expect "gen writes 43 columns per line" \
        test "$(awk -F'\t' '{print NF}' "$STACK_DIR/a.tsv" | sort -u)" = 43
}

# The main path: records over TCP into the broker, a processor that is
# SIGKILLed mid-stream and restarted, aggregates checked exactly against
# ground truth in Valkey, the spike alert consumed from edgewatch-alerts,
# and the notifier's line for it.
test_end_to_end() {
    local d=$STACK_DIR seed=11 start=2026-11-01T12:00:00Z
    # Ground truth: the same records as plain TSV. The topic gets them as a
    # mix of TSV, JSON, bare Avro and Confluent Avro, plus one malformed
    # record (every dead-letter reason in turn) per 97 good ones.
    "$EW" gen --scenario spike --seed $seed --start $start --out "$d/lines.tsv" \
        --labels "$d/labels.jsonl" --metadata-out "$d/meta.json" 2>/dev/null
    local n
    n=$(wc -l < "$d/lines.tsv")
    write_config "$d/e2e.json" '"cloudfront": {"avro": {"schemas": {"1": "builtin"}}}'
    printf 'not a cloudfront line\n1607374321.541\tonly\ttwo\n' > "$d/bad.tsv"
    kcat -P -b "$KAFKA_BOOTSTRAP" -t cloudfront-realtime-logs -l "$d/bad.tsv"

    "$EW" run -c "$d/e2e.json" 2> "$d/run1.err" &
    local run_pid=$!
    stack_track $run_pid
    "$NOTIFY" -c "$d/e2e.json" > "$d/notify.out" 2> "$d/notify.err" &
    stack_track $!
    "$EW" gen --scenario spike --seed $seed --start $start --to-kafka "$KAFKA_BOOTSTRAP" \
        --encoding mixed --bad-every 97 --bad-out "$d/bad.json" --rate 4000 2>/dev/null &
    local gen_pid=$!
    # Kill the member after it has applied part of the stream, then restart.
    wait_for 30 offsets_reach 3000
    kill -9 $run_pid 2>/dev/null
    wait $run_pid 2>/dev/null
    local at_kill
    at_kill=$(offsets_total)
    redis-cli -p "$VALKEY_PORT" --raw hgetall ew:off:cloudfront-realtime-logs > "$d/offsets_at_kill" 
    "$EW" run -c "$d/e2e.json" 2> "$d/run2.err" &
    run_pid=$!
    stack_track $run_pid
    wait $gen_pid
    local n_bad
    n_bad=$(python3 -c 'import json,sys; print(sum(json.load(open(sys.argv[1])).values()))' "$d/bad.json")
    expect "the member was killed mid-stream ($at_kill of $((n + 2 + n_bad)) offsets applied)" \
        test "$at_kill" -lt $((n + 2 + n_bad))
    expect "processor applies every offset after a SIGKILL and restart" wait_for 60 offsets_reach $((n + 2 + n_bad))
    expect "a firing alert is published" wait_for 30 grep -q FIRING "$d/notify.out"
    sleep 2
    kcat -C -b "$KAFKA_BOOTSTRAP" -t edgewatch-alerts -e -q -f '%s\n' > "$d/alerts.jsonl"
    if python3 tests/integration/check_e2e.py "$d/lines.tsv" "$d/meta.json" "$d/labels.jsonl" \
        "$d/alerts.jsonl" "$VALKEY_PORT" ew: > "$d/check.out"; then
        pass "aggregates equal ground truth; spike alerted with owner; no false alerts ($(tail -1 "$d/check.out"))"
    else
        fail "end-to-end check:"; sed 's/^/    /' "$d/check.out"
        echo "    processor log (restarted member):"; tail -15 "$d/run2.err" | sed 's/^/    /'
    fi
    local spiked
    spiked=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["entity_id"])' "$d/labels.jsonl")
    expect "notifier line names the spiked distribution" grep -q "FIRING .*$spiked" "$d/notify.out"
    kcat -C -b "$KAFKA_BOOTSTRAP" -t edgewatch-dlq -e -q -f '%S|%h\n' > "$d/dlq.out"
    if python3 tests/integration/check_dlq.py "$d/dlq.out" "$d/bad.json" 2 "$d/offsets_at_kill" > "$d/dlq.check"; then
        pass "every malformed record is dead-lettered with its reason, twice only if replayed ($(tail -1 "$d/dlq.check"))"
    else
        fail "DLQ check:"; sed 's/^/    /' "$d/dlq.check"
    fi
    # SIGHUP reloads the metadata; a broken file keeps the previous one.
    cp "$d/meta.json" "$d/meta.good"
    echo '{"distributions": [' > "$d/meta.json"
    kill -HUP $run_pid
    expect "SIGHUP with a broken metadata file keeps the old one, saying why" \
        wait_for 10 grep -q "metadata reload failed, keeping the previous one: .*meta.json" "$d/run2.err"
    cp "$d/meta.good" "$d/meta.json"
    kill -HUP $run_pid
    expect "SIGHUP reloads the metadata file" wait_for 10 grep -q "metadata reloaded from .*meta.json" "$d/run2.err"
    kill -TERM $run_pid
    wait $run_pid
    expect "processor exits 0 on SIGTERM" test $? -eq 0
    expect "shutdown summary is logged" grep -q "stopped: .* records" "$d/run2.err"
    expect "the summary counts records by encoding and dead letters by reason" \
        grep -q "decoded by encoding: tsv=[1-9].* json=[1-9].* avro_confluent=[1-9].* avro_bare=[1-9].*dead letters by reason: .*=" "$d/run2.err"
}

# The labelled detection scenario (its replay is scored by eval_detection.py):
# a short run checks the labels, the metadata and the registered event; the
# evaluator's self-test checks the scoring on hand-made alerts.
test_gen_detection() {
    local d="$STACK_DIR/detection"
    mkdir -p "$d"
    "$EW" gen --scenario detection --days 3 --distributions 12 --seed 5 --start 2026-10-01T00:00:00Z \
        --out /dev/null --labels "$d/labels.jsonl" --metadata-out "$d/meta.json" \
        --events-out "$d/events.jsonl" 2>/dev/null
    expect "gen detection labels 8 incidents, 3 tiny and 1 excluded distribution, and the registered event" \
        python3 - "$d" <<'PY'
import json, sys
d = sys.argv[1]
labels = [json.loads(l) for l in open(f"{d}/labels.jsonl")]
meta = json.load(open(f"{d}/meta.json"))["distributions"]
events = [json.loads(l) for l in open(f"{d}/events.jsonl")]
kinds = sorted(l["kind"] for l in labels)
assert kinds == sorted(["ddos", "403_storm", "origin_5xx", "outage", "slow_origin", "cache_purge",
                        "promotion_registered", "promotion_unregistered", "tiny", "tiny", "tiny", "excluded"]), kinds
incidents = [l for l in labels if l["expect"] != "none"]
assert len({l["entity_id"] for l in incidents}) == 8, "one incident per distribution"
excluded = [m["id"] for m in meta if m.get("excluded")]
assert excluded == [l["entity_id"] for l in labels if l["kind"] == "excluded"], excluded
promo = next(l for l in labels if l["kind"] == "promotion_registered")
assert promo["expect"] == "suppressed" and len(events) == 1, events
e = events[0]
assert e["distribution"] == promo["entity_id"] and e["from_ms"] == promo["start"] - 1800000, e
assert e["to_ms"] == promo["end"] + 1800000 and e["id"].startswith("evt-") and len(e["id"]) == 16, e
PY
    expect "eval_detection.py scores hand-made alerts as expected" quietly "$d/selftest.out" \
        python3 tests/integration/eval_detection_selftest.py
    test_detection_quality "$d"
}

# Issue 6's quality bar: 15 labelled days over 24 distributions (10.4 M
# records, streamed from gen into replay, never written to disk), replayed
# with 5-minute windows and the registered promotion's expected event.
test_detection_quality() {
    local d=$1 start=2026-10-01T00:00:00Z
    "$EW" gen --scenario detection --seed 1 --start $start --out /dev/null --labels "$d/q-labels.jsonl" \
        --metadata-out "$d/q-meta.json" --events-out "$d/q-events.jsonl" 2>/dev/null
    printf '{"kafka": {"bootstrap.servers": "%s"}, "metadata": "%s"}\n' "$KAFKA_BOOTSTRAP" "$d/q-meta.json" \
        > "$d/q-config.json"
    "$EW" gen --scenario detection --seed 1 --start $start --out - 2>/dev/null |
        "$EW" replay -c "$d/q-config.json" --input - --set window.width=5m --suppressions "$d/q-events.jsonl" \
            --alerts-out "$d/q-alerts.jsonl" 2> "$d/q-replay.err"
    if python3 tests/integration/eval_detection.py --labels "$d/q-labels.jsonl" --alerts "$d/q-alerts.jsonl" \
        --window-ms 300000 --metadata "$d/q-meta.json" > "$d/q-eval.out" 2>&1; then
        pass "detection: 15 days, every labelled incident found, quiet otherwise ($(tail -1 "$d/q-eval.out"))"
    else
        fail "detection quality:"; sed 's/^/    /' "$d/q-eval.out"; tail -2 "$d/q-replay.err" | sed 's/^/    /'
    fi
    expect "detection: the registered promotion's spike is published, suppressed_by its event" python3 -c '
import json, sys
event = json.loads(open(sys.argv[2]).readline())
spikes = [json.loads(l) for l in open(sys.argv[1])]
spikes = [a for a in spikes if a["entity_id"] == event["distribution"] and a["rule"] == "request_spike"]
assert spikes and all(a["suppressed_by"] == event["id"] for a in spikes), spikes' "$d/q-alerts.jsonl" "$d/q-events.jsonl"
    expect "detection: the DDoS alert names its concentrated client IPs (top share >= 10 %)" python3 -c '
import json, sys
ddos = next(json.loads(l) for l in open(sys.argv[2]) if json.loads(l)["kind"] == "ddos")
fired = [json.loads(l) for l in open(sys.argv[1])]
fired = [a for a in fired if a["entity_id"] == ddos["entity_id"] and a["rule"] == "request_spike" and a["status"] == "firing"]
ips = [c for c in fired[0]["top_contributors"] if c["dimension"] == "client_ip"]
assert ips and ips[0]["share"] >= 0.10, fired[0]["top_contributors"]' "$d/q-alerts.jsonl" "$d/q-labels.jsonl"
}

# The billing scenario (scored by eval_billing.py): the same seed gives the
# same bytes; the labels name 4 jumps and 5 quiet cases; the truth equals
# the last delivered version of every line keyed by its stable fields (the
# processor's upsert); each jump's first refresh holds its first 8 hours.
test_gen_billing() {
    local d="$STACK_DIR/billing" args=(--scenario billing --seed 7 --days 21 --projects 12)
    mkdir -p "$d"
    "$EW" gen "${args[@]}" --out "$d/a.jsonl" --labels "$d/la.jsonl" --truth "$d/ta.jsonl" 2>/dev/null
    "$EW" gen "${args[@]}" --out "$d/b.jsonl" --labels "$d/lb.jsonl" --truth "$d/tb.jsonl" 2>/dev/null
    expect "gen billing is deterministic for a seed (lines, labels, truth)" \
        bash -c "cmp -s '$d/a.jsonl' '$d/b.jsonl' && cmp -s '$d/la.jsonl' '$d/lb.jsonl' && cmp -s '$d/ta.jsonl' '$d/tb.jsonl'"
    expect "gen billing rejects an unknown flag with exit 2" exit_code_is 2 "$EW" gen --scenario billing --out /dev/null --bogus 1
    expect "gen billing: labels, truth = last version of each line, jumps first seen in first_refresh" \
        quietly "$d/check.out" python3 - "$d" <<'PY'
import collections, json, sys
from decimal import Decimal
d = sys.argv[1]
STABLE = ("billing_period", "usage_account_id", "line_item_type", "service", "usage_type", "operation",
          "resource_id", "region", "usage_start", "usage_end")
labels = [json.loads(l) for l in open(f"{d}/la.jsonl")]
assert sorted(l["project"] for l in labels if l["kind"] == "cost_jump") == \
    ["ml-training", "orders", "streaming", "web-frontend"], labels
assert sorted(l["reason"] for l in labels if l["kind"] == "quiet") == \
    ["credit", "noise_absolute", "noise_relative", "restatement", "untagged"], labels
last, open_version, by_version = {}, None, collections.defaultdict(list)
for line in open(f"{d}/a.jsonl"):
    r = json.loads(line)
    if r.get("kind") == "refresh_end":
        open_version = None
        continue
    assert open_version in (None, r["report_version"]), "a refresh's lines end with its refresh_end"
    open_version = r["report_version"]
    micros = Decimal(r["unblended_cost"]) * 1000000
    assert micros == int(micros) and r["billing_period"] == r["usage_start"][:7], r
    project = r.get("tags", {}).get("user:project", "untagged")
    last[tuple(r.get(k, "") for k in STABLE)] = (project, r["usage_start"][:10], int(micros))
    by_version[r["report_version"]].append(r)
assert open_version is None, "the last refresh is closed"
sums = collections.Counter()
for project, day, micros in last.values():
    sums[(project, day)] += micros
truth = {(t["project"], t["day"]): t["micros"] for t in map(json.loads, open(f"{d}/ta.jsonl"))}
assert truth == dict(sums), "truth != sum of the last version of each line"
for l in (l for l in labels if l["kind"] == "cost_jump"):
    dim = l["top_dimension"]
    seen = [(v, r["usage_start"]) for v, rows in by_version.items() for r in rows
            if r.get(dim) == l["top_value"] and r["usage_start"] >= l["start"]]
    assert min(seen)[0] == l["first_refresh"], (l, min(seen))
    assert sum(v == l["first_refresh"] for v, _ in seen) == 8, l
print(f"{len(last)} lines, {len(truth)} project-days")
PY
    expect "eval_billing.py scores hand-made alerts as expected" quietly "$d/selftest.out" \
        python3 tests/integration/eval_billing_selftest.py
    python3 - "$d/la.jsonl" > "$d/perfect.jsonl" <<'PY'
import json, sys
for i, l in enumerate(json.loads(x) for x in open(sys.argv[1])):
    if l["kind"] == "cost_jump":
        top = [{"dimension": "service", "value": l["top_service"], "impact": l["impact_per_day"], "share": 1.0},
               {"dimension": l["top_dimension"], "value": l["top_value"], "impact": l["impact_per_day"], "share": 1.0}]
        print(json.dumps({"alert_id": f"a{i}", "rule": "cost_spike", "status": "firing", "entity_type": "project",
                          "entity_id": l["project"], "report_version": l["first_refresh"], "window_start": 0,
                          "window_end": 0, "top_contributors": top}))
PY
    expect "eval_billing.py passes alerts made from the labels and totals equal to the truth" \
        quietly "$d/eval.out" python3 tests/integration/eval_billing.py --alerts "$d/perfect.jsonl" \
        --labels "$d/la.jsonl" --truth "$d/ta.jsonl" --totals "$d/ta.jsonl"
}

quietly() { # quietly LOG COMMAND...: runs COMMAND into LOG, shown if it fails
    local log=$1; shift
    "$@" > "$log" 2>&1 || { sed 's/^/    /' "$log"; return 1; }
}

# Persistent Valkey: the outage test restarts it and expects its data back.
STACK_VALKEY_PERSIST=1 stack_up 4 >/dev/null || { echo "could not start the embedded stack"; echo "0 passed, 1 failed"; exit 1; }
test_cli
test_gen_deterministic
test_gen_detection
test_gen_billing
test_end_to_end
test_state_show
test_suppress
test_flush_script
test_cost_state
test_replay
test_replay_topic
test_score
test_billing_replay
test_billing_cross_signal
test_billing_run
test_billing_replay_topic
test_notify_config
test_notify_each_rule
test_notify_routing
test_notify_grouping
test_notify_repeat
test_notify_resolved
test_notify_suppressed
test_notify_500_then_recover
test_notify_dead_letter
test_notify_kill_mid_delivery
test_notify_two_instances
test_notify_dry_run
test_notify_avro
state_timed test_state_crash
state_timed test_state_rebalance
state_timed test_state_outage
state_timed test_state_broker_outage
state_timed test_state_late
test_alert_exactly_once
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
