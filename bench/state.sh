#!/usr/bin/env bash
# bench/state.sh -- Valkey traffic per million records, on a real stack.
#
# `make bench` runs this after bench/run.sh; it builds nothing. Steps:
#
# 1. Generates BENCH_STATE_RECORDS (default 300000) records:
#      edgewatch gen --scenario spike --distributions D --seed 7
#          --start 2024-01-01T00:00:00Z --minutes M --metadata-out meta.json
#    (D = BENCH_STATE_DISTRIBUTIONS, default 1000; M is sized from a
#    10-minute sample of the same scenario).
# 2. Starts the test stack (tests/lib/stack.sh: the embedded broker and a
#    real Valkey/Redis on free loopback ports; everything is stopped and
#    removed on exit), creates a topic with enough partitions that the
#    broker's ~5 MiB per partition keeps every record, produces the whole
#    file with kcat, and checks that the partitions' start offsets are 0 and
#    their end offsets add up to the record count (nothing dropped).
# 3. Snapshots INFO commandstats and INFO stats, starts one `edgewatch run`
#    member on that topic with default flush settings, waits until the
#    Valkey hash ew:off:<topic> sums to the record count, sends SIGTERM,
#    waits for it and snapshots again.
# 4. Counts distinct (entity, window) pairs in the input (python3 over the
#    file; entity = x-host-header mapped through the metadata, as the
#    processor does) and, as a cross-check, the ew:agg:* keys in Valkey.
# 5. Prints, per million records: flushes, pairs flushed, distinct pairs,
#    client round trips and commands (the member's "valkey:" shutdown
#    line), and server-side commands (sum of the commandstats deltas, which
#    include every command run inside Lua scripts; our own INFO and polling
#    HVALS calls are subtracted), the top server commands, and the ratios
#    against issue 4's targets:
#      round trips <= flushes
#      commands    <= 2 x distinct (entity, window) pairs touched
#    These member figures are end to end: besides the flushes (one EVALSHA
#    of flush.lua each) they include scoring closed windows (3 round trips
#    per window, 9 commands per window and ~5 per scored entity), the close.lua poll
#    on every flush tick and start-up (SCRIPT LOAD, assignment). So the
#    script also prints where the traffic went, from the member's log
#    ("scored window", "assigned N partition(s)" lines) and the
#    commandstats (EVALSHA calls - flushes - assignments = close polls;
#    close.lua's HGETs = all HGETs - assignment's), and judges
#    the flush path's share on its own. The flush.lua server figure is what
#    remains after the other parts, so it carries any error in them.
# 6. Runs BENCH_FLUSH (build/bench/bench_flush) against the same Valkey:
#    the flush path alone, deterministic (a simulated live member: 1000
#    entities, 1 s flushes, 3 minutes of event time), which is the clean
#    measurement of the aggregation path's targets.
#
# Figures only: nothing is asserted about time, and a missed target is
# printed as MISSED without failing. Exits 1 only when the measurement
# itself is broken (records dropped, member died, counts disagree).
#
# Knobs: EDGEWATCH (default build/edgewatch), BENCH_FLUSH (default
#        build/bench/bench_flush; skipped with a note when missing),
#        BENCH_STATE_RECORDS,
#        BENCH_STATE_DISTRIBUTIONS (1..1000), BENCH_STATE_PARTITIONS (minimum,
#        default 96), BENCH_STATE_TIMEOUT (seconds for the member, default 300),
#        STACK_KEEP=1 keeps the stack directory with the member's log.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
EDGEWATCH=${EDGEWATCH:-build/edgewatch}
case $EDGEWATCH in /*) ;; *) EDGEWATCH=$ROOT/$EDGEWATCH ;; esac
BENCH_FLUSH=${BENCH_FLUSH:-build/bench/bench_flush}
case $BENCH_FLUSH in /*) ;; *) BENCH_FLUSH=$ROOT/$BENCH_FLUSH ;; esac
RECORDS=${BENCH_STATE_RECORDS:-300000}
DISTS=${BENCH_STATE_DISTRIBUTIONS:-1000}
MIN_PARTS=${BENCH_STATE_PARTITIONS:-96}
TIMEOUT=${BENCH_STATE_TIMEOUT:-300}
SEED=7
SCENARIO=spike
START=2024-01-01T00:00:00Z
TOPIC=bench-state
PREFIX=ew:
WINDOW_S=60

[ -x "$EDGEWATCH" ] || { echo "bench-state: $EDGEWATCH is missing (run make bench)" >&2; exit 1; }
for tool in kcat python3; do
    command -v "$tool" >/dev/null || { echo "bench-state: $tool is not on PATH (make deps)" >&2; exit 1; }
done

export EDGEWATCH_BIN=$EDGEWATCH
# shellcheck source-path=SCRIPTDIR/..
source tests/lib/stack.sh

t_begin=$SECONDS
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
say() { echo "bench-state: $*" >&2; }

# The machine is shared: one retry if the stack does not come up.
if ! stack_up 1; then
    sleep 2
    stack_up 1 || { say "could not start the stack"; exit 1; }
fi
d=$STACK_DIR

gen() { # gen MINUTES OUT [extra args]
    local minutes=$1 out=$2
    shift 2
    "$EDGEWATCH" gen --scenario "$SCENARIO" --distributions "$DISTS" --seed "$SEED" --start "$START" \
        --minutes "$minutes" --out "$out" "$@" 2>"$d/gen.log" || {
        say "edgewatch gen failed:"
        cat "$d/gen.log" >&2
        exit 1
    }
    sed -n 's/.* records=\([0-9]*\) .*/\1/p' "$d/gen.log" | tail -n 1
}

