#!/usr/bin/env bash
# bench/billing.sh -- billing replay throughput, in memory and into Valkey.
#
# `make bench` runs this last; it builds nothing. It generates the labelled
# billing scenario (edgewatch gen --scenario billing, BENCH_BILLING_PROJECTS
# projects, default 200, over BENCH_BILLING_DAYS days, default 28: CUR line
# items refreshed 3 times a day), starts the test stack for its Valkey, and
# replays the file BENCH_BILLING_ROUNDS times (default 3) with
# `--in-memory` and into a namespace. It prints lines per second for both,
# the Valkey run as a ratio of the in-memory one (the reference, measured
# in the same invocation because these machines are shared), the state
# store's round trips per refresh and commands per line (the replay's
# "billing:" summary line), and checks both backends wrote the same alerts.
set -euo pipefail
cd "$(dirname "$0")/.."
EDGEWATCH=${EDGEWATCH:-build/edgewatch}
PROJECTS=${BENCH_BILLING_PROJECTS:-200}
DAYS=${BENCH_BILLING_DAYS:-28}
ROUNDS=${BENCH_BILLING_ROUNDS:-3}
say() { echo "bench/billing.sh: $*" >&2; }

export EDGEWATCH_BIN=$EDGEWATCH
source tests/lib/stack.sh
stack_up 1 > /dev/null || { say "could not start the stack"; exit 1; }
work=$STACK_DIR
"$EDGEWATCH" gen --scenario billing --seed 1 --projects "$PROJECTS" --days "$DAYS" --out "$work/bill.jsonl" 2> /dev/null
lines=$(wc -l < "$work/bill.jsonl")
printf '{"valkey": {"host": "%s", "port": %s}}\n' "$VALKEY_HOST" "$VALKEY_PORT" > "$work/bench.json"
now() { date +%s%N; }

time_replay() { # time_replay NAME ARGS...: prints the wall time in ns
    local name=$1 t0 t1
    shift
    t0=$(now)
    "$EDGEWATCH" replay -c "$work/bench.json" --billing "$work/bill.jsonl" --alerts-out "$work/alerts-$name.jsonl" \
        "$@" 2> "$work/replay-$name.err" || { say "replay ($name) failed:"; tail -5 "$work/replay-$name.err" >&2; exit 1; }
    t1=$(now)
    echo $((t1 - t0))
}

rows=()
for ((r = 1; r <= ROUNDS; r++)); do
    mem_ns=$(time_replay memory --in-memory)
    vk_ns=$(time_replay valkey --namespace bench)
    stack_valkey_cli flushall > /dev/null
    rows+=("$r $mem_ns $vk_ns")
done
same=$(cmp -s <(sed 's/"emitted_at":"[^"]*",//' "$work/alerts-memory.jsonl") \
              <(sed 's/"emitted_at":"[^"]*",//' "$work/alerts-valkey.jsonl") && echo yes || echo NO)
stats=$(sed -n 's/.*billing: .* \([0-9]*\) refresh ends.*state store: \([0-9]*\) round trips, \([0-9]*\) commands.*/\1 \2 \3/p' \
    "$work/replay-valkey.err")

printf '%s\n' "${rows[@]}" | awk -v lines="$lines" -v projects="$PROJECTS" -v days="$DAYS" -v same="$same" \
    -v stats="$stats" '
function rate(ns) { return ns > 0 ? lines / (ns / 1e9) : 0 }
function median(a, n,    i, j, t) {
    for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{ n++; mem[n] = rate($2); vk[n] = rate($3); ratio[n] = vk[n] / mem[n] }
END {
    split(stats, s, " ")
    printf "\nedgewatch billing replay benchmark: %d projects, %d days, %d billing records; wall time\n\n", projects, days, lines
    printf "%-6s %16s %16s %8s\n", "round", "in-memory rec/s", "Valkey rec/s", "ratio"
    for (i = 1; i <= n; i++) printf "%-6d %16.0f %16.0f %7.1f%%\n", i, mem[i], vk[i], 100 * ratio[i]
    printf "%-6s %16.0f %16.0f %7.1f%%\n\n", "median", median(mem, n), median(vk, n), 100 * median(ratio, n)
    if (s[1] > 0) printf "Valkey: %.1f round trips per refresh, %.2f commands per record\n", s[2] / s[1], s[3] / lines
    printf "same alerts from both backends: %s\n", same
}'
[ "$same" != NO ] || { say "the two backends wrote different alerts"; exit 1; }
