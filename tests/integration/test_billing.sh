# Billing events and cost anomalies (issue 7), sourced by run.sh.
#
# test_billing_replay      the labelled billing scenario through replay, in
#                          memory and into a Valkey namespace: every jump
#                          alerted from its first refresh with the right top
#                          contributor, nothing else, totals exact, twice the
#                          same alerts
# test_billing_run         `edgewatch run` on the billing topic of the
#                          embedded broker, killed mid-stream and restarted:
#                          totals exact, jumps alerted on the alert topic,
#                          malformed lines dead-lettered with their reason
# test_billing_cross_signal a traffic spike and a CloudFront bandwidth jump of
#                          the same distribution list each other
# test_billing_replay_topic `replay --from/--to` also replays the billing
#                          topic: the same alerts and totals as the file,
#                          and refreshes that arrived outside the range skipped

BILLING_START=2026-10-01T00:00:00Z
BILLING_END=2026-11-01T00:00:00Z

billing_config() { # billing_config FILE [METADATA] [extra json members]: write_config, own metadata or none
    write_config "$1" "${3:-}"
    python3 - "$1" "${2:-}" <<'PY'
import json, sys
path, meta = sys.argv[1:3]
cfg = json.load(open(path))
if meta:
    cfg["metadata"] = meta
else:
    cfg.pop("metadata", None)
json.dump(cfg, open(path, "w"), indent=2)
PY
}