# ---- 1. the input ----
sample=$(gen 10 /dev/null)
[ "${sample:-0}" -gt 0 ] || { say "gen wrote nothing"; exit 1; }
minutes=$(( (RECORDS * 10 + sample / 2) / sample ))
(( minutes < 1 )) && minutes=1
(( minutes > 10080 )) && minutes=10080
file=$d/input.tsv
records=$(gen "$minutes" "$file" --metadata-out "$d/meta.json")
bytes=$(stat -c %s "$file")
lines=$(wc -l < "$file")
[ "$lines" = "$records" ] || { say "gen reported $records records but wrote $lines lines"; exit 1; }

# ---- 2. the topic, filled before the member starts ----
# The broker drops a partition's oldest batches beyond 5 MiB: aim for at
# most ~2.5 MB per partition (random keys spread records evenly enough).
parts=$(( (bytes + 2499999) / 2500000 ))
(( parts < MIN_PARTS )) && parts=$MIN_PARTS
stack_kafka_ctl "topic-create $TOPIC $parts" >/dev/null || { say "could not create topic $TOPIC"; exit 1; }
t0=$(now_ms)
kcat -P -b "$KAFKA_BOOTSTRAP" -t "$TOPIC" -X sticky.partitioning.linger.ms=0 -X queue.buffering.max.ms=50 -l "$file"
produce_ms=$(( $(now_ms) - t0 ))

query_offsets() { # query_offsets -1|-2: "partition offset" per line
    local args=() p
    for ((p = 0; p < parts; p++)); do args+=(-t "$TOPIC:$p:$1"); done
    kcat -Q -b "$KAFKA_BOOTSTRAP" "${args[@]}" | sed -n 's/.*\[\([0-9]*\)\] offset \([0-9-]*\).*/\1 \2/p'
}
end_sum=$(query_offsets -1 | awk '{s += $2} END {print s + 0}')
start_max=$(query_offsets -2 | awk 'BEGIN {m = 0} $2 > m {m = $2} END {print m}')
if [ "$end_sum" != "$records" ] || [ "$start_max" != 0 ]; then
    say "the topic holds offsets up to $end_sum (want $records), earliest offset up to $start_max (want 0):"
    say "records were dropped; raise BENCH_STATE_PARTITIONS"
    exit 1
fi

