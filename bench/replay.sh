#!/usr/bin/env bash
# bench/replay.sh -- replay throughput over several days and thousands of
# distributions, in memory and into a Valkey namespace, each as a ratio to
# decoding the same files in the same round. `make bench` runs it after
# bench/state.sh; it builds nothing.
#
# 1. The input (generated once, kept under ${TMPDIR:-/tmp}/edgewatch-bench
#    while the parameters stay the same): gen makes at most 1000
#    distributions per run, and a seed picks the distributions, so seed s
#    (1..S, S = ceil(BENCH_DISTS / 1000)) writes its own distributions to
#    input s, one partition of the replay:
#      for each day d of BENCH_DAYS, starting 2024-01-01:
#        edgewatch gen --scenario spike --distributions N --seed s
#            --start <day d>T12:00:00Z --minutes BENCH_DAY_MINUTES
#      appended in time order to seed-s.tsv
#    A whole day of 1000 distributions is about 40 M records (30 GB), so by
#    default each day contributes a 20-minute slice at noon;
#    BENCH_DAY_MINUTES=1440 gives whole days. The metadata of every seed
#    goes into one file; aliases are left out, since every seed names its
#    sites the same way (records carry the d….cloudfront.net domain, which
#    is unique).
# 2. Starts the test stack (tests/lib/stack.sh) for its Valkey.
# 3. BENCH_REPLAY_ROUNDS rounds (default 3), page cache warm, each timing
#    (process wall time):
#      build/bench/bench_decode --fields default seed-1.tsv ... (reference)
#      edgewatch replay -c bench.json --in-memory --input seed-1.tsv ...
#      edgewatch replay -c bench.json --namespace bench --input ...
#    (the namespace is emptied after each run, outside the timing). Prints
#    records/s and ratio to the round's decode rate for each, and the
#    median over the rounds.
# 4. Checks that every run counted every record and that both backends
#    wrote the same alerts (emitted_at aside).
#
# Figures only: nothing is asserted about time. Knobs: EDGEWATCH,
# BENCH_DECODE, BENCH_DISTS (default 2000), BENCH_DAYS (3),
# BENCH_DAY_MINUTES (20), BENCH_REPLAY_ROUNDS (3), BENCH_REPLAY_VALKEY (1;
# 0 skips the Valkey runs and the stack).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
EDGEWATCH=${EDGEWATCH:-build/edgewatch}
case $EDGEWATCH in /*) ;; *) EDGEWATCH=$ROOT/$EDGEWATCH ;; esac
BENCH_DECODE=${BENCH_DECODE:-build/bench/bench_decode}
case $BENCH_DECODE in /*) ;; *) BENCH_DECODE=$ROOT/$BENCH_DECODE ;; esac
DISTS=${BENCH_DISTS:-2000}
DAYS=${BENCH_DAYS:-3}
DAY_MINUTES=${BENCH_DAY_MINUTES:-20}
ROUNDS=${BENCH_REPLAY_ROUNDS:-3}
VALKEY=${BENCH_REPLAY_VALKEY:-1}
FIRST_DAY=2024-01-01
DIR=${TMPDIR:-/tmp}/edgewatch-bench

say() { echo "bench-replay: $*" >&2; }
for f in "$EDGEWATCH" "$BENCH_DECODE"; do
    [ -x "$f" ] || { say "$f is missing (run make bench)"; exit 1; }
done
(( DISTS >= 1 && DAYS >= 1 && DAY_MINUTES >= 1 && DAY_MINUTES <= 1440 && ROUNDS >= 1 )) || {
    say "need BENCH_DISTS >= 1, BENCH_DAYS >= 1, 1 <= BENCH_DAY_MINUTES <= 1440, BENCH_REPLAY_ROUNDS >= 1"
    exit 1
}

# ---- 1. the input ----
seeds=$(( (DISTS + 999) / 1000 ))
in=$DIR/replay-d$DISTS-days$DAYS-m$DAY_MINUTES
inputs=()
for ((s = 1; s <= seeds; s++)); do inputs+=("$in/seed-$s.tsv"); done

seed_dists() { # seed_dists S: distributions of seed S (the remainder spread over the first seeds)
    echo $(( DISTS / seeds + ($1 <= DISTS % seeds ? 1 : 0) ))
}

gen_seed() { # gen_seed S: seed-S.tsv, day by day, and meta-S.json
    local s=$1 day start
    : > "$in/seed-$s.tsv.part"
    for ((day = 0; day < DAYS; day++)); do
        start=$(date -u -d "$FIRST_DAY + $day days 12:00" +%Y-%m-%dT%H:%M:%SZ)
        "$EDGEWATCH" gen --scenario spike --distributions "$(seed_dists "$s")" --seed "$s" --start "$start" \
            --minutes "$DAY_MINUTES" --out - --metadata-out "$in/meta-$s.json" \
            >> "$in/seed-$s.tsv.part" 2> "$in/gen.log" || {
            say "edgewatch gen failed:"; cat "$in/gen.log" >&2; exit 1
        }
    done
    mv "$in/seed-$s.tsv.part" "$in/seed-$s.tsv"
}

merge_metadata() { # every seed's distributions in one file, without aliases
    python3 - "$in/meta.json" "$in"/meta-*.json <<'PY'
import json, sys
dists = []
for path in sys.argv[2:]:
    for d in json.load(open(path))["distributions"]:
        d.pop("aliases", None)
        dists.append(d)
json.dump({"distributions": dists}, open(sys.argv[1], "w"))
PY
}

if [ ! -s "$in/meta.json" ]; then
    # Inputs of other sizes are gigabytes each: keep only this one.
    find "$DIR" -maxdepth 1 -name 'replay-d*' ! -name "$(basename "$in")" -exec rm -rf {} +
    mkdir -p "$in"
    say "generating $seeds input(s) in $in: $DISTS distributions, $DAYS days x $DAY_MINUTES minutes"
    for ((s = 1; s <= seeds; s++)); do gen_seed "$s"; done
    merge_metadata
else
    say "reusing $in"
fi
records=$(cat "${inputs[@]}" | wc -l)
bytes=$(cat "${inputs[@]}" | wc -c)

# ---- 2. Valkey ----
if [ "$VALKEY" = 1 ]; then
    export EDGEWATCH_BIN=$EDGEWATCH
    # shellcheck source-path=SCRIPTDIR/..
    source tests/lib/stack.sh
    if ! stack_up 1; then
        sleep 2
        stack_up 1 || { say "could not start the stack"; exit 1; }
    fi
    work=$STACK_DIR
    valkey_json=", \"valkey\": {\"host\": \"$VALKEY_HOST\", \"port\": $VALKEY_PORT}"
else
    work=$(mktemp -d "${TMPDIR:-/tmp}/edgewatch-replay.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    valkey_json=
fi
printf '{"metadata": "%s"%s}\n' "$in/meta.json" "$valkey_json" > "$work/bench.json"

# ---- 3. rounds ----
now() { date +%s%N; }
cat "${inputs[@]}" > /dev/null # the page cache, warm for every reader

time_decode() { # prints "records ns"
    local t0 t1 out
    t0=$(now)
    out=$("$BENCH_DECODE" --fields default "${inputs[@]}")
    t1=$(now)
    echo "$(sed -n 's/^records=\([0-9]*\) .*/\1/p' <<< "$out") $(( t1 - t0 ))"
}

