# Alert events on Kafka (issue 8, docs/alerts.md), sourced by run.sh.
#
# test_alert_exactly_once  one hour of synthetic traffic, streamed once to its
#   own topic, read by three consumers of their own (group, Valkey prefix,
#   alert topic):
#   - "crash": `edgewatch run` with EDGEWATCH_FAILPOINT=alerts_flushed:N,
#     which SIGKILLs itself right after the broker acknowledged its Nth
#     alert event and before that window's scoring is committed; then
#     restarted without it. Its topic must hold exactly the event_ids of a
#     replay of the same input, some of them twice (the re-emission), each
#     repeat identical to the first apart from emitted_at.
#   - "avro": `edgewatch run` with alerts.format avro and schema id 42, no
#     crash: every message framed (0, then 42 in 4 bytes), its key the
#     datum's first field, the same event_ids, none twice.
#   - `replay --alerts-topic` with bare Avro: one message per line of
#     --alerts-out, unframed.
#   It first runs state/close.lua directly: windows are claimed in order,
#   never past one whose lease is held (else the restarted member scores
#   later windows first and the re-scoring changes ids instead of
#   repeating them).
# The rules are made sensitive (z 2, fire and resolve after one window) so
# the hour has about 47 alert events over 32 windows instead of 2.

ALERTS_TOPIC_IN=alerts-eo-input
ALERTS_RULE_SET=(
    --set rules.request_spike.z_warning=2 --set rules.request_drop.z_warning=2
    --set rules.request_spike.warmup_windows=5 --set rules.request_drop.warmup_windows=5
    --set rules.request_spike.fire_after=1 --set rules.request_spike.fire_window=1
    --set rules.request_drop.fire_after=1 --set rules.request_drop.fire_window=1
    --set rules.request_spike.min_change=0.2 --set rules.request_drop.min_change=0.2
    --set rules.request_spike.resolve_after=1 --set rules.request_drop.resolve_after=1
)

alerts_config() { # alerts_config FILE NAME [FORMAT SCHEMA_ID]: own group, prefix and alert topic
    python3 - "$@" "$KAFKA_BOOTSTRAP" "$VALKEY_PORT" "$STACK_DIR/alerts/meta.json" "$ALERTS_TOPIC_IN" <<'PY'
import json, sys
args = sys.argv[1:]
path, name = args[0], args[1]
fmt, schema_id = (args[2], int(args[3])) if len(args) == 8 else ("json", -1)
bootstrap, port, meta, topic_in = args[-4:]
json.dump({
    "kafka": {"bootstrap.servers": bootstrap, "group.id": f"alerts-{name}", "session.timeout.ms": "6000",
              "heartbeat.interval.ms": "1000"},
    "valkey": {"host": "127.0.0.1", "port": int(port), "prefix": f"ewa-{name}:"},
    "topics": {"cloudfront": topic_in, "alerts": f"alerts-{name}"},
    "alerts": {"format": fmt, "schema_id": schema_id},
    "billing": {"enabled": False},
    "metadata": meta,
}, open(path, "w"), indent=2)
PY
}

alerts_offsets_reach() { # alerts_offsets_reach NAME N
    [ "$(redis-cli -p "$VALKEY_PORT" --raw hvals "ewa-$1:off:$ALERTS_TOPIC_IN" | awk '{s += $1} END {print s + 0}')" \
        -ge "$2" ]
}