# ---- 3. one member, from the first record to the last ----
cat > "$d/bench.json" <<JSON
{
  "kafka": {"bootstrap.servers": "$KAFKA_BOOTSTRAP", "group.id": "bench-state",
            "session.timeout.ms": "6000", "heartbeat.interval.ms": "1000"},
  "valkey": {"host": "$VALKEY_HOST", "port": $VALKEY_PORT, "prefix": "$PREFIX"},
  "metadata": "$d/meta.json",
  "topics": {"cloudfront": "$TOPIC"},
  "window": {"width": "${WINDOW_S}s"}
}
JSON
"$EDGEWATCH" check -c "$d/bench.json" >/dev/null 2>"$d/check.err" || {
    say "config rejected:"; cat "$d/check.err" >&2; exit 1
}

# INFO calls and our polls are the only commands besides the member's.
stack_valkey_cli info commandstats > "$d/cmd.before"
stack_valkey_cli info stats > "$d/stats.before"
polls=0
applied=0
poll_applied() { # sets $applied: offsets applied so far; counts our HVALS calls
    polls=$((polls + 1))
    applied=$(stack_valkey_cli --raw hvals "${PREFIX}off:$TOPIC" | awk '{s += $1} END {print s + 0}')
}

t0=$(now_ms)
"$EDGEWATCH" run -c "$d/bench.json" 2>"$d/run.err" &
run_pid=$!
stack_track "$run_pid"
deadline=$((SECONDS + TIMEOUT))
done_at=0
while :; do
    sleep 0.5
    if ! kill -0 "$run_pid" 2>/dev/null; then
        say "the member exited early; its log:"
        tail -n 20 "$d/run.err" >&2
        exit 1
    fi
    poll_applied
    if [ "$applied" -ge "$records" ]; then
        done_at=$(now_ms)
        break
    fi
    if (( SECONDS >= deadline )); then
        say "the member applied $applied of $records offsets in ${TIMEOUT}s; its log:"
        tail -n 20 "$d/run.err" >&2
        exit 1
    fi
done
kill -TERM "$run_pid"
rc=0
wait "$run_pid" || rc=$?
stop_ms=$(( $(now_ms) - t0 ))
run_ms=$(( done_at - t0 ))
stack_valkey_cli info commandstats > "$d/cmd.after"
stack_valkey_cli info stats > "$d/stats.after"
[ "$rc" = 0 ] || { say "the member exited $rc on SIGTERM; its log:"; tail -n 20 "$d/run.err" >&2; exit 1; }

agg_keys=$(stack_valkey_cli --scan --pattern "${PREFIX}agg:*" | wc -l)

