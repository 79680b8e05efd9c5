# test_score.sh -- `edgewatch score` over CSV series (sourced by run.sh).
#
# The detector is the one `run` uses (processor/score.c); these checks are
# about what a user sees: a score per row, high on the injected anomaly and
# low elsewhere, computed from past rows only, and clear errors.

# A 5-minute series over 10 days with a daily cycle, noise, and anomalies
# at known rows: spike (x3) at 2500-2505, drop (x0.2) at 2700-2705.
score_series() { # score_series FILE FORMAT(epoch|datetime)
    python3 - "$1" "$2" <<'PY'
import math, random, sys, datetime
random.seed(7)
out = open(sys.argv[1], "w")
out.write("timestamp,value\n")
for i in range(2880):
    t = 1790000000 - 1790000000 % 86400 + i * 300
    v = 200 + 80 * math.sin(2 * math.pi * (t % 86400) / 86400) + random.gauss(0, 8)
    if 2500 <= i < 2506: v *= 3
    if 2700 <= i < 2706: v *= 0.2
    ts = str(t) if sys.argv[2] == "epoch" else datetime.datetime.utcfromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S")
    out.write(f"{ts},{v:.2f}\n")
PY
}

# Rows (0-based data row numbers) with score > 0.5.
score_high_rows() { awk -F, 'NR > 1 && $3 > 0.5 { print NR - 2 }' "$1" | tr '\n' ' '; }

test_score() {
    local d=$STACK_DIR/score
    mkdir -p "$d"
    score_series "$d/s.csv" epoch
    score_series "$d/t.csv" datetime
    "$EW" score --rule generic --input "$d/s.csv" > "$d/g.out"
    expect "score: one output row per input row, with a header" \
        test "$(wc -l < "$d/g.out")" -eq "$(wc -l < "$d/s.csv")"
    expect "score: generic flags exactly the injected spike and drop rows ($(score_high_rows "$d/g.out"))" \
        test "$(score_high_rows "$d/g.out")" = "2500 2501 2502 2503 2504 2505 2700 2701 2702 2703 2704 2705 "
    "$EW" score --rule request_spike --input "$d/s.csv" > "$d/spike.out"
    expect "score: request_spike flags only the spike ($(score_high_rows "$d/spike.out"))" \
        test "$(score_high_rows "$d/spike.out")" = "2500 2501 2502 2503 2504 2505 "
    "$EW" score --rule request_drop --input "$d/s.csv" > "$d/drop.out"
    expect "score: request_drop flags only the drop ($(score_high_rows "$d/drop.out"))" \
        test "$(score_high_rows "$d/drop.out")" = "2700 2701 2702 2703 2704 2705 "
    expect "score: every score is in [0, 1], and 0 while warming up" \
        awk -F, 'NR > 1 && ($3 < 0 || $3 > 1) { bad = 1 } NR == 2 && $3 != 0 { bad = 1 } END { exit bad }' "$d/g.out"
    "$EW" score --rule generic --input "$d/t.csv" | cut -d, -f3 > "$d/t.scores"
    expect "score: 'YYYY-MM-DD HH:MM:SS' timestamps give the same scores as epoch seconds" \
        cmp -s "$d/t.scores" <(cut -d, -f3 "$d/g.out")
    head -2600 "$d/s.csv" | "$EW" score --rule generic --input - > "$d/prefix.out"
    expect "score: each score uses past rows only (a prefix scores the same)" \
        cmp -s "$d/prefix.out" <(head -2600 "$d/g.out")
    "$EW" score --rule generic --input "$d/s.csv" --set rules.generic.z_warning=50 \
        --set rules.generic.z_critical=60 > "$d/z50.out"
    expect "score: --set changes the rule (z_warning 50: nothing above 0.5)" test -z "$(score_high_rows "$d/z50.out")"
    printf 'timestamp,value\n1790000000,1\n1790000300,abc\n' > "$d/bad.csv"
    expect "score: a bad value exits 2 naming file and line" stderr_mentions "bad.csv:3:" "$EW" score --rule generic --input "$d/bad.csv"
    expect "score: a bad value exits 2" exit_code_is 2 "$EW" score --rule generic --input "$d/bad.csv"
    expect "score: an unknown rule exits 2" exit_code_is 2 "$EW" score --rule nope --input "$d/s.csv"
    expect "score: a missing input exits 1" exit_code_is 1 "$EW" score --rule generic --input "$d/none.csv"
}
