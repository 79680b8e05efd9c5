# shellcheck shell=bash
# test_state.sh -- integration tests of issue #4: windowed aggregates in
# Valkey stay exact through crashes, restarts, rebalances and outages.
#
# Sourced by run.sh, whose pass/fail/expect/wait_for and $EW it uses, on the
# stack of tests/lib/stack.sh (started with STACK_VALKEY_PERSIST=1). Each
# test NAME works in $STACK_DIR/NAME with its own topics (NAME-logs,
# NAME-alerts, NAME-dlq), consumer group NAME and Valkey prefix "NAME:", so
# the tests share the stack without seeing each other's state. Ground truth
# is tests/integration/check_state.py over the generated lines.
#
# STATE_SEED fixes the harness's random choices (kill moments and victims);
# it is printed so a failing run can be repeated.

STATE_SEED=${STATE_SEED:-$$}
STATE_PID= # set by state_member_start

# state_timed TEST: runs one test and prints its wall time.
state_timed() {
    local t0=$SECONDS
    "$1"
    echo "    $1 took $((SECONDS - t0)) s"
}

# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

# state_setup NAME PARTITIONS: the test's directory and topics.
state_setup() {
    mkdir -p "$STACK_DIR/$1"
    stack_kafka_ctl "topic-create $1-logs $2" >/dev/null &&
        stack_kafka_ctl "topic-create $1-alerts 1" >/dev/null &&
        stack_kafka_ctl "topic-create $1-dlq 1" >/dev/null
}

# state_config NAME [extra json members]: writes $STACK_DIR/NAME/config.json.
state_config() {
    local name=$1
    cat > "$STACK_DIR/$name/config.json" <<JSON
{
  "kafka": {"bootstrap.servers": "$KAFKA_BOOTSTRAP", "session.timeout.ms": "${STATE_SESSION_MS:-6000}",
            "heartbeat.interval.ms": "${STATE_HEARTBEAT_MS:-1000}", "group.id": "$name"},
  "valkey": {"host": "127.0.0.1", "port": $VALKEY_PORT, "prefix": "$name:"},
  "topics": {"cloudfront": "$name-logs", "alerts": "$name-alerts", "dlq": "$name-dlq"},
  "flush": {"interval": "1s"},
  "metadata": "$STACK_DIR/$name/meta.json"${2:+,
  $2}
}
JSON
}

# state_member_start NAME LOG: one `edgewatch run` member; its pid in STATE_PID.
state_member_start() {
    "$EW" run -c "$STACK_DIR/$1/config.json" 2> "$2" &
    STATE_PID=$!
    stack_track "$STATE_PID"
}

# state_member_stop PID: SIGTERM, wait; returns the member's exit status.
state_member_stop() {
    kill -TERM "$1" 2>/dev/null
    wait "$1"
}

state_vk() { redis-cli -p "$VALKEY_PORT" --raw "$@"; }

# state_offsets NAME: the sum of the next offsets Valkey holds for NAME-logs;
# every partition starts at 0, so it is the number of records applied.
state_offsets() {
    state_vk hvals "$1:off:$1-logs" 2>/dev/null | awk '{s += $1} END {print s + 0}'
}
state_offsets_reach() { [ "$(state_offsets "$1")" -ge "$2" ]; }

# state_progress NAME N: waits (up to 30 s) until N more records are applied.
state_progress() { wait_for 30 state_offsets_reach "$1" $(($(state_offsets "$1") + $2)); }

# state_gen_summary ERRFILE: "records=N bytes=M" from gen's closing line.
state_gen_summary() { grep -o 'records=[0-9]* bytes=[0-9]*' "$1"; }

# state_check NAME WHAT [check_state.py flags]: every counter against truth.
state_check() {
    local name=$1 what=$2 d=$STACK_DIR/$1
    shift 2
    if python3 tests/integration/check_state.py "$d/lines.tsv" "$d/meta.json" "$VALKEY_PORT" "$name:" --hourly "$@" \
        > "$d/check.out" 2>&1; then
        pass "$what ($(tail -1 "$d/check.out"))"
    else
        fail "$what:"
        sed 's/^/    /' "$d/check.out"
    fi
}