# ---- 4. distinct (entity, window) pairs in the input ----
distinct=$(python3 - "$file" "$d/meta.json" "$WINDOW_S" <<'PY'
import json, sys
path, meta_path, window_s = sys.argv[1], sys.argv[2], int(sys.argv[3])
names = {}
for dist in json.load(open(meta_path))["distributions"]:
    for name in [dist["id"], dist["domain"]] + dist.get("aliases", []):
        names[name] = dist["id"]
# Default 43-field lines: timestamp is column 1, x-host-header column 13.
pairs = set()
window_ms = window_s * 1000
with open(path, "rb") as f:
    for line in f:
        cols = line.split(b"\t", 13)
        sec, _, frac = cols[0].partition(b".")
        ms = int(sec) * 1000 + int((frac + b"000")[:3])
        host = cols[12].decode()
        pairs.add((names.get(host, host), ms // window_ms))
print(len(pairs))
PY
)

# ---- 5. figures ----
summary=$(grep -m1 ': stopped: ' "$d/run.err" || true)
traffic=$(grep -m1 ': valkey: .* round trips' "$d/run.err" || true)
if [ -z "$summary" ] || [ -z "$traffic" ]; then
    say "no shutdown summary in the member's log:"
    tail -n 20 "$d/run.err" >&2
    exit 1
fi
num() { # num REGEX LINE: the first number captured by REGEX
    sed -n "s/.*$1.*/\\1/p" <<< "$2"
}
seen=$(num ' \([0-9]*\) records,' "$summary")
flushes=$(num ' \([0-9]*\) flushes' "$summary")
refused=$(num 'flushes (\([0-9]*\) refused' "$summary")
scored=$(num ' \([0-9]*\) windows scored' "$summary")
rt=$(num ' \([0-9]*\) round trips' "$traffic")
cmds=$(num ' \([0-9]*\) commands sent' "$traffic")
pairs=$(num ' \([0-9]*\) (entity, window) pairs flushed' "$traffic")
scored_entities=$(sed -n 's/.*scored window [0-9]*: \([0-9]*\) entities.*/\1/p' "$d/run.err" | awk '{s += $1} END {print s + 0}')
assigns=$(grep -c ': assigned [0-9]* partition' "$d/run.err" || true)
assigned_parts=$(sed -n 's/.*: assigned \([0-9]*\) partition.*/\1/p' "$d/run.err" | awk '{s += $1} END {print s + 0}')
if [ "$seen" != "$records" ]; then
    say "the member folded $seen records, the topic holds $records"
    exit 1
fi

# Server side: per-command call deltas, less our own INFO and HVALS polls.
python3 - "$d/cmd.before" "$d/cmd.after" "$d/stats.before" "$d/stats.after" "$polls" > "$d/server" <<'PY'
import re, sys
def calls(path):
    out = {}
    for line in open(path):
        m = re.match(r"cmdstat_([^:]+):calls=(\d+)", line)
        if m:
            out[m.group(1)] = int(m.group(2))
    return out
def stat(path, key):
    for line in open(path):
        if line.startswith(key + ":"):
            return int(line.split(":", 1)[1])
    return 0
b, a, polls = calls(sys.argv[1]), calls(sys.argv[2]), int(sys.argv[5])
delta = {k: a[k] - b.get(k, 0) for k in a if a[k] != b.get(k, 0)}
info = delta.pop("info", 0)
delta["hvals"] = delta.get("hvals", 0) - polls
delta = {k: v for k, v in delta.items() if v}
total = sum(delta.values())
tcp = stat(sys.argv[4], "total_commands_processed") - stat(sys.argv[3], "total_commands_processed") - info - polls
print("server_commands", total)
print("total_commands_processed", tcp)
for k, v in sorted(delta.items(), key=lambda kv: -kv[1])[:8]:
    print("top", k, v)
# For the attribution: only close.lua calls HGET inside a script, and
# EVALSHA runs flush.lua, close.lua and assign.lua.
for k in ("evalsha", "hget", "zrangebyscore", "set"):
    print("calls", k, delta.get(k, 0))
PY
server=$(awk '$1 == "server_commands" {print $2}' "$d/server")
tcp=$(awk '$1 == "total_commands_processed" {print $2}' "$d/server")
top=$(awk '$1 == "top" {print $2, $3}' "$d/server")
calls() { awk -v k="$1" '$1 == "calls" && $2 == k {print $3}' "$d/server"; }

awk -v records="$records" -v bytes="$bytes" -v minutes="$minutes" -v dists="$DISTS" -v parts="$parts" \
    -v flushes="$flushes" -v refused="$refused" -v pairs="$pairs" -v distinct="$distinct" -v agg_keys="$agg_keys" \
    -v rt="$rt" -v cmds="$cmds" -v server="$server" -v tcp="$tcp" -v scored="$scored" \
    -v scored_entities="$scored_entities" -v run_ms="$run_ms" -v stop_ms="$stop_ms" -v produce_ms="$produce_ms" \
    -v top="$top" -v scenario="$SCENARIO" -v seed="$SEED" -v window_s="$WINDOW_S" \
    -v assigns="$assigns" -v assigned_parts="$assigned_parts" -v evalsha="$(calls evalsha)" \
    -v hget="$(calls hget)" -v zrange="$(calls zrangebyscore)" -v sets="$(calls set)" 'function per(x) {
        return x * 1e6 / records
    }
    function ratio(x, y) { return y ? x / y : 0 }
    function verdict(name, figure, target) {
        printf "%-56s %7.2f  target <= %s  %s\n", name, figure, target, figure <= target + 0 ? "MET" : "MISSED"
    }
    function share(name, r, c, s) {
        printf "  %-42s %10d %12d %12d\n", name, r, c, s
    }
    # Where the traffic of the member went. Round trips and client commands follow
    # state/valkey.c call by call; every client command but EVALSHA runs as
    # one plain server command, so those parts count the same on the server.
    function attribute() {
        polls = evalsha - flushes - assigns              # close.lua, one per flush tick
        start_rt = 3 + 2 * assigns                       # SCRIPT LOAD x3; assign.lua + offsets per assignment
        start_cmd = 3 + assigns + 2 * assigned_parts     # HGET off + HGET wm per partition
        start_srv = 3 + 4 * assigns + 4 * assigned_parts # + assign.lua: TIME, HSETNX + HSET each, 2 EXPIRE
        score_rt = 3 * scored                            # SMEMBERS + ZRANGEBYSCORE; HGETALL + HMGET each; MULTI..EXEC
        score_cmd = 9 * scored + 5 * scored_entities     # MULTI, HSET + PEXPIRE + ZADD each, ZREMRANGEBYSCORE, PEXPIRE, SET, ZREM, EXEC
        other_rt = rt - flushes - polls - start_rt - score_rt
        other_cmd = cmds - flushes - polls - start_cmd - score_cmd
        close_hget = hget - 2 * assigned_parts
        close_srv = 3 * polls + close_hget + zrange + (sets - scored) # EVALSHA, TIME, HGETALL; HGET wmt; claims
        flush_srv = server - score_cmd - other_cmd - start_srv - close_srv
    }
    BEGIN {
    printf "\nedgewatch state benchmark: Valkey traffic of one member, flush defaults, %ds windows\n", window_s
    printf "input  %d records, %.1f MB: gen --scenario %s --distributions %d --minutes %d --seed %d\n",
        records, bytes / 1e6, scenario, dists, minutes, seed
    printf "topic  %d partitions, produced in %.1f s; nothing dropped (end offsets sum to %d)\n",
        parts, produce_ms / 1000, records
    printf "member applied every offset %.1f s after start; stopped after %.1f s (time: figure only)\n\n",
        run_ms / 1000, stop_ms / 1000
    printf "%-44s %12s %14s\n", "", "total", "per 1M records"
    printf "%-44s %12d %14.0f\n", "records", records, per(records)
    printf "%-44s %12d %14.0f\n", "flushes (" refused " refused)", flushes, per(flushes)
    printf "%-44s %12d %14.0f\n", "(entity, window) pairs flushed", pairs, per(pairs)
    printf "%-44s %12d %14.0f\n", "distinct (entity, window) pairs in the input", distinct, per(distinct)
    printf "%-44s %12d %14.0f\n", "  ew:agg:* keys in Valkey (cross-check)", agg_keys, per(agg_keys)
    printf "%-44s %12d %14.0f\n", "windows scored", scored, per(scored)
    printf "%-44s %12d %14.0f\n", "  (entity, window) pairs scored", scored_entities, per(scored_entities)
    printf "%-44s %12d %14.0f\n", "client round trips", rt, per(rt)
    printf "%-44s %12d %14.0f\n", "client commands", cmds, per(cmds)
    printf "%-44s %12d %14.0f\n", "server commands (incl. inside Lua)", server, per(server)
    printf "%-44s %12d %14.0f\n", "  total_commands_processed (cross-check)", tcp, per(tcp)
    n = split(top, t, /[ \n]/)
    printf "top server commands:"
    for (i = 1; i + 1 <= n; i += 2)
        printf " %s %d (%.0f%%)", t[i], t[i + 1], 100 * ratio(t[i + 1], server)
    printf "\n\n"
    printf "%-44s %7.2f  (flushes depend on how fast the backlog goes)\n\n", "pairs flushed / distinct pairs",
        ratio(pairs, distinct)
    attribute()
    printf "where the member\047s Valkey traffic went (the figures above are end to end: they include\n"
    printf "scoring, close polls and start-up, not only the flush path the targets are about)\n"
    printf "  %-42s %10s %12s %12s\n", "", "round trips", "client cmds", "server cmds"
    share("flushes: 1 EVALSHA flush.lua each", flushes, flushes, flush_srv)
    share("scoring: 3 per window, ~5 cmds per entity", score_rt, score_cmd, score_cmd)
    share("close.lua polls: 1 per flush tick", polls, polls, close_srv)
    share("start-up: 3 SCRIPT LOAD, 2 per assignment", start_rt, start_cmd, start_srv)
    share("other: incident writes, rewinds", other_rt, other_cmd, other_cmd)
    share("total", rt, cmds, server)
    printf "  (%d windows scored, %d entities; %d close polls in %.0f s; %d assignment(s) of %d partitions;\n",
        scored, scored_entities, polls, stop_ms / 1000, assigns, assigned_parts
    printf "   flush.lua\047s server commands are the remainder: total less the other rows)\n\n"
    printf "target 1: round trips <= flushes\n"
    verdict("  end to end: client round trips / flushes", ratio(rt, flushes), 1)
    verdict("  flush path: flush round trips / flushes (by design)", ratio(flushes, flushes), 1)
    printf "target 2: commands <= 2 x (entity, window) pairs touched\n"
    verdict("  end to end: client commands / pairs flushed", ratio(cmds, pairs), 2)
    verdict("  end to end: client commands / distinct pairs", ratio(cmds, distinct), 2)
    verdict("  end to end: server commands / pairs flushed", ratio(server, pairs), 2)
    verdict("  end to end: server commands / distinct pairs", ratio(server, distinct), 2)
    verdict("  flush path: client commands / pairs flushed", ratio(flushes, pairs), 2)
    verdict("  flush path: server commands / pairs flushed", ratio(flush_srv, pairs), 2)
    verdict("  flush path: server commands / distinct pairs", ratio(flush_srv, distinct), 2)
    printf "(pairs touched = (entity, window) pairs; flush.lua also writes one hourly rollup per\n"
    printf " (entity, hour) of each flush: see bench_flush below for both counts)\n"
}'
printf 'member: %s\n        %s\n' "${summary#*info: }" "${traffic#*info: }"

# ---- 6. the flush path alone, on the same server (the member has stopped) ----
if [ -x "$BENCH_FLUSH" ]; then
    "$BENCH_FLUSH" --host "$VALKEY_HOST" --port "$VALKEY_PORT" || { say "bench_flush failed"; exit 1; }
else
    say "$BENCH_FLUSH is missing: flush-path section skipped (make build/bench/bench_flush)"
fi
# ---- 7. replay of the same input: in memory, and into a Valkey namespace ----
# Same file, same settings; wall time of the process, figures only. Both
# backends must write the same alerts (emitted_at aside).
replay_run() { # replay_run NAME ARGS...: prints "records seconds"
    local name=$1 t0 t1
    shift
    t0=$(date +%s%N)
    "$EDGEWATCH" replay -c "$d/bench.json" --input "$file" --alerts-out "$d/replay-$name.jsonl" "$@" \
        2> "$d/replay-$name.err" || { say "replay ($name) failed:"; tail -5 "$d/replay-$name.err" >&2; exit 1; }
    t1=$(date +%s%N)
    echo "$(sed -n 's/.*replay summary: \([0-9]*\) records.*/\1/p' "$d/replay-$name.err") $(( (t1 - t0) / 1000000 ))"
}
read -r mem_records mem_ms < <(replay_run memory --in-memory)
read -r vk_records vk_ms < <(replay_run valkey --namespace bench --cleanup)
same=$(cmp -s <(sed 's/"emitted_at":"[^"]*",//' "$d/replay-memory.jsonl") \
              <(sed 's/"emitted_at":"[^"]*",//' "$d/replay-valkey.jsonl") && echo yes || echo NO)
awk -v r="$records" -v mr="$mem_records" -v mm="$mem_ms" -v vr="$vk_records" -v vm="$vk_ms" -v same="$same" 'BEGIN {
    printf "\nedgewatch replay of this input (%d records), process wall time\n", r
    printf "%-44s %10.0f records/s  %6.2f s\n", "replay --in-memory", mr / (mm / 1000), mm / 1000
    printf "%-44s %10.0f records/s  %6.2f s\n", "replay --namespace bench --cleanup (Valkey)", vr / (vm / 1000), vm / 1000
    printf "%-44s %.1f %%\n", "Valkey / in-memory", 100 * (vr / vm) / (mr / mm)
    printf "%-44s %s\n", "same alerts from both backends", same
}'
[ "$mem_records" = "$records" ] && [ "$vk_records" = "$records" ] && [ "$same" = yes ] || {
    say "replay: expected $records records from both backends and the same alerts"; exit 1; }

say "done in $((SECONDS - t_begin)) s"
