# shellcheck shell=bash
# test_replay.sh -- `edgewatch replay --input`: history through the same
# stages as live traffic, deterministic, isolated from live state. Sourced
# by run.sh (pass/fail/expect/wait_for, $EW, the stack).

replay_config() { # replay_config FILE: the stack's Valkey, metadata of the run
    cat > "$1" <<JSON
{
  "kafka": {"bootstrap.servers": "$KAFKA_BOOTSTRAP"},
  "valkey": {"host": "127.0.0.1", "port": $VALKEY_PORT},
  "metadata": "$STACK_DIR/replay/meta.json"
}
JSON
}

# Alert files without emitted_at, the only wall-clock field.
replay_strip() { python3 -c 'import json,sys
for l in open(sys.argv[1]):
    a = json.loads(l); a.pop("emitted_at"); print(json.dumps(a, sort_keys=True))' "$1"; }

replay_firing_on() { # replay_firing_on ALERTS ENTITY: a firing replay alert on ENTITY
    python3 -c 'import json,sys
alerts = [json.loads(l) for l in open(sys.argv[1])]
sys.exit(0 if any(a["status"] == "firing" and a["entity_id"] == sys.argv[2] and a["replay"] is True
                  for a in alerts) else 1)' "$1" "$2"
}

# A topic range: 32 partitions (the embedded broker keeps ~5 MB of each),
# the middle two hours of a four-hour stream.
# The embedded broker answers no offset for a time, so this is also the
# fallback: read from the log start and skip records outside the range.
test_replay_topic() {
    local d=$STACK_DIR/replay cfg=$STACK_DIR/replay/topic.json
    stack_kafka_ctl "topic-create replay-logs 32" >/dev/null
    "$EW" gen --scenario spike --seed 21 --start 2026-11-02T00:00:00Z --minutes 240 \
        --to-kafka "$KAFKA_BOOTSTRAP" --topic replay-logs 2>/dev/null
    python3 - "$d/lines.tsv" "$d/range.tsv" <<'PY'
import sys
lo, hi = 1793581200, 1793588400  # 2026-11-02T01:00Z, 03:00Z
with open(sys.argv[2], "w") as out:
    for line in open(sys.argv[1]):
        if lo <= float(line.split("\t", 1)[0]) < hi:
            out.write(line)
PY
    sed 's/"metadata"/"topics": {"cloudfront": "replay-logs"}, "metadata"/' "$d/config.json" > "$cfg"
    local range=(--from 2026-11-02T01:00:00Z --to 2026-11-02T03:00:00Z)
    "$EW" replay -c "$cfg" "${range[@]}" --namespace top1 --alerts-out "$d/t1.jsonl" 2> "$d/t1.err"
    "$EW" replay -c "$cfg" "${range[@]}" --alerts-out "$d/t2.jsonl" 2> "$d/t2.err"
    "$EW" replay -c "$cfg" "${range[@]}" --alerts-out "$d/t2b.jsonl" 2>/dev/null
    expect "replay: a topic range falls back to the log start where the broker has no offset for a time" \
        grep -q "gave no offset for a time on 32 of 32 partitions" "$d/t1.err"
    local inside outside
    inside=$(wc -l < "$d/range.tsv")
    outside=$(( $(wc -l < "$d/lines.tsv") - inside ))
    expect "replay: a topic range folds only records inside it ($inside in, $outside skipped)" \
        grep -q "replay summary: $inside records ($outside outside the range)" "$d/t1.err"
    if python3 tests/integration/check_state.py "$d/range.tsv" "$d/meta.json" "$VALKEY_PORT" ew:ns:top1: \
        --hourly > "$d/tcheck.out" 2>&1; then
        pass "replay: a topic range's counters equal ground truth ($(tail -1 "$d/tcheck.out"))"
    else
        fail "replay: topic range totals:"; sed 's/^/    /' "$d/tcheck.out"
    fi
    expect "replay: two replays of a 32-partition topic range give identical alerts ($(wc -l < "$d/t1.jsonl") events)" \
        cmp -s <(replay_strip "$d/t1.jsonl") <(replay_strip "$d/t2.jsonl")
    expect "replay: a third replay of the topic range (in memory again) gives the same alerts, top contributors included" \
        cmp -s <(replay_strip "$d/t2.jsonl") <(replay_strip "$d/t2b.jsonl")
    expect "replay: --from without --to exits 2" exit_code_is 2 "$EW" replay -c "$cfg" --from 2026-11-02T01:00:00Z
    "$EW" replay -c "$cfg" --input "$d/lines.tsv" --alerts-out "$d/t3.jsonl" --alerts-topic replay-alerts 2>/dev/null
    kcat -C -b "$KAFKA_BOOTSTRAP" -t replay-alerts -e -q -f '%k %s\n' > "$d/t3.kafka" 2>/dev/null
    expect "replay: --alerts-topic produces the same events, keyed by alert id ($(wc -l < "$d/t3.jsonl"))" \
        python3 -c 'import json,sys
kafka = [l.split(" ", 1) for l in open(sys.argv[2]) if l.strip()]
file = [json.loads(l) for l in open(sys.argv[1])]
assert len(file) > 0 and len(kafka) == len(file), (len(file), len(kafka))
assert all(k == json.loads(v)["alert_id"] and json.loads(v)["replay"] is True for k, v in kafka)' "$d/t3.jsonl" "$d/t3.kafka"
    expect "replay: --alerts-topic refuses the live alert topic" \
        exit_code_is 2 "$EW" replay -c "$cfg" --input "$d/lines.tsv" --alerts-topic edgewatch-alerts
}

replay_keys() { redis-cli -p "$VALKEY_PORT" --scan --pattern "$1" | wc -l; }

test_replay() {
    local d=$STACK_DIR/replay cfg=$STACK_DIR/replay/config.json spiked
    mkdir -p "$d"
    "$EW" gen --scenario spike --seed 21 --start 2026-11-02T00:00:00Z --minutes 240 --out "$d/lines.tsv" \
        --labels "$d/labels.jsonl" --metadata-out "$d/meta.json" 2>/dev/null
    replay_config "$cfg"
    spiked=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["entity_id"])' "$d/labels.jsonl")

    "$EW" replay -c "$cfg" --input "$d/lines.tsv" --alerts-out "$d/a1.jsonl" 2> "$d/r1.err"
    expect "replay: exits 0 and logs a summary" grep -q "replay summary: .* records" "$d/r1.err"
    expect "replay: the labelled spike fires, marked replay: true" replay_firing_on "$d/a1.jsonl" "$spiked"

    # Same input split over three files (three partitions), twice, and gzipped.
    split -n l/3 -d "$d/lines.tsv" "$d/part."
    gzip -k "$d/part.01"
    "$EW" replay -c "$cfg" --in-memory --input "$d/part.00" "$d/part.01.gz" "$d/part.02" \
        --alerts-out "$d/a2.jsonl" 2>/dev/null
    "$EW" replay -c "$cfg" --in-memory --input "$d/part.00" "$d/part.01.gz" "$d/part.02" \
        --alerts-out "$d/a3.jsonl" 2>/dev/null
    expect "replay: two runs over three inputs give identical alerts but for emitted_at ($(wc -l < "$d/a2.jsonl") events)" \
        cmp -s <(replay_strip "$d/a2.jsonl") <(replay_strip "$d/a3.jsonl")
    expect "replay: the split, partly gzipped input still finds the spike" replay_firing_on "$d/a2.jsonl" "$spiked"
    "$EW" gen --scenario spike --seed 21 --start 2026-11-02T00:00:00Z --minutes 240 --encoding json \
        --out "$d/lines.json" 2>/dev/null
    "$EW" replay -c "$cfg" --input "$d/lines.json" --alerts-out "$d/a10.jsonl" 2>/dev/null
    expect "replay: JSON lines of the same records give the same alerts as TSV" \
        cmp -s <(replay_strip "$d/a1.jsonl") <(replay_strip "$d/a10.jsonl")
    local codec
    for codec in null deflate; do
        "$EW" gen --scenario spike --seed 21 --start 2026-11-02T00:00:00Z --minutes 240 --encoding avro \
            --avro-codec $codec --out "$d/lines.$codec.avro" 2>/dev/null
        "$EW" replay -c "$cfg" --input "$d/lines.$codec.avro" --alerts-out "$d/a11.$codec.jsonl" 2>/dev/null
        expect "replay: an Avro container file ($codec codec) gives the same alerts as TSV" \
            cmp -s <(replay_strip "$d/a1.jsonl") <(replay_strip "$d/a11.$codec.jsonl")
    done
    head -c 3000000 "$d/lines.null.avro" > "$d/cut.avro"
    expect "replay: a truncated container file exits 1, naming the file" \
        stderr_mentions "cut.avro after" "$EW" replay -c "$cfg" --input "$d/cut.avro" --alerts-out /dev/null
    "$EW" replay -c "$cfg" --input - < "$d/lines.tsv" > "$d/a4.jsonl" 2>/dev/null
    expect "replay: stdin in, alerts on stdout, the same alerts as from the file" \
        cmp -s <(replay_strip "$d/a1.jsonl") <(replay_strip "$d/a4.jsonl")

    "$EW" replay -c "$cfg" --input "$d/lines.tsv" --set rules.request_spike.z_warning=1000 \
        --set rules.request_spike.z_critical=1000 --alerts-out "$d/a5.jsonl" 2>/dev/null
    expect "replay: --set overrides a setting for the run (z 1000: no alert)" test ! -s "$d/a5.jsonl"

    # Namespace: state in Valkey under ew:ns:NS:, exact, live keys untouched.
    local live_before
    live_before=$(redis-cli -p "$VALKEY_PORT" --scan --pattern 'ew:*' | grep -vc '^ew:ns:')
    "$EW" replay -c "$cfg" --namespace t1 --input "$d/lines.tsv" --alerts-out "$d/a6.jsonl" 2>/dev/null
    expect "replay: a namespace gives the same alerts as the in-memory backend" \
        cmp -s <(replay_strip "$d/a1.jsonl") <(replay_strip "$d/a6.jsonl")
    if python3 tests/integration/check_state.py "$d/lines.tsv" "$d/meta.json" "$VALKEY_PORT" ew:ns:t1: --hourly \
        --late-zero > "$d/check.out" 2>&1; then
        pass "replay: every counter in the namespace equals ground truth ($(tail -1 "$d/check.out"))"
    else
        fail "replay: namespace totals:"; sed 's/^/    /' "$d/check.out"
    fi
    expect "replay: live keys are untouched ($live_before)" \
        test "$(redis-cli -p "$VALKEY_PORT" --scan --pattern 'ew:*' | grep -vc '^ew:ns:')" = "$live_before"
    local key ttl
    key=$(redis-cli -p "$VALKEY_PORT" --scan --pattern 'ew:ns:t1:agg:*' | head -1)
    ttl=$(redis-cli -p "$VALKEY_PORT" ttl "$key")
    expect "replay: namespace keys expire ($key: $ttl s)" test "$ttl" -gt 0
    "$EW" replay -c "$cfg" --namespace t2 --cleanup --input "$d/lines.tsv" --alerts-out /dev/null 2> "$d/r7.err"
    expect "replay: --cleanup leaves no key of its namespace" test "$(replay_keys 'ew:ns:t2:*')" = 0
    expect "replay: --cleanup says how many keys it deleted" grep -q "cleanup deleted [1-9][0-9]* keys" "$d/r7.err"

    "$EW" replay -c "$cfg" --input tests/fixtures/stdlog/E2EXAMPLE123.2024-11-14-21.abcd1234.gz \
        tests/fixtures/stdlog/v2-json.log --alerts-out /dev/null 2> "$d/r8.err"
    expect "replay: archived standard logs are read (gzip and v2 JSON)" \
        grep -q "replay summary: [1-9][0-9]* records" "$d/r8.err"

    # A line over cloudfront.max_line_bytes (16384) is one bad record; the
    # lines around it still count.
    { head -n 1 "$d/lines.tsv"; head -c 20000 /dev/zero | tr '\0' 'x'; echo; sed -n 2p "$d/lines.tsv"; } \
        > "$d/long.tsv"
    "$EW" replay -c "$cfg" --input "$d/long.tsv" --alerts-out /dev/null 2> "$d/r9.err"
    expect "replay: an over-long line is one decode error, the lines around it count" \
        grep -q "replay summary: 2 records (0 outside the range), 1 decode errors: line_too_long=1" "$d/r9.err"

    expect "replay: no --input exits 2" exit_code_is 2 "$EW" replay -c "$cfg"
    expect "replay: --in-memory with --namespace exits 2" \
        exit_code_is 2 "$EW" replay -c "$cfg" --in-memory --namespace x --input "$d/lines.tsv"
    expect "replay: a missing input exits 1" exit_code_is 1 "$EW" replay -c "$cfg" --input "$d/nope.tsv"
    expect "replay: a bad namespace is named" stderr_mentions "a/b" \
        "$EW" replay -c "$cfg" --namespace a/b --input "$d/lines.tsv"
    replay_suppressions "$d" "$cfg" "$spiked"
}