# state_all_alive PID...: every pid is still running.
state_all_alive() {
    local pid
    for pid in "$@"; do kill -0 "$pid" 2>/dev/null || return 1; done
}

# state_random_sleep: 0.5 to 3.0 s, drawn from $RANDOM (seeded by STATE_SEED).
state_random_sleep() {
    local t=$((5 + RANDOM % 26))
    sleep "$((t / 10)).$((t % 10))"
}

# state_scored_windows LOG...: the window starts (ms) of "scored window" lines.
state_scored_windows() {
    cat "$@" | sed -n 's/.*scored window \([0-9]*\):.*/\1/p'
}

# state_claims_done NAME WS_MS...: every window's claim is "done".
state_claims_done() {
    local name=$1 ws
    shift
    for ws in "$@"; do
        [ "$(state_vk get "$name:claim:$((ws / 1000))")" = "done" ] || {
            echo "    claim of window $ws is '$(state_vk get "$name:claim:$((ws / 1000))")'"
            return 1
        }
    done
}

# ---------------------------------------------------------------------------
# 1. crash
# ---------------------------------------------------------------------------

# Crash test: proves that no record is lost or counted twice when members die
# at any instant. Three members consume the records of 300 distributions
# (64 partitions, so the embedded broker's ~5 MB per partition keeps them
# all) while the harness SIGKILLs a random member at a random moment,
# restarting it each time. Every counter of every (distribution, window)
# must equal ground truth, and nothing may be late: each partition's input
# is in time order. `make test` streams 13 minutes of traffic (about 104,000
# records) with at least 10 kills; `make soak` streams 26 minutes (208,395
# records) with at least 20 (STATE_CRASH_MINUTES, STATE_CRASH_KILLS).
test_state_crash() {
    local name=ewcrash d=$STACK_DIR/ewcrash i
    local minutes=${STATE_CRASH_MINUTES:-13} want_kills=${STATE_CRASH_KILLS:-10}
    local gen=(gen --scenario spike --distributions 300 --minutes $minutes --seed 41 --start 2026-11-03T00:00:00Z)
    state_setup $name 64 || { fail "crash: could not create topics"; return; }
    "$EW" "${gen[@]}" --out "$d/lines.tsv" --metadata-out "$d/meta.json" 2> "$d/gen-file.err"
    local n
    n=$(wc -l < "$d/lines.tsv")
    # A 3 s session moves a killed member's partitions sooner, so that 20
    # kill-and-rebalance rounds fit in the stream.
    STATE_SESSION_MS=3000 STATE_HEARTBEAT_MS=500 state_config $name '"window": {"idle_timeout": "5s"}'
    local pids=() logs=()
    for i in 0 1 2; do
        logs[i]=$d/member$i.0.log
        state_member_start $name "${logs[i]}"
        pids[i]=$STATE_PID
    done
    "$EW" "${gen[@]}" --to-kafka "$KAFKA_BOOTSTRAP" --topic $name-logs --rate 2000 2> "$d/gen-kafka.err" &
    local gen_pid=$!
    stack_track $gen_pid

    # The harness: once the group applies records again, wait a random 0.5
    # to 3 s, SIGKILL a random member and restart it. Waiting for progress
    # makes every kill land while records are being applied, not in the
    # rebalance that the previous kill started.
    local kills=0 died="" at=0 last=0 restarts=0 progress=""
    RANDOM=$STATE_SEED
    while [ $kills -lt $want_kills ] && wait_for 30 state_offsets_reach $name $((last + 1)); do
        state_random_sleep
        i=$((RANDOM % 3))
        at=$(state_offsets $name)
        [ "$at" -ge "$n" ] && break
        if kill -KILL "${pids[i]}" 2>/dev/null; then
            kills=$((kills + 1))
            progress+=" $at"
        else
            died+=" ${logs[i]}" # it exited on its own
        fi
        wait "${pids[i]}" 2>/dev/null
        restarts=$((restarts + 1))
        logs[i]=$d/member$i.$restarts.log
        state_member_start $name "${logs[i]}"
        pids[i]=$STATE_PID
        last=$at
    done
    wait $gen_pid
    echo "    crash: seed $STATE_SEED; offsets applied at each kill:$progress"

    expect "crash: the stream and the ground-truth file hold the same $n records" \
        test "$(state_gen_summary "$d/gen-kafka.err")" = "$(state_gen_summary "$d/gen-file.err")" -a "$n" -ge $((7500 * minutes))
    expect "crash: $kills SIGKILLs of a member, each after the group applied more records" test $kills -ge $want_kills
    expect "crash: no member exited unless killed${died:+ (see$died)}" test -z "$died"
    expect "crash: the group applies exactly $n offsets after the kills" \
        wait_for 120 state_offsets_reach $name "$n"
    expect "crash: no more than $n offsets applied" test "$(state_offsets $name)" -eq "$n"
    expect "crash: the three last members are still running" state_all_alive "${pids[@]}"
    state_check $name "crash: every counter of every (distribution, window) equals ground truth, none late" \
        --late-zero
    local ok=0
    for i in 0 1 2; do state_member_stop "${pids[i]}" || ok=1; done
    expect "crash: the last members exit 0 on SIGTERM" test $ok -eq 0
}

