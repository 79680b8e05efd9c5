#!/usr/bin/env bash
# stack-selftest.sh -- checks tests/lib/stack.sh end to end.
#
# Brings the stack up, round-trips messages through the embedded Kafka with
# kcat, talks to Valkey, injects a broker outage through the control channel,
# restarts Valkey, then brings everything down and checks that none of our
# processes survived. Prints "N passed, N failed"; exit status 1 on failure.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1
source tests/lib/stack.sh

passed=0
failed=0
check() { # check NAME COMMAND...
    local name=$1; shift
    if "$@"; then
        echo "PASS: $name"; passed=$((passed + 1))
    else
        echo "FAIL: $name"; failed=$((failed + 1))
    fi
}

# Is anything accepting connections on host:port?
port_open() { python3 -c 'import socket, sys
s = socket.socket(); s.settimeout(1)
sys.exit(0 if s.connect_ex((sys.argv[1], int(sys.argv[2]))) == 0 else 1)' "${1%:*}" "${1##*:}"; }
first_broker() { echo "${KAFKA_BOOTSTRAP%%,*}"; }
not() { ! "$@"; }
alive() { kill -0 "$1" 2>/dev/null; }
# Any process whose cwd or an open file lies in directory $1? (redis-server
# rewrites its title, so pgrep cannot find it by its arguments.)
uses_dir() { [[ -n $(find /proc/[0-9]*/cwd /proc/[0-9]*/fd -maxdepth 1 -lname "$1*" 2>/dev/null) ]]; }

roundtrip_kafka() {
    printf 'one\ntwo\nthree\n' | kcat -P -b "$KAFKA_BOOTSTRAP" -t cloudfront-realtime-logs -k selftest || return 1
    local got
    got=$(timeout 20 kcat -C -b "$KAFKA_BOOTSTRAP" -t cloudfront-realtime-logs -o beginning -e -q -f '%s\n' | sort | tr '\n' ' ')
    [[ $got == "one three two " ]]
}

metadata_ok() { timeout 10 kcat -L -b "$KAFKA_BOOTSTRAP" -m 3 -t cloudfront-realtime-logs > /dev/null 2>&1; }
partition_count() { kcat -L -b "$KAFKA_BOOTSTRAP" -m 5 -t "$1" 2>/dev/null | grep -c 'partition [0-9]'; }
ctl_answer_is() { local want=$1; shift; [[ $(stack_kafka_ctl "$@") == "$want"* ]]; }

if ! stack_up 2; then
    echo "FAIL: stack_up"
    echo "0 passed, 1 failed"
    exit 1
fi
check "KAFKA_BOOTSTRAP is exported" test -n "$KAFKA_BOOTSTRAP"
check "topics are created with the requested partitions" test "$(partition_count cloudfront-realtime-logs)" -eq 2
check "3 messages round-trip through kcat" roundtrip_kafka
check "valkey answers PING" test "$(stack_valkey_cli ping)" = PONG
check "valkey listens on 127.0.0.1:$VALKEY_PORT" port_open "127.0.0.1:$VALKEY_PORT"
check "stack_up refuses a second start" not stack_up 2
check "stack processes are found by their open stack dir" uses_dir "$STACK_DIR"

check "control: broker-down 1 answers ok" ctl_answer_is ok "broker-down 1"
check "broker 1 refuses connections while down" not port_open "$(first_broker)"
check "control: broker-up 1 answers ok" ctl_answer_is ok "broker-up 1"
check "broker 1 serves metadata again" metadata_ok
check "control: unknown command is an error" ctl_answer_is "error:" "frobnicate"
check "control: bad broker id is an error" ctl_answer_is "error:" "broker-down 7"
check "control: answers from a subshell stay in step" test "$( stack_kafka_ctl "rtt 1 0" )" = ok
check "control: topic-create" ctl_answer_is ok "topic-create selftest-topic 3"
check "created topic has 3 partitions" test "$(partition_count selftest-topic)" -eq 3

stack_valkey_cli set selftest:key 1 > /dev/null
stack_valkey_stop
check "valkey is down after stack_valkey_stop" not port_open "127.0.0.1:$VALKEY_PORT"
stack_valkey_start
check "valkey is back on the same port" test "$(stack_valkey_cli ping)" = PONG

sleep 300 &
sleeper=$!
stack_track $sleeper

kafka_pid=$STACK_KAFKA_PID
valkey_pid=$STACK_VALKEY_PID
kafka_addr=$(first_broker)
valkey_addr=127.0.0.1:$VALKEY_PORT
dir=$STACK_DIR
stack_down
check "dev-kafka is gone" not alive "$kafka_pid"
check "valkey/redis is gone" not alive "$valkey_pid"
check "tracked process is gone" not alive "$sleeper"
check "kafka port is closed" not port_open "$kafka_addr"
check "valkey port is closed" not port_open "$valkey_addr"
check "no process keeps the stack dir open" not uses_dir "$dir"
check "stack dir is removed" test ! -e "$dir"
check "stack_down is idempotent" stack_down

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
