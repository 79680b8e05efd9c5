# shellcheck shell=bash
# stack.sh -- the local test stack: an embedded Kafka and a Valkey/Redis server.
#
# Source it from test scripts and the demo:
#
#   . tests/lib/stack.sh
#   stack_up 8                      # 8 partitions per topic
#   kcat -b "$KAFKA_BOOTSTRAP" ...
#   stack_valkey_cli ping
#   stack_kafka_ctl "broker-down 1" # fault injection, prints "ok"
#   some_processor & stack_track $!
#   ...                             # stack_down runs on EXIT, INT and TERM
#
# Kafka is `edgewatch dev-kafka --control` (librdkafka's mock cluster). The
# mock only takes fault-injection calls inside its own process, so its stdin
# is a FIFO we keep open: each control command is one line in, one answer
# line ("ok" / "error: ...") out. Its stdout goes to a file whose first line
# is the bootstrap list and whose later lines are the answers, so answers can
# be read from any subshell by line number. When this shell dies, even by
# SIGKILL, the FIFO loses its last writer and dev-kafka quits on EOF; a small
# watchdog does the same for Valkey. Nothing outlives the test.
#
# The Kafka ports are chosen by the mock itself (it binds 127.0.0.1:0);
# Valkey gets a free loopback port picked by python3.
#
# Exports: STACK_DIR KAFKA_BOOTSTRAP VALKEY_HOST VALKEY_PORT VALKEY_CLI
#          STACK_KAFKA_PID STACK_VALKEY_PID
# Knobs:   EDGEWATCH_BIN (default build/edgewatch, relative to the repo root)
#          STACK_KAFKA_BROKERS (default 1)
#          STACK_VALKEY_PERSIST=1 (AOF in $STACK_DIR, survives stop/start)
#          STACK_VALKEY_ARGS (extra server arguments, word-split)
#          STACK_TIMEOUT (seconds to wait for startup / a control answer, 20)
#          STACK_KEEP=1 (stack_down keeps $STACK_DIR and its logs)
#
# Works under `set -euo pipefail`. Control commands must be sent one at a
# time (not from parallel subshells).

STACK_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STACK_REPO_ROOT=$(cd "$STACK_LIB_DIR/../.." && pwd)

stack__say() { echo "stack: $*" >&2; }

