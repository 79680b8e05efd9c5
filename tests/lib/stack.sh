#!/usr/bin/env bash
# stack.sh -- the embedded stack for the demo and the integration tests.
#
# Source it, then call stack_up. It starts `edgewatch dev-kafka` (the
# librdkafka mock cluster, its own process, reached over loopback TCP) and
# valkey-server if on PATH, else redis-server, on a free loopback port, all in
# a temporary directory. An EXIT/INT/TERM trap stops every process it started
# (and those registered with stack_track) and removes the directory, also
# when a test fails.
#
# Exports: STACK_DIR, KAFKA_BOOTSTRAP, VALKEY_HOST, VALKEY_PORT.
# stack_kafka_ctl "broker-down 1" sends a control command to dev-kafka.

STACK_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STACK_PIDS=()

stack_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

stack_track() { STACK_PIDS+=("$1"); }

stack_valkey_server() {
    if command -v valkey-server >/dev/null 2>&1; then echo valkey-server; else echo redis-server; fi
}

stack_valkey_start() {
    local persist=()
    [ "${STACK_VALKEY_PERSIST:-0}" = 1 ] && persist=(--appendonly yes)
    "$(stack_valkey_server)" --bind 127.0.0.1 --port "$VALKEY_PORT" --dir "$STACK_DIR" --save "" \
        --daemonize no "${persist[@]}" > "$STACK_DIR/valkey.log" 2>&1 &
    STACK_VALKEY_PID=$!
    local i
    for i in $(seq 100); do
        redis-cli -p "$VALKEY_PORT" ping 2>/dev/null | grep -q PONG && return 0
        sleep 0.1
    done
    echo "stack: valkey did not start on port $VALKEY_PORT" >&2
    return 1
}

stack_valkey_stop() {
    [ -n "${STACK_VALKEY_PID:-}" ] || return 0
    kill -TERM "$STACK_VALKEY_PID" 2>/dev/null
    wait "$STACK_VALKEY_PID" 2>/dev/null
    STACK_VALKEY_PID=
}

stack_kafka_ctl() {
    local before
    before=$(wc -l < "$STACK_DIR/kafka.out")
    echo "$*" >&7
    local i
    for i in $(seq 100); do
        [ "$(wc -l < "$STACK_DIR/kafka.out")" -gt "$before" ] && { tail -1 "$STACK_DIR/kafka.out"; return 0; }
        sleep 0.05
    done
    return 1
}

stack_up() {
    local partitions=${1:-4}
    local bin=${EDGEWATCH_BIN:-$STACK_ROOT/build/edgewatch}
    STACK_DIR=$(mktemp -d /tmp/edgewatch-stack.XXXXXX)
    export STACK_DIR
    trap stack_down EXIT
    trap 'exit 130' INT TERM
    mkfifo "$STACK_DIR/kafka.ctl"
    "$bin" dev-kafka --partitions "$partitions" --control < "$STACK_DIR/kafka.ctl" \
        > "$STACK_DIR/kafka.out" 2> "$STACK_DIR/kafka.err" &
    STACK_KAFKA_PID=$!
    exec 7> "$STACK_DIR/kafka.ctl"
    local i
    for i in $(seq 100); do
        [ -s "$STACK_DIR/kafka.out" ] && break
        sleep 0.1
    done
    KAFKA_BOOTSTRAP=$(head -1 "$STACK_DIR/kafka.out")
    [ -n "$KAFKA_BOOTSTRAP" ] || { echo "stack: dev-kafka did not start" >&2; cat "$STACK_DIR/kafka.err" >&2; return 1; }
    VALKEY_HOST=127.0.0.1
    VALKEY_PORT=$(stack_free_port)
    export KAFKA_BOOTSTRAP VALKEY_HOST VALKEY_PORT
    stack_valkey_start
}

stack_down() {
    local pid
    for pid in "${STACK_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null
    done
    for pid in "${STACK_PIDS[@]}"; do
        # A process that ignores TERM for 5 s is killed.
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    STACK_PIDS=()
    stack_valkey_stop
    if [ -n "${STACK_KAFKA_PID:-}" ]; then
        exec 7>&- 2>/dev/null
        kill -TERM "$STACK_KAFKA_PID" 2>/dev/null
        wait "$STACK_KAFKA_PID" 2>/dev/null
        STACK_KAFKA_PID=
    fi
    [ -n "${STACK_DIR:-}" ] && [ -d "$STACK_DIR" ] && rm -rf "$STACK_DIR"
    STACK_DIR=
}