time_replay() { # time_replay NAME ARGS...: prints "records ns"
    local name=$1 t0 t1
    shift
    t0=$(now)
    "$EDGEWATCH" replay -c "$work/bench.json" --input "${inputs[@]}" --alerts-out "$work/alerts-$name.jsonl" \
        "$@" 2> "$work/replay-$name.err" || {
        say "replay ($name) failed:"; tail -5 "$work/replay-$name.err" >&2; exit 1
    }
    t1=$(now)
    echo "$(sed -n 's/.*replay summary: \([0-9]*\) records.*/\1/p' "$work/replay-$name.err") $(( t1 - t0 ))"
}

check_records() { # check_records WHAT N
    [ "$2" = "$records" ] || { say "$1 counted $2 records, the inputs hold $records"; exit 1; }
}

rows=()
for ((r = 1; r <= ROUNDS; r++)); do
    read -r n dec_ns < <(time_decode)
    check_records bench_decode "$n"
    read -r n mem_ns < <(time_replay memory --in-memory)
    check_records "replay --in-memory" "$n"
    vk_ns=0
    if [ "$VALKEY" = 1 ]; then
        read -r n vk_ns < <(time_replay valkey --namespace bench)
        check_records "replay --namespace" "$n"
        stack_valkey_cli flushall > /dev/null
    fi
    rows+=("$r $dec_ns $mem_ns $vk_ns")
done

same=skipped
if [ "$VALKEY" = 1 ]; then
    same=$(cmp -s <(sed 's/"emitted_at":"[^"]*",//' "$work/alerts-memory.jsonl") \
                  <(sed 's/"emitted_at":"[^"]*",//' "$work/alerts-valkey.jsonl") && echo yes || echo NO)
fi
summary=$(grep "replay summary" "$work/replay-memory.err")

# ---- 4. figures ----
printf '%s\n' "${rows[@]}" | awk -v records="$records" -v bytes="$bytes" -v dists="$DISTS" -v days="$DAYS" \
    -v minutes="$DAY_MINUTES" -v seeds="$seeds" -v same="$same" -v valkey="$VALKEY" '
function rate(ns) { return ns > 0 ? records / (ns / 1e9) : 0 }
function median(a, n,    i, j, t) {
    for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{ n++; dec[n] = rate($2); mem[n] = rate($3); vk[n] = rate($4); rm[n] = mem[n] / dec[n]; rv[n] = vk[n] / dec[n] }
END {
    printf "\nedgewatch replay benchmark: %d distributions (%d input%s, one per gen seed), %d days x %d minutes,\n",
        dists, seeds, (seeds > 1 ? "s" : ""), days, minutes
    printf "%d records, %.1f MB (43 default fields); process wall time, page cache warm\n\n", records, bytes / 1e6
    printf "%-6s %14s %14s %8s", "round", "decode rec/s", "in-memory", "ratio"
    if (valkey) printf " %14s %8s", "Valkey", "ratio"
    printf "\n"
    for (i = 1; i <= n; i++) {
        printf "%-6d %14.0f %14.0f %7.1f%%", i, dec[i], mem[i], 100 * rm[i]
        if (valkey) printf " %14.0f %7.1f%%", vk[i], 100 * rv[i]
        printf "\n"
    }
    printf "%-6s %14.0f %14.0f %7.1f%%", "median", median(dec, n), median(mem, n), 100 * median(rm, n)
    if (valkey) printf " %14.0f %7.1f%%", median(vk, n), 100 * median(rv, n)
    printf "\n\n"
    printf "%-44s %s\n", "replay --in-memory / decode (target >= 80 %)", (median(rm, n) >= 0.8 ? "MET" : "MISSED")
    printf "%-44s %s\n", "same alerts from both backends", same
}'
echo "in-memory: ${summary#*info: }"
[ "$same" != NO ] || { say "the two backends wrote different alerts"; exit 1; }