stack__edgewatch_bin() {
    local bin=${EDGEWATCH_BIN:-build/edgewatch}
    case $bin in
        /*) echo "$bin" ;;
        *) echo "$STACK_REPO_ROOT/$bin" ;;
    esac
}

stack__free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# Every pid we own is also written to a file so that the watchdog (a
# subshell with a snapshot of our variables) and subshells see it.
stack__record_pid() { echo "$2" > "$STACK_DIR/pids/$1"; }

# TERM, then up to 5 s of grace, then KILL. Works for non-children too.
stack__kill_pid() {
    local pid=$1 i
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# Waits until file $1 has at least $2 complete lines, while pid $3 lives.
stack__wait_lines() {
    local file=$1 want=$2 pid=$3 deadline=$((SECONDS + ${STACK_TIMEOUT:-20}))
    while (( SECONDS < deadline )); do
        if [[ -f $file ]] && (( $(wc -l < "$file") >= want )); then
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

# ---------------------------------------------------------------------------
# Kafka (edgewatch dev-kafka --control)
# ---------------------------------------------------------------------------

stack__kafka_start() {
    local partitions=$1 bin fifo
    bin=$(stack__edgewatch_bin)
    if [[ ! -x $bin ]]; then
        stack__say "$bin is not built (run make, or set EDGEWATCH_BIN)"
        return 1
    fi
    fifo=$STACK_DIR/kafka.ctl
    mkfifo "$fifo"
    "$bin" dev-kafka --control --partitions "$partitions" --brokers "${STACK_KAFKA_BROKERS:-1}" \
        < "$fifo" > "$STACK_DIR/kafka.out" 2> "$STACK_DIR/kafka.log" &
    STACK_KAFKA_PID=$!
    stack__record_pid kafka "$STACK_KAFKA_PID"
    # Read-write open never blocks on a FIFO, and we become its writer only
    # after the child exists, so dev-kafka itself never holds a writer.
    exec {STACK__KAFKA_FD}<>"$fifo"
    echo 1 > "$STACK_DIR/kafka.answered"
    if ! stack__wait_lines "$STACK_DIR/kafka.out" 1 "$STACK_KAFKA_PID"; then
        stack__say "dev-kafka did not print its bootstrap list; its log:"
        tail -n 20 "$STACK_DIR/kafka.log" >&2
        return 1
    fi
    KAFKA_BOOTSTRAP=$(head -n 1 "$STACK_DIR/kafka.out")
    export KAFKA_BOOTSTRAP STACK_KAFKA_PID
}

# Closing our end of the FIFO is dev-kafka's normal way out (EOF = quit).
stack__kafka_stop() {
    if [[ -n ${STACK__KAFKA_FD:-} ]]; then
        exec {STACK__KAFKA_FD}>&-
        STACK__KAFKA_FD=
    fi
    [[ -n ${STACK_KAFKA_PID:-} ]] || return 0
    local i
    for ((i = 0; i < 50; i++)); do
        kill -0 "$STACK_KAFKA_PID" 2>/dev/null || break
        sleep 0.1
    done
    stack__kill_pid "$STACK_KAFKA_PID"
    STACK_KAFKA_PID=
}

# stack_kafka_ctl "COMMAND ARGS": sends one control line to dev-kafka and
# prints its answer. Returns 0 when the answer is "ok". Commands:
#   broker-down ID | broker-up ID | rtt ID MS | topic-create NAME PARTITIONS
#   leader TOPIC PARTITION ID | quit      (ID -1 means every broker)
stack_kafka_ctl() {
    if [[ -z ${STACK__KAFKA_FD:-} || -z ${STACK_KAFKA_PID:-} ]] || ! kill -0 "$STACK_KAFKA_PID" 2>/dev/null; then
        stack__say "dev-kafka is not running"
        return 1
    fi
    local n answer
    n=$(( $(cat "$STACK_DIR/kafka.answered") + 1 ))
    printf '%s\n' "$*" >&"$STACK__KAFKA_FD"
    if ! stack__wait_lines "$STACK_DIR/kafka.out" "$n" "$STACK_KAFKA_PID"; then
        stack__say "no answer from dev-kafka to '$*'"
        return 1
    fi
    echo "$n" > "$STACK_DIR/kafka.answered"
    answer=$(sed -n "${n}p" "$STACK_DIR/kafka.out")
    echo "$answer"
    [[ $answer == ok ]]
}

# ---------------------------------------------------------------------------
# Valkey / Redis
# ---------------------------------------------------------------------------

stack__valkey_server_bin() {
    command -v valkey-server || command -v redis-server || {
        stack__say "neither valkey-server nor redis-server is on PATH"
        return 1
    }
}

stack__valkey_cli_bin() {
    command -v valkey-cli || command -v redis-cli || {
        stack__say "neither valkey-cli nor redis-cli is on PATH"
        return 1
    }
}

stack_valkey_cli() { "$VALKEY_CLI" -h "$VALKEY_HOST" -p "$VALKEY_PORT" "$@"; }

# Starts the server on $VALKEY_PORT; returns 1 if it dies or never answers.
stack__valkey_launch() {
    local server persist=() extra=() i
    server=$(stack__valkey_server_bin) || return 1
    if [[ ${STACK__VALKEY_PERSIST:-0} == 1 ]]; then
        persist=(--appendonly yes)
    fi
    if [[ -n ${STACK__VALKEY_ARGS:-} ]]; then
        # shellcheck disable=SC2206  # word splitting is the documented contract
        extra=($STACK__VALKEY_ARGS)
    fi
    "$server" --port "$VALKEY_PORT" --bind 127.0.0.1 --dir "$STACK_DIR" --daemonize no \
        --save "" "${persist[@]}" "${extra[@]}" --logfile "$STACK_DIR/valkey.log" \
        < /dev/null > /dev/null 2>&1 {STACK__KAFKA_FD}>&- &
    STACK_VALKEY_PID=$!
    stack__record_pid valkey "$STACK_VALKEY_PID"
    export STACK_VALKEY_PID
    for ((i = 0; i < ${STACK_TIMEOUT:-20} * 10; i++)); do
        [[ $(stack_valkey_cli ping 2>/dev/null) == PONG ]] && return 0
        kill -0 "$STACK_VALKEY_PID" 2>/dev/null || break
        sleep 0.1
    done
    stack__kill_pid "$STACK_VALKEY_PID"
    STACK_VALKEY_PID=
    return 1
}

# A fresh port can be taken between picking and binding; try a few.
stack__valkey_first_start() {
    VALKEY_CLI=$(stack__valkey_cli_bin) || return 1
    # Frozen now: `STACK_VALKEY_PERSIST=1 stack_up` sets it only for that
    # call, and a restart must come back with the same persistence.
    STACK__VALKEY_PERSIST=${STACK_VALKEY_PERSIST:-0}
    STACK__VALKEY_ARGS=${STACK_VALKEY_ARGS:-}
    VALKEY_HOST=127.0.0.1
    export VALKEY_CLI VALKEY_HOST
    for _ in 1 2 3; do
        VALKEY_PORT=$(stack__free_port)
        export VALKEY_PORT
        stack__valkey_launch && return 0
    done
    stack__say "valkey/redis did not start; its log:"
    tail -n 20 "$STACK_DIR/valkey.log" >&2 2>/dev/null
    return 1
}

# For outage tests: stop the server; graceful, so AOF data is kept when
# STACK_VALKEY_PERSIST=1.
stack_valkey_stop() {
    [[ -n ${STACK_VALKEY_PID:-} ]] || return 0
    stack__kill_pid "$STACK_VALKEY_PID"
    STACK_VALKEY_PID=
    rm -f "$STACK_DIR/pids/valkey"
}

# Restarts on the same port and directory, so clients reconnect to the
# address they already have.
stack_valkey_start() {
    if [[ -z ${STACK_DIR:-} || -z ${VALKEY_PORT:-} ]]; then
        stack__say "stack_valkey_start: the stack is not up"
        return 1
    fi
    if [[ -n ${STACK_VALKEY_PID:-} ]] && kill -0 "$STACK_VALKEY_PID" 2>/dev/null; then
        return 0
    fi
    stack__valkey_launch && return 0
    stack__say "valkey/redis did not restart on port $VALKEY_PORT; its log:"
    tail -n 20 "$STACK_DIR/valkey.log" >&2 2>/dev/null
    return 1
}

# ---------------------------------------------------------------------------
# Lifecycle
# ---------------------------------------------------------------------------

# stack_track PID: stack_down also stops this process (TERM, then KILL).
stack_track() {
    local pid
    for pid in "$@"; do
        echo "$pid" >> "$STACK_DIR/pids/tracked"
    done
}

# Stops everything if this shell disappears without running its traps.
stack__start_watchdog() {
    local owner=$$ dir=$STACK_DIR
    (
        trap - EXIT INT TERM
        set +euo pipefail # inherited from the test; kills of gone pids fail
        while kill -0 "$owner" 2>/dev/null; do sleep 1; done
        for f in "$dir"/pids/*; do
            [[ -f $f ]] && xargs -r kill -TERM < "$f" 2>/dev/null
        done
        sleep 2
        for f in "$dir"/pids/*; do
            [[ -f $f ]] && xargs -r kill -KILL < "$f" 2>/dev/null
        done
        rm -rf "$dir"
    ) < /dev/null > /dev/null 2>&1 {STACK__KAFKA_FD}>&- &
    STACK__WATCHDOG_PID=$!
}

stack__install_traps() {
    trap stack_down EXIT
    trap 'stack_down; trap - EXIT; exit 130' INT
    trap 'stack_down; trap - EXIT; exit 143' TERM
}

# stack_up [PARTITIONS]: starts Kafka and Valkey in a fresh $STACK_DIR.
stack_up() {
    local partitions=${1:-4}
    if [[ -n ${STACK_DIR:-} && -d ${STACK_DIR:-} ]]; then
        stack__say "already up in $STACK_DIR; call stack_down first"
        return 1
    fi
    STACK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/edgewatch-stack.XXXXXX")
    export STACK_DIR
    mkdir "$STACK_DIR/pids"
    stack__install_traps
    if ! stack__kafka_start "$partitions" || ! stack__valkey_first_start; then
        stack_down
        return 1
    fi
    # After both servers, so it never holds the FIFO or their output.
    stack__start_watchdog
    stack__say "up: kafka $KAFKA_BOOTSTRAP, valkey $VALKEY_HOST:$VALKEY_PORT, dir $STACK_DIR"
}

# stack_down: stops tracked processes first (they may still be flushing to
# Kafka/Valkey), then Kafka, then Valkey. Safe to call any number of times.
stack_down() {
    [[ -n ${STACK_DIR:-} ]] || return 0
    local pid
    if [[ -n ${STACK__WATCHDOG_PID:-} ]]; then
        kill -KILL "$STACK__WATCHDOG_PID" 2>/dev/null || true
        wait "$STACK__WATCHDOG_PID" 2>/dev/null || true
        STACK__WATCHDOG_PID=
    fi
    if [[ -f $STACK_DIR/pids/tracked ]]; then
        while read -r pid; do
            stack__kill_pid "$pid"
        done < "$STACK_DIR/pids/tracked"
    fi
    stack__kafka_stop
    stack_valkey_stop
    if [[ ${STACK_KEEP:-0} == 1 ]]; then
        stack__say "kept $STACK_DIR"
    else
        rm -rf "$STACK_DIR"
    fi
    STACK_DIR=
    KAFKA_BOOTSTRAP=
}