billing_eval() { # billing_eval NAME ALERTS LABELS [TRUTH TOTALS]
    local name=$1 alerts=$2 labels=$3 out=$STACK_DIR/eval_billing.$RANDOM
    local extra=()
    [ $# -ge 5 ] && extra=(--truth "$4" --totals "$5")
    if python3 tests/integration/eval_billing.py --alerts "$alerts" --labels "$labels" "${extra[@]}" > "$out"; then
        pass "$name ($(tail -1 "$out"))"
    else
        fail "$name:"; sed 's/^/    /' "$out" | tail -20
    fi
}

test_billing_replay() {
    local d=$STACK_DIR/billing_replay
    mkdir -p "$d"
    billing_config "$d/cfg.json"
    "$EW" gen --scenario billing --seed 1 --start $BILLING_START --out "$d/bill.jsonl" --labels "$d/labels.jsonl" \
        --truth "$d/truth.jsonl" 2> "$d/gen.err" || { fail "gen --scenario billing"; cat "$d/gen.err"; return; }
    local t0=$SECONDS
    quietly "$d/replay1.err" "$EW" replay -c "$d/cfg.json" --billing "$d/bill.jsonl" --alerts-out "$d/alerts1.jsonl"
    local took=$((SECONDS - t0))
    billing_eval "billing replay in memory: each jump alerted from its first refresh with its cause, ${took}s" \
        "$d/alerts1.jsonl" "$d/labels.jsonl"
    expect "replay summary counts billing lines, refresh ends and cost alerts" \
        grep -q "billing: [0-9]* records ([0-9]* lines, [1-9][0-9]* refresh ends).*cost_spike [1-9]" "$d/replay1.err"
    # Same input, same settings: the same alerts (a file found by --input is billing too).
    quietly "$d/replay2.err" "$EW" replay -c "$d/cfg.json" --input "$d/bill.jsonl" --alerts-out "$d/alerts2.jsonl"
    expect "two billing replays give identical alerts apart from emitted_at" \
        cmp <(sed 's/"emitted_at":"[^"]*"//' "$d/alerts1.jsonl") <(sed 's/"emitted_at":"[^"]*"//' "$d/alerts2.jsonl")
    # Into Valkey: totals read back with `state show` equal the ground truth.
    quietly "$d/replay3.err" "$EW" replay -c "$d/cfg.json" --namespace bill1 --billing "$d/bill.jsonl" \
        --alerts-out "$d/alerts3.jsonl"
    python3 tests/integration/billing_totals.py "$EW" "$d/cfg.json" "$d/truth.jsonl" $BILLING_START $BILLING_END \
        --namespace bill1 > "$d/totals.jsonl"
    billing_eval "billing replay into Valkey: same alerts, stored totals equal ground truth" \
        "$d/alerts3.jsonl" "$d/labels.jsonl" "$d/truth.jsonl" "$d/totals.jsonl"
    expect "both backends give the same cost alerts" \
        cmp <(sed 's/"emitted_at":"[^"]*"//' "$d/alerts1.jsonl") <(sed 's/"emitted_at":"[^"]*"//' "$d/alerts3.jsonl")
    # A replay applied twice into the same namespace is refused, not double counted.
    "$EW" replay -c "$d/cfg.json" --namespace bill1 --billing "$d/bill.jsonl" --alerts-out "$d/alerts4.jsonl" \
        2> "$d/replay4.err"
    local rc=$?
    expect "replaying the same billing file into the same namespace again is refused (exit $rc)" \
        bash -c "[ $rc -eq 1 ] && grep -q 'refused billing lines' '$d/replay4.err'"
    python3 tests/integration/billing_totals.py "$EW" "$d/cfg.json" "$d/truth.jsonl" $BILLING_START $BILLING_END \
        --namespace bill1 > "$d/totals2.jsonl"
    expect "after the refused second replay the totals are unchanged" cmp "$d/totals.jsonl" "$d/totals2.jsonl"
}

test_billing_replay_topic() {
    local d=$STACK_DIR/billing_topic
    mkdir -p "$d"
    billing_config "$d/cfg.json"
    # The embedded broker keeps about 5 MB per partition, and a period's
    # lines share one partition: 8,000 lines (3.6 MB, 20 refreshes).
    "$EW" gen --scenario billing --seed 1 --start $BILLING_START --days 21 --projects 12 --out - 2> /dev/null |
        head -n 8000 > "$d/part.jsonl"
    stack_kafka_ctl "topic-create bt-billing 1" > /dev/null
    stack_kafka_ctl "topic-create bt-cloudfront 1" > /dev/null
    local from=$(( $(date +%s) - 60 ))
    sed 's/^/2026-10\t/' "$d/part.jsonl" | kcat -P -b "$KAFKA_BOOTSTRAP" -t bt-billing -K '\t'
    local to=$(( $(date +%s) + 60 ))
    # A week of history: sensitive settings so that the short input alerts.
    local topics=(--set topics.billing=bt-billing --set topics.cloudfront=bt-cloudfront)
    local sensitive=(--set rules.cost_spike.min_impact=1 --set rules.cost_spike.min_impact_percent=1
        --set rules.cost_spike.z_warning=1 --set rules.cost_spike.long_window=3d
        --set rules.cost_spike.warmup_windows=1)
    quietly "$d/file.err" "$EW" replay -c "$d/cfg.json" --namespace btf --billing "$d/part.jsonl" \
        "${sensitive[@]}" --alerts-out "$d/file.jsonl"
    quietly "$d/topic.err" "$EW" replay -c "$d/cfg.json" --namespace btt --from $from --to $to "${topics[@]}" \
        "${sensitive[@]}" --alerts-out "$d/topic.jsonl"
    local refreshes
    refreshes=$(grep -o "billing: [0-9]* records ([0-9]* lines, [0-9]* refresh ends)" "$d/topic.err")
    expect "replay --from/--to reads the billing topic too ($refreshes)" \
        grep -q "billing: 8000 records (7980 lines, 20 refresh ends)" "$d/topic.err"
    expect "the billing topic range gives the same alerts as the file ($(grep -c . "$d/file.jsonl") events)" \
        test -s "$d/file.jsonl" -a "$(grep -c . "$d/file.jsonl")" -ge 10
    expect "... event for event, apart from emitted_at" \
        cmp <(sed 's/"emitted_at":"[^"]*"//' "$d/file.jsonl") <(sed 's/"emitted_at":"[^"]*"//' "$d/topic.jsonl")
    local same=0 project
    for project in streaming orders web-frontend; do
        cmp -s <("$EW" state show -c "$d/cfg.json" --namespace btf --project $project \
                    --from $BILLING_START --to 2026-10-22T00:00:00Z 2>&1) \
               <("$EW" state show -c "$d/cfg.json" --namespace btt --project $project \
                    --from $BILLING_START --to 2026-10-22T00:00:00Z 2>&1) && same=$((same + 1))
    done
    expect "the stored cost per day equals the file replay's ($same of 3 projects)" test $same -eq 3
    quietly "$d/past.err" "$EW" replay -c "$d/cfg.json" --in-memory --from 2020-01-01T00:00:00Z \
        --to 2020-01-02T00:00:00Z "${topics[@]}" "${sensitive[@]}" --alerts-out "$d/past.jsonl"
    expect "refreshes that arrived outside the range are skipped" \
        bash -c "grep -q '8000 billing records of bt-billing arrived outside the range' '$d/past.err' && [ ! -s '$d/past.jsonl' ]"
}

billing_stream() { # billing_stream FILE: keyed by billing period, 700 lines/s
    python3 -c '
import sys, time
for n, line in enumerate(open(sys.argv[1]), 1):
    sys.stdout.write("2026-10\t" + line)
    if n % 70 == 0:
        sys.stdout.flush()
        time.sleep(0.1)
' "$1" | kcat -P -b "$KAFKA_BOOTSTRAP" -t billing-events -K '\t'
}

billing_offsets_total() {
    redis-cli -p "$VALKEY_PORT" --raw hvals ew:off:billing-events | awk '{s += $1} END {print s + 0}'
}
billing_offsets_reach() { [ "$(billing_offsets_total)" -ge "$1" ]; }

test_billing_run() {
    local d=$STACK_DIR/billing_run
    mkdir -p "$d"
    billing_config "$d/cfg.json"
    local args=(--scenario billing --seed 2 --start $BILLING_START --projects 12 --days 21)
    "$EW" gen "${args[@]}" --out "$d/bill.jsonl" --labels "$d/labels.jsonl" --truth "$d/truth.jsonl" 2>/dev/null
    # Malformed lines, one per reason, go first on partition 0 of the topic.
    cat > "$d/bad.jsonl" <<'BAD'
{"billing_period":"2026-10","line_item_type":"Usage","service":"AmazonEC2","usage_start":"2026-10-01T00:00:00Z","usage_end":"2026-10-01T01:00:00Z","unblended_cost":"NaN","currency":"USD","report_version":"x"}
{"billing_period":"2026-10","line_item_type":"Usage","service":"AmazonEC2","usage_start":"2026-10-01T00:00:00Z","usage_end":"2026-10-01T01:00:00Z","unblended_cost":"1.5","currency":"XXX","report_version":"x"}
{"billing_period":"2026-10","line_item_type":"Usage","service":"AmazonEC2","usage_start":"2026-10-01T02:00:00Z","usage_end":"2026-10-01T01:00:00Z","unblended_cost":"1.5","currency":"USD","report_version":"x"}
{"billing_period":"2026-10","line_item_type":"Usage","service":"AmazonEC2","usage_start":"2026-10-01T00:00:00Z","usage_end":"2026-10-01T01:00:00Z","usage_amount":-2,"unblended_cost":"1.5","currency":"USD","report_version":"x"}
{"billing_period":"2026-10","line_item_type":"Usage","usage_start":"2026-10-01T00:00:00Z","usage_end":"2026-10-01T01:00:00Z","unblended_cost":"1.5","currency":"USD","report_version":"x"}
not json at all
BAD
    sed 's/^/2026-10\t/' "$d/bad.jsonl" | kcat -P -b "$KAFKA_BOOTSTRAP" -t billing-events -K '\t'

    local n n_bad=6
    n=$(wc -l < "$d/bill.jsonl")
    "$EW" run -c "$d/cfg.json" 2> "$d/run1.err" &
    local run_pid=$!
    stack_track $run_pid
    # dev-kafka keeps about 5 MB per partition and a period's lines share one
    # partition: stream them at 700 lines/s so the log never runs ahead of the
    # consumer by more than that, even while the killed member's session expires.
    billing_stream "$d/bill.jsonl" &
    local gen_pid=$!
    wait_for 60 billing_offsets_reach $((n / 3))
    kill -9 $run_pid 2>/dev/null
    wait $run_pid 2>/dev/null
    local at_kill
    at_kill=$(billing_offsets_total)
    "$EW" run -c "$d/cfg.json" 2> "$d/run2.err" &
    run_pid=$!
    stack_track $run_pid
    wait $gen_pid
    expect "billing member killed mid-stream ($at_kill of $((n + n_bad)) offsets applied)" \
        test "$at_kill" -lt $((n + n_bad))
    expect "every billing offset is applied after a SIGKILL and restart" \
        wait_for 120 billing_offsets_reach $((n + n_bad))
    sleep 2
    python3 tests/integration/billing_totals.py "$EW" "$d/cfg.json" "$d/truth.jsonl" $BILLING_START $BILLING_END \
        > "$d/totals.jsonl"
    kcat -C -b "$KAFKA_BOOTSTRAP" -t edgewatch-alerts -e -q -f '%s\n' > "$d/alerts.jsonl"
    billing_eval "run with a SIGKILL: cost jumps alerted on the alert topic, totals exact" \
        "$d/alerts.jsonl" "$d/labels.jsonl" "$d/truth.jsonl" "$d/totals.jsonl"
    kcat -C -b "$KAFKA_BOOTSTRAP" -t edgewatch-dlq -e -q -f '%h\n' | grep 'edgewatch.source.topic=billing-events' |
        grep -o 'edgewatch.reason=[a-z_]*' | sort -u > "$d/dlq_reasons"
    expect "malformed billing lines are dead-lettered with their reasons ($(tr '\n' ' ' < "$d/dlq_reasons"))" \
        test "$(grep -c -E 'bad_amount|unknown_currency|bad_interval|negative_usage_positive_cost|missing_field|bad_json' "$d/dlq_reasons")" -eq 6
    kill -TERM $run_pid
    wait $run_pid
    expect "run exits 0 on SIGTERM with the billing consumer running" test $? -eq 0
    expect "run logs the billing summary at shutdown" grep -q "billing: [0-9]* records" "$d/run2.err"
}

# Hourly CloudFront cost of one distribution for 16 days, tripled from
# 08:00 of the spike's day, refreshed every 8 hours.
make_cloudfront_bill() { # make_cloudfront_bill OUT PROJECT DISTRIBUTION JUMP_DAY
    python3 - "$@" <<'PY'
import datetime, json, sys
out, project, dist, jump_day = sys.argv[1:5]
t0 = datetime.datetime(2026, 10, 1, tzinfo=datetime.timezone.utc)
jump = datetime.datetime.fromisoformat(jump_day + "T08:00:00+00:00")
iso = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")
with open(out, "w") as f:
    for refresh in range(16 * 3 + 2):
        end = t0 + datetime.timedelta(hours=8 * (refresh + 1))
        version = iso(end)
        for h in range(8):
            start = end - datetime.timedelta(hours=8 - h)
            cost = 300 if start >= jump else 100
            f.write(json.dumps({"billing_period": "2026-10", "usage_account_id": "123456789012",
                "line_item_type": "Usage", "service": "AmazonCloudFront", "usage_type": "DataTransfer-Out-Bytes",
                "operation": "GET", "resource_id": dist, "region": "global", "usage_start": iso(start),
                "usage_end": iso(start + datetime.timedelta(hours=1)), "unblended_cost": "%d.00" % cost,
                "currency": "USD", "tags": {"user:project": project}, "report_version": version}) + "\n")
        f.write(json.dumps({"kind": "refresh_end", "billing_period": "2026-10", "report_version": version}) + "\n")
PY
}

test_billing_cross_signal() {
    local d=$STACK_DIR/cross
    mkdir -p "$d"
    "$EW" gen --scenario spike --seed 3 --start 2026-10-16T10:00:00Z --out "$d/lines.tsv" \
        --labels "$d/labels.jsonl" --metadata-out "$d/meta.json" 2>/dev/null
    local project dist
    project=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["project"])' "$d/labels.jsonl")
    dist=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["entity_id"])' "$d/labels.jsonl")
    make_cloudfront_bill "$d/bill.jsonl" "$project" "$dist" 2026-10-16
    billing_config "$d/cfg.json" "$d/meta.json"
    quietly "$d/replay.err" "$EW" replay -c "$d/cfg.json" --input "$d/lines.tsv" "$d/bill.jsonl" \
        --alerts-out "$d/alerts.jsonl"
    if python3 - "$d/alerts.jsonl" "$project" "$dist" > "$d/check.out" <<'PY'