# suppressed_by: a silence from a file, then the live ones from Valkey.
replay_suppressions() { # replay_suppressions DIR CONFIG SPIKED_ENTITY
    local d=$1 cfg=$2 spiked=$3 id
    printf '%s\n' '{"id":"sil-00000000beef","kind":"silence","project":null,"distribution":"'"$spiked"'","rule":"request_spike","from_ms":1793577600000,"to_ms":1793664000000,"multiplier":null,"reason":"test","created_ms":1793577600000}' \
        > "$d/silences.jsonl"
    "$EW" replay -c "$cfg" --input "$d/lines.tsv" --suppressions "$d/silences.jsonl" --alerts-out "$d/s1.jsonl" 2>/dev/null
    expect "replay: a silence marks the spike's events suppressed_by its id, still published" python3 -c 'import json,sys
ev = [json.loads(l) for l in open(sys.argv[1])]
spike = [a for a in ev if a["entity_id"] == sys.argv[2] and a["rule"] == "request_spike"]
assert spike and all(a["suppressed_by"] == "sil-00000000beef" for a in spike), spike
assert all(a["suppressed_by"] is None for a in ev if a not in spike)' "$d/s1.jsonl" "$spiked"
    expect "replay: without --suppressions nothing is suppressed" python3 -c 'import json,sys
assert all(json.loads(l)["suppressed_by"] is None for l in open(sys.argv[1]))' "$d/a1.jsonl"
    echo '{"id": "x"}' > "$d/bad-silences.jsonl"
    expect "replay: a bad --suppressions file exits 2 naming it" \
        stderr_mentions "bad-silences.jsonl" "$EW" replay -c "$cfg" --input "$d/lines.tsv" --suppressions "$d/bad-silences.jsonl"
    id=$("$EW" silence add -c "$cfg" --distribution "$spiked" --from 2026-11-02T00:00:00Z --to 2026-11-03T00:00:00Z \
        --reason "replay test" 2>/dev/null)
    "$EW" replay -c "$cfg" --input "$d/lines.tsv" --suppressions valkey --namespace sup --cleanup \
        --alerts-out "$d/s2.jsonl" 2>/dev/null
    expect "replay: --suppressions valkey applies the live silences ($id)" python3 -c 'import json,sys
ev = [json.loads(l) for l in open(sys.argv[1]) if json.loads(l)["entity_id"] == sys.argv[2]]
assert ev and all(a["suppressed_by"] == sys.argv[3] for a in ev), ev' "$d/s2.jsonl" "$spiked" "$id"
    "$EW" silence rm -c "$cfg" "$id" >/dev/null 2>&1
}