# ---------------------------------------------------------------------------
# 2. rebalance
# ---------------------------------------------------------------------------

# Rebalance test: proves that members joining and leaving mid-stream (SIGTERM,
# no crash) neither lose nor double-count records, and that the group scores
# every closed window exactly once: one "scored window" line across all
# members' logs, and its claim is "done".
test_state_rebalance() {
    local name=ewrebal d=$STACK_DIR/ewrebal
    local gen=(gen --scenario spike --distributions 100 --minutes 20 --seed 42 --start 2026-11-04T00:00:00Z)
    state_setup $name 16 || { fail "rebalance: could not create topics"; return; }
    "$EW" "${gen[@]}" --out "$d/lines.tsv" --metadata-out "$d/meta.json" 2> "$d/gen-file.err"
    local n
    n=$(wc -l < "$d/lines.tsv")
    STATE_SESSION_MS=3000 STATE_HEARTBEAT_MS=500 state_config $name '"window": {"idle_timeout": "3s"}'
    "$EW" "${gen[@]}" --to-kafka "$KAFKA_BOOTSTRAP" --topic $name-logs --rate 2000 2> "$d/gen-kafka.err" &
    local gen_pid=$!
    stack_track $gen_pid

    # m1 alone; m2 and m3 join; m1 leaves; m4 joins; m2 leaves. After each
    # change the remaining members must have been assigned partitions anew
    # and the group must have applied more records, so every change is its
    # own rebalance, mid-stream.
    local m1 m2 m3 m4 ok=0 steps="" settled=0 snap at_last_change
    state_member_start $name "$d/m1.log"; m1=$STATE_PID
    state_settled $name "0" m1 && settled=$((settled + 1))
    steps+=" +m2@$(state_offsets $name)"
    state_member_start $name "$d/m2.log"; m2=$STATE_PID
    state_settled $name "1 0" m1 m2 && settled=$((settled + 1))
    steps+=" +m3@$(state_offsets $name)"
    snap=$(state_assign_counts "$d" m1 m2)
    state_member_start $name "$d/m3.log"; m3=$STATE_PID
    state_settled $name "$snap 0" m1 m2 m3 && settled=$((settled + 1))
    steps+=" -m1@$(state_offsets $name)"
    snap=$(state_assign_counts "$d" m2 m3)
    state_member_stop $m1 || ok=1
    state_settled $name "$snap" m2 m3 && settled=$((settled + 1))
    steps+=" +m4@$(state_offsets $name)"
    snap=$(state_assign_counts "$d" m2 m3)
    state_member_start $name "$d/m4.log"; m4=$STATE_PID
    state_settled $name "$snap 0" m2 m3 m4 && settled=$((settled + 1))
    at_last_change=$(state_offsets $name)
    steps+=" -m2@$at_last_change"
    snap=$(state_assign_counts "$d" m3 m4)
    state_member_stop $m2 || ok=1
    STATE_PROGRESS=0 state_settled $name "$snap" m3 m4 && settled=$((settled + 1))
    wait $gen_pid
    echo "    rebalance: membership changes at offsets:$steps (of $n)"

    expect "rebalance: the stream and the ground-truth file hold the same $n records" \
        test "$(state_gen_summary "$d/gen-kafka.err")" = "$(state_gen_summary "$d/gen-file.err")"
    expect "rebalance: each of 6 membership changes was its own rebalance ($settled settled)" test $settled -eq 6
    expect "rebalance: every membership change landed mid-stream" test "$at_last_change" -lt "$n"
    expect "rebalance: members that left on SIGTERM exited 0" test $ok -eq 0
    expect "rebalance: each of the four members was assigned partitions" \
        state_every_log_has "assigned [1-9][0-9]* partition" "$d"/m?.log
    expect "rebalance: the group applies exactly $n offsets" wait_for 60 state_offsets_reach $name "$n"
    expect "rebalance: no more than $n offsets applied" test "$(state_offsets $name)" -eq "$n"
    state_check $name "rebalance: every counter equals ground truth after joins and leaves" --late-zero

    local windows
    windows=$(cut -f1 "$d/lines.tsv" | awk '{print int($1 / 60)}' | sort -u | wc -l)
    wait_for 20 state_scored_at_least "$d" $((windows - 3))
    state_member_stop $m3
    state_member_stop $m4
    state_scored_once rebalance $name "$d"/m?.log "$windows"
}