# Every window before the cut has been scored for good (claim "done").
alerts_scored_through() { # alerts_scored_through NAME FIRST_WS_S CUT_WS_S
    local keys=() ws
    for ((ws = $2; ws < $3; ws += 60)); do keys+=("ewa-$1:claim:$ws"); done
    [ "$(redis-cli -p "$VALKEY_PORT" --raw mget "${keys[@]}" | grep -cx done)" -eq ${#keys[@]} ]
}

alerts_done() { # alerts_done NAME RECORDS FIRST_WS_S CUT_WS_S
    alerts_offsets_reach "$1" "$2" && alerts_scored_through "$1" "$3" "$4"
}

alerts_pid_gone() { ! kill -0 "$1" 2>/dev/null; }

# Runs a check into LOG; passes NAME with the check's last line, or fails
# showing the log.
alerts_expect_check() { # alerts_expect_check NAME LOG COMMAND...
    local name=$1 log=$2; shift 2
    if "$@" > "$log" 2>&1; then
        pass "$name: $(tail -1 "$log")"
    else
        fail "$name:"; sed 's/^/    /' "$log" | tail -5
        return 1
    fi
}

# Checks a topic's events (one "key<TAB>json" line each) against the replay.
alerts_check_json() { # alerts_check_json TOPIC_DUMP REFERENCE CUT_MS
    python3 - "$@" <<'PY'
import collections, datetime, json, sys
dump, ref_path, cut = sys.argv[1], sys.argv[2], int(sys.argv[3])
events = []
for line in open(dump):
    key, _, value = line.rstrip("\n").partition("\t")
    e = json.loads(value)
    assert key == e["alert_id"], f"key {key} is not the alert_id of {e['event_id']}"
    events.append(e)
ref = {e["event_id"] for e in map(json.loads, open(ref_path)) if e["window_start"] < cut}
got = [e for e in events if e["window_start"] < cut]
ids = {e["event_id"] for e in got}
missing, extra = sorted(ref - ids), sorted(ids - ref)
assert not missing and not extra, f"missing {missing[:5]} ({len(missing)}), extra {extra[:5]} ({len(extra)})"
by_id = collections.defaultdict(list)
for e in got:
    by_id[e["event_id"]].append(e)
dups = {k: v for k, v in by_id.items() if len(v) > 1}
assert dups, f"no event_id appears twice among {len(got)} events: the crash re-emitted nothing"
for k, copies in dups.items():
    strip = [{f: v for f, v in c.items() if f != "emitted_at"} for c in copies]
    assert all(s == strip[0] for s in strip), f"the copies of {k} differ beyond emitted_at"
secs = lambda c: datetime.datetime.fromisoformat(c["emitted_at"].replace("Z", "+00:00")).timestamp()
later = max(secs(v[-1]) - secs(v[0]) for v in dups.values())
print(f"{len(got)} events, {len(ids)} distinct = replay's {len(ref)}; {len(dups)} event_id(s) twice, "
      f"identical apart from emitted_at, re-emitted {later:.0f} s later ({', '.join(sorted(dups))})")
PY
}

# Reads "key SIZE\n<SIZE bytes>" records (kcat -f '%k %S\n%s') of Avro
# alert events: checks the framing and reads the first two fields, the
# alert_id and event_id strings, without a general Avro decoder.
alerts_check_avro() { # alerts_check_avro DUMP REFERENCE CUT_MS SCHEMA_ID
    python3 - "$@" <<'PY'
import collections, json, sys
dump, ref_path, cut, schema_id = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
data, pos, msgs = open(dump, "rb").read(), 0, []
while pos < len(data):
    nl = data.index(b"\n", pos)
    key, size = data[pos:nl].decode().rsplit(" ", 1)
    msgs.append((key, data[nl + 1:nl + 1 + int(size)]))
    pos = nl + 1 + int(size)

def varint(b, i):
    shift = n = 0
    while True:
        n |= (b[i] & 0x7F) << shift
        shift += 7
        i += 1
        if not b[i - 1] & 0x80:
            return (n >> 1) ^ -(n & 1), i

def string(b, i):
    n, i = varint(b, i)
    return b[i:i + n].decode(), i + n

events = []
for key, value in msgs:
    if schema_id >= 0:
        assert value[0] == 0 and int.from_bytes(value[1:5], "big") == schema_id, f"bad framing {value[:5]!r}"
        value = value[5:]
    else:
        assert value[0] != 0, "a bare datum starts with the alert_id's length"
    alert_id, i = string(value, 0)
    event_id, _ = string(value, i)
    assert key == alert_id, f"key {key} != alert_id {alert_id}"
    events.append(event_id)
ws = lambda event_id: int(event_id.rsplit("-", 1)[1])
ref = [e["event_id"] for e in map(json.loads, open(ref_path))]
if cut:
    events = [e for e in events if ws(e) < cut]
    ref = [e for e in ref if ws(e) < cut]
assert collections.Counter(events) == collections.Counter(ref), \
    f"{len(events)} events vs {len(ref)}: {sorted(set(events) ^ set(ref))[:5]}"
print(f"{len(events)} Avro events, {'schema id %d' % schema_id if schema_id >= 0 else 'bare'}, each once, "
      f"keyed by alert_id")
PY
}

# close.lua on windows 60, 120, 180 (seconds), all closed: claims stop at
# a held lease and resume once the held window is done.
alerts_claim_order() {
    local P=ewclose: now
    now=$(stack_valkey_cli --raw TIME | head -1)
    stack_valkey_cli HSET ${P}wm:t 0 400000 > /dev/null
    stack_valkey_cli HSET ${P}wmt:t 0 $((now * 1000)) > /dev/null
    stack_valkey_cli ZADD ${P}pending 60 60 120 120 180 180 > /dev/null
    claim() { stack_valkey_cli --raw EVAL "$(cat state/close.lua)" 0 $P t 30000 60000 10 "$1" | tail -n +2 | paste -sd,; }
    local first second third fourth
    first=$(claim 2)
    second=$(claim 8)
    stack_valkey_cli SET ${P}claim:60 done > /dev/null
    third=$(claim 8)
    stack_valkey_cli SET ${P}claim:120 done > /dev/null
    fourth=$(claim 8)
    [ "$first|$second|$third|$fourth" = "60,120|||180" ] || { echo "    claims: $first|$second|$third|$fourth"; return 1; }
}

test_alert_exactly_once() {
    expect "close.lua claims windows in order, never past a held lease" alerts_claim_order
    local d=$STACK_DIR/alerts start=2026-11-01T12:00:00Z kill_after=20 t0=$SECONDS
    mkdir -p "$d"
    "$EW" gen --scenario spike --seed 11 --start $start --out "$d/lines.tsv" --metadata-out "$d/meta.json" 2>/dev/null
    local n first_s cut_s
    n=$(wc -l < "$d/lines.tsv")
    first_s=$(date -u -d $start +%s)
    cut_s=$((first_s + 55 * 60)) # a stream's last windows stay open until more traffic comes
    alerts_config "$d/crash.json" crash
    alerts_config "$d/avro.json" avro avro 42
    quietly "$d/replay.err" "$EW" replay -c "$d/crash.json" --in-memory --input "$d/lines.tsv" \
        --alerts-out "$d/reference.jsonl" "${ALERTS_RULE_SET[@]}"
    local topic
    for topic in $ALERTS_TOPIC_IN alerts-crash alerts-avro alerts-replay; do
        stack_kafka_ctl "topic-create $topic 4" >/dev/null
    done

    EDGEWATCH_FAILPOINT=alerts_flushed:$kill_after "$EW" run -c "$d/crash.json" "${ALERTS_RULE_SET[@]}" \
        2> "$d/crash1.err" &
    local crash_pid=$!
    stack_track $crash_pid
    "$EW" run -c "$d/avro.json" "${ALERTS_RULE_SET[@]}" 2> "$d/avro.err" &
    local avro_pid=$!
    stack_track $avro_pid
    "$EW" gen --scenario spike --seed 11 --start $start --to-kafka "$KAFKA_BOOTSTRAP" --topic $ALERTS_TOPIC_IN \
        --rate 4000 2>/dev/null &
    local gen_pid=$!

    local rc=timeout
    { # (bash's "Killed" notice would land in the test output)
        if wait_for 60 alerts_pid_gone $crash_pid; then
            wait $crash_pid
            rc=$?
        else
            kill -KILL $crash_pid
            wait $crash_pid
        fi
    } 2>/dev/null
    local killed_at=$((SECONDS - t0))
    expect "the failpoint SIGKILLs the member after $kill_after acknowledged alert events (exit $rc, ${killed_at}s)" \
        test "$rc" = 137
    EDGEWATCH_FAILPOINT= "$EW" run -c "$d/crash.json" "${ALERTS_RULE_SET[@]}" 2> "$d/crash2.err" &
    crash_pid=$!
    stack_track $crash_pid
    wait $gen_pid
    expect "crashed and restarted member applies every offset and scores every window" \
        wait_for 60 alerts_done crash "$n" "$first_s" "$cut_s"
    kcat -C -b "$KAFKA_BOOTSTRAP" -t alerts-crash -e -q -f '%k\t%s\n' > "$d/crash.out"
    if ! alerts_expect_check "after a SIGKILL between durable alerts and their commit" "$d/crash.check" \
        alerts_check_json "$d/crash.out" "$d/reference.jsonl" $((cut_s * 1000)); then
        grep -E "failpoint|scored window" "$d/crash1.err" "$d/crash2.err" | tail -8 | sed 's/^/    /'
    fi

    expect "the Avro member applies every offset and scores every window" \
        wait_for 30 alerts_done avro "$n" "$first_s" "$cut_s"
    kcat -C -b "$KAFKA_BOOTSTRAP" -t alerts-avro -e -q -f '%k %S\n%s' > "$d/avro.out"
    alerts_expect_check "alerts.format avro" "$d/avro.check" \
        alerts_check_avro "$d/avro.out" "$d/reference.jsonl" $((cut_s * 1000)) 42
    kill -TERM $crash_pid $avro_pid
    wait $crash_pid $avro_pid

    quietly "$d/replay2.err" "$EW" replay -c "$d/crash.json" --in-memory --input "$d/lines.tsv" \
        --alerts-out "$d/replay.jsonl" --alerts-topic alerts-replay --set alerts.format=avro "${ALERTS_RULE_SET[@]}"
    kcat -C -b "$KAFKA_BOOTSTRAP" -t alerts-replay -e -q -f '%k %S\n%s' > "$d/replay.out"
    alerts_expect_check "replay --alerts-topic" "$d/replay.check" \
        alerts_check_avro "$d/replay.out" "$d/replay.jsonl" 0 -1
}