import json, sys
alerts = [json.loads(l) for l in open(sys.argv[1])]
project, dist = sys.argv[2:4]
traffic = {a["alert_id"] for a in alerts if a["entity_id"] == dist and a["rule"] == "request_spike"}
cost = [a for a in alerts if a["rule"] == "cost_spike" and a["entity_id"] == project and a["status"] == "firing"]
if not traffic or not cost:
    sys.exit(f"missing alerts: {len(traffic)} traffic, {len(cost)} cost")
first = cost[0]
if not set(first["related_alerts"]) & traffic:
    sys.exit(f"cost alert related_alerts {first['related_alerts']} lacks the spike {sorted(traffic)}")
top = first["top_contributors"]
res = [c for c in top if c["dimension"] == "resource_id"]
if not res or res[0]["value"] != dist:
    sys.exit(f"top resource is not {dist}: {top}")
print(f"cost alert {first['alert_id']} lists {first['related_alerts']}; top resource {dist} "
      f"+${res[0]['impact']:.0f}/day; summary: {first['summary']}")
PY
    then
        pass "a bandwidth cost alert lists the request spike of its distribution ($(cat "$d/check.out"))"
    else
        fail "cross-signal, cost to traffic: $(cat "$d/check.out")"
    fi
    # The other way: costs first (into a namespace), then the traffic of the
    # same day into the same namespace: the spike's events list the cost alert.
    quietly "$d/replay_b.err" "$EW" replay -c "$d/cfg.json" --namespace cross --billing "$d/bill.jsonl" \
        --alerts-out "$d/alerts_b.jsonl"
    quietly "$d/replay_t.err" "$EW" replay -c "$d/cfg.json" --namespace cross --input "$d/lines.tsv" \
        --alerts-out "$d/alerts_t.jsonl"
    local cost_id
    cost_id=$(python3 -c 'import json,sys; print([a for a in map(json.loads, open(sys.argv[1])) if a["rule"] == "cost_spike"][0]["alert_id"])' "$d/alerts_b.jsonl")
    expect "the request spike's events list the project's open cost alert $cost_id" \
        python3 -c 'import json,sys
spikes = [a for a in map(json.loads, open(sys.argv[1])) if a["rule"] == "request_spike" and a["entity_id"] == sys.argv[3]]
assert spikes and all(sys.argv[2] in a["related_alerts"] for a in spikes), spikes' "$d/alerts_t.jsonl" "$cost_id" "$dist"
}