# state_assign_counts DIR MEMBER...: how many assignments each member logged.
state_assign_counts() {
    local d=$1 m counts=()
    for m in "${@:2}"; do counts+=("$(grep -c "assigned [0-9]* partition" "$d/$m.log")"); done
    echo "${counts[*]}"
}

# state_settled NAME "COUNTS" MEMBER...: after a membership change, waits
# (up to 30 s) until each member has logged more assignments than COUNTS
# (taken before the change), then until the group has applied another
# STATE_PROGRESS (3000) records: the rebalance is over and consumption has
# resumed.
state_settled() {
    local name=$1 counts i
    read -ra counts <<< "$2"
    shift 2
    for ((i = 1; i <= $#; i++)); do
        wait_for 30 state_assigned_more "$STACK_DIR/$name/${!i}.log" "${counts[i - 1]}" || return 1
    done
    state_progress "$name" "${STATE_PROGRESS:-3000}"
}
state_assigned_more() { [ "$(grep -c "assigned [0-9]* partition" "$1" 2>/dev/null)" -gt "$2" ]; }

state_scored_at_least() { [ "$(state_scored_windows "$1"/m?.log | sort -u | wc -l)" -ge "$2" ]; }

# state_scored_once LABEL NAME LOG... WINDOWS: each scored window once, claims done.
state_scored_once() {
    local label=$1 name=$2 windows=${*: -1} logs=("${@:3:$#-3}")
    local scored dups
    scored=$(state_scored_windows "${logs[@]}" | sort -u | wc -l)
    dups=$(state_scored_windows "${logs[@]}" | sort | uniq -d | tr '\n' ' ')
    expect "$label: each of $scored scored windows (of $windows) was scored exactly once${dups:+; twice: $dups}" \
        test -z "$dups" -a "$scored" -ge $((windows - 3))
    # shellcheck disable=SC2046 # one argument per window
    expect "$label: every scored window's claim is done" \
        state_claims_done "$name" $(state_scored_windows "${logs[@]}" | sort -u)
}

# state_two_members NAME PARTITIONS MINUTES SEED START: the outage tests'
# setup. Writes the ground-truth file, starts two members and streams the
# same records at 1,500/s. Sets STATE_N (records), STATE_PIDS (members) and
# STATE_GEN_PID (the generator).
state_two_members() {
    local name=$1 d=$STACK_DIR/$1 i
    local gen=(gen --scenario spike --distributions 100 --minutes "$3" --seed "$4" --start "$5")
    state_setup "$name" "$2" || return 1
    "$EW" "${gen[@]}" --out "$d/lines.tsv" --metadata-out "$d/meta.json" 2> "$d/gen-file.err"
    STATE_N=$(wc -l < "$d/lines.tsv")
    state_config "$name" '"window": {"idle_timeout": "5s"}'
    STATE_PIDS=()
    for i in 0 1; do
        state_member_start "$name" "$d/member$i.log"
        STATE_PIDS[i]=$STATE_PID
    done
    "$EW" "${gen[@]}" --to-kafka "$KAFKA_BOOTSTRAP" --topic "$name-logs" --rate 1500 2> "$d/gen-kafka.err" &
    STATE_GEN_PID=$!
    stack_track "$STATE_GEN_PID"
}

# ---------------------------------------------------------------------------
# 3. outage
# ---------------------------------------------------------------------------

# Outage test: proves that Valkey going away for 10 s mid-stream loses
# nothing: members pause, stay up, resume when it is back (data kept by AOF)
# and drain the lag; and that a SCRIPT FLUSH mid-stream is absorbed (NOSCRIPT
# reloads the scripts) with every total still exact.
test_state_outage() {
    local name=ewout d=$STACK_DIR/ewout i
    state_two_members $name 16 20 43 2026-11-05T00:00:00Z || { fail "outage: could not create topics"; return; }
    local n=$STATE_N gen_pid=$STATE_GEN_PID pids=("${STATE_PIDS[@]}")

    wait_for 30 state_offsets_reach $name $((n / 6))
    local before
    before=$(state_offsets $name)
    expect "outage: Valkey goes down mid-stream ($before of $n applied)" kill -0 $gen_pid
    stack_valkey_stop
    sleep 10
    expect "outage: members survive 10 s without Valkey" state_all_alive "${pids[@]}"
    stack_valkey_start
    expect "outage: Valkey kept the applied offsets over its restart ($before)" \
        test "$(state_offsets $name)" -ge "$before"
    expect "outage: both members paused consumption" \
        state_every_log_has "pausing consumption" "$d/member0.log" "$d/member1.log"
    expect "outage: both members resumed consumption" \
        wait_for 40 state_every_log_has "resuming consumption" "$d/member0.log" "$d/member1.log"

    # SCRIPT FLUSH while records still flow: the next EVALSHA gets NOSCRIPT.
    local at_flush flush_sha
    flush_sha=$(sha1sum state/flush.lua | cut -c1-40)
    at_flush=$(state_offsets $name)
    state_vk script flush >/dev/null
    expect "outage: SCRIPT FLUSH landed mid-stream ($at_flush of $n applied)" kill -0 $gen_pid
    expect "outage: processing continues after SCRIPT FLUSH" \
        wait_for 20 state_offsets_reach $name $((at_flush + 1000))
    expect "outage: flush.lua was reloaded after NOSCRIPT" \
        test "$(state_vk script exists "$flush_sha")" = 1
    wait $gen_pid

    expect "outage: the stream and the ground-truth file hold the same $n records" \
        test "$(state_gen_summary "$d/gen-kafka.err")" = "$(state_gen_summary "$d/gen-file.err")"
    expect "outage: the lag drains: exactly $n offsets applied" wait_for 60 state_offsets_reach $name "$n"
    expect "outage: no more than $n offsets applied" test "$(state_offsets $name)" -eq "$n"
    expect "outage: members are still running" state_all_alive "${pids[@]}"
    expect "outage: no script error in the member logs" \
        state_no_match "NOSCRIPT\|script error" "$d/member0.log" "$d/member1.log"
    state_check $name "outage: every counter equals ground truth after the outage and SCRIPT FLUSH" --late-zero
    for i in 0 1; do state_member_stop "${pids[i]}"; done
}

# Broker outage test: proves that the broker going away for 8 s mid-stream
# (every broker of the embedded cluster down, producer included) neither
# crashes a member nor loses or doubles a record: consumption stops, the
# members keep running, and once the broker is back the lag drains and every
# total is exact.
test_state_broker_outage() {
    local name=ewbroker d=$STACK_DIR/ewbroker i
    state_two_members $name 8 12 47 2026-11-07T00:00:00Z || { fail "broker outage: could not create topics"; return; }
    local n=$STATE_N gen_pid=$STATE_GEN_PID pids=("${STATE_PIDS[@]}")
    wait_for 30 state_offsets_reach $name $((n / 4))
    local before
    before=$(state_offsets $name)
    stack_kafka_ctl "broker-down -1" >/dev/null
    sleep 8
    local during
    during=$(state_offsets $name)
    stack_kafka_ctl "broker-up -1" >/dev/null
    expect "broker outage: the broker went down mid-stream ($before of $n applied, $during after 8 s down)" \
        test "$before" -lt "$n"
    expect "broker outage: members survive 8 s without a broker" state_all_alive "${pids[@]}"
    wait $gen_pid
    expect "broker outage: the stream and the ground-truth file hold the same $n records" \
        test "$(state_gen_summary "$d/gen-kafka.err")" = "$(state_gen_summary "$d/gen-file.err")"
    expect "broker outage: the lag drains: exactly $n offsets applied" wait_for 90 state_offsets_reach $name "$n"
    expect "broker outage: no more than $n offsets applied" test "$(state_offsets $name)" -eq "$n"
    state_check $name "broker outage: every counter equals ground truth" --late-zero
    local rc=0
    for i in 0 1; do state_member_stop "${pids[i]}" || rc=$?; done
    expect "broker outage: members exit 0 on SIGTERM afterwards" test "$rc" -eq 0
}

state_every_log_has() { # state_every_log_has TEXT LOG...
    local text=$1 f
    shift
    for f in "$@"; do grep -q "$text" "$f" || return 1; done
}
state_no_match() { local re=$1; shift; ! grep -q "$re" "$@"; }

# ---------------------------------------------------------------------------
# 4. late data
# ---------------------------------------------------------------------------

# state_late_batches DIR T: rewrites gen lines into DIR/batch1.tsv and
# DIR/batch2.tsv around window A = [T, T+60): batch 1 = 40 records in A,
# 20 at T+100 (window B), 20 at T+50 (A, on time: watermark T+40), 20 at
# T+200 (watermark T+140 closes A and B); batch 2 = 20 at T+10 (late).
# Every other record also gets values gen never writes (status "-", 000 and
# 600, LimitExceeded, CapacityExceeded, OriginShieldHit, latencies on bucket
# bounds and beyond 10 s, "-" bytes, no x-host-header), so that every
# counter's classification is compared with ground truth.
state_late_batches() {
    python3 - "$1" "$2" <<'PY'
import sys
d, t = sys.argv[1], int(sys.argv[2])
TTFB, STATUS, BYTES, HOST, RESULT, ORIGIN = 2, 3, 4, 12, 24, 40
EDGES = [{STATUS: "-", RESULT: "LimitExceeded", TTFB: "0.001", ORIGIN: "0.0005"},
         {STATUS: "000", RESULT: "CapacityExceeded", TTFB: "0.0029", ORIGIN: "-"},
         {STATUS: "600", RESULT: "OriginShieldHit", TTFB: "10.000", ORIGIN: "5.001"},
         {STATUS: "199", RESULT: "-", TTFB: "10.001", ORIGIN: "20.5", BYTES: "-"},
         {STATUS: "403", TTFB: "-", ORIGIN: "1.0009", HOST: "-"},
         {STATUS: "599", TTFB: "0.0005", ORIGIN: "0.010"}]
src = [l.rstrip("\n").split("\t") for l in open(f"{d}/gen.tsv")]
plan = [("batch1", 0, 40, 1.0), ("batch1", 100, 20, 0.5), ("batch1", 50, 20, 0.25),
        ("batch1", 200, 20, 0.5), ("batch2", 10, 20, 0.5)]
out = {"batch1": [], "batch2": []}
j = 0
for batch, offset, count, step in plan:
    for k in range(count):
        cols = src.pop(0)
        cols[0] = f"{t + offset + k * step:.3f}"
        if j % 2:
            for col, value in EDGES[j // 2 % len(EDGES)].items():
                cols[col] = value
        j += 1
        out[batch].append("\t".join(cols) + "\n")
for batch, lines in out.items():
    open(f"{d}/{batch}.tsv", "w").writelines(lines)
PY
}

# Late data test: proves the lateness rules on a single partition. Records
# within window.allowed_lateness are on time; records for window A after the
# watermark passed A's end are added to A's totals and counted in `late`,
# but do not put A back up for scoring: A is scored exactly once.
test_state_late() {
    local name=ewlate d=$STACK_DIR/ewlate t=1794009600 # 2026-11-06T00:00:00Z
    state_setup $name 1 || { fail "late: could not create topics"; return; }
    "$EW" gen --scenario spike --distributions 5 --minutes 5 --seed 44 --start $t \
        --out "$d/gen.tsv" --metadata-out "$d/meta.json" 2>/dev/null
    state_late_batches "$d" $t
    cat "$d/batch1.tsv" "$d/batch2.tsv" > "$d/lines.tsv"
    local n1 n2
    n1=$(wc -l < "$d/batch1.tsv")
    n2=$(wc -l < "$d/batch2.tsv")
    state_config $name '"window": {"width": "60s", "allowed_lateness": "60s"}'
    local m
    state_member_start $name "$d/member.log"; m=$STATE_PID

    kcat -P -b "$KAFKA_BOOTSTRAP" -t $name-logs -p 0 -l "$d/batch1.tsv"
    expect "late: window A is scored once batch 1 moved the watermark past it" \
        wait_for 30 state_window_done $name "$d/member.log" $t
    kcat -P -b "$KAFKA_BOOTSTRAP" -t $name-logs -p 0 -l "$d/batch2.tsv"
    expect "late: all $((n1 + n2)) records applied" wait_for 30 state_offsets_reach $name $((n1 + n2))
    sleep 2 # two more flush/close rounds, in which A must not come back
    expect "late: window A is not pending again" test -z "$(state_vk zscore $name:pending $t)"
    state_member_stop $m
    expect "late: window A was scored exactly once" \
        test "$(grep -c "scored window ${t}000:" "$d/member.log")" -eq 1
    expect "late: the shutdown summary counts the $n2 late records" grep -q "stopped: .* $n2 late" "$d/member.log"
    expect "late: window A's req counts all its records" \
        test "$(state_window_sum $name $t req)" -eq $((40 + 20 + n2))
    expect "late: window A's late counts only the $n2 records beyond lateness" \
        test "$(state_window_sum $name $t late)" -eq "$n2"
    state_check $name "late: every counter equals ground truth; late only in batch 2" --late-from "$d/batch2.tsv"
}

# state_window_done NAME LOG WS_S: the window was scored and its claim is done.
state_window_done() {
    grep -q "scored window ${3}000:" "$2" && [ "$(state_vk get "$1:claim:$3")" = "done" ]
}

# state_window_sum NAME WS_S FIELD: FIELD summed over the window's entities.
state_window_sum() {
    local e v s=0
    for e in $(state_vk smembers "$1:win:$2"); do
        v=$(state_vk hget "$1:agg:$e:$2" "$3")
        s=$((s + ${v:-0}))
    done
    echo $s
}
