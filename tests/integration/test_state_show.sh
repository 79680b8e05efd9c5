# shellcheck shell=bash
# test_state_show.sh -- `edgewatch state show` against the data the
# end-to-end test left in Valkey (prefix ew:, $STACK_DIR/lines.tsv is the
# ground truth, $STACK_DIR/e2e.json the config). Sourced by run.sh after
# test_end_to_end.

# Prints "requests bytes windows" summed over the JSON windows on stdin.
show_totals() {
    python3 -c 'import json,sys
d = json.load(sys.stdin)
print(sum(w["requests"] for w in d["windows"]), sum(w["bytes"] for w in d["windows"]), len(d["windows"]))'
}

# Prints "requests bytes windows" of one distribution (or a project's
# distributions) from the generated lines: $1 = metadata, $2 = lines,
# $3 = "distribution" or "project", $4 = id or project name.
truth_totals() {
    python3 - "$@" <<'PY'
import json, sys
meta, lines, kind, name = sys.argv[1:5]
dists = json.load(open(meta))["distributions"]
ids = {d["domain"].lower(): d["id"] for d in dists}
want = {d["id"] for d in dists if (d["id"] if kind == "distribution" else d["project"]) == name}
req = byt = 0
windows = set()
for line in open(lines):
    c = line.rstrip("\n").split("\t")
    if ids.get(c[12].lower()) in want:
        req += 1
        byt += int(c[4]) if c[4] != "-" else 0
        windows.add(int(float(c[0])) // 60)
print(req, byt, len(windows))
PY
}

test_state_show() {
    local d=$STACK_DIR cfg=$STACK_DIR/e2e.json range id project domain
    range=(--from 2026-11-01T11:00:00Z --to 2026-11-01T14:00:00Z)
    id=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["entity_id"])' "$d/labels.jsonl")
    read -r project domain < <(python3 -c 'import json,sys
for x in json.load(open(sys.argv[1]))["distributions"]:
    if x["id"] == sys.argv[2]: print(x["project"], x["domain"])' "$d/meta.json" "$id")
    local truth
    truth=$(truth_totals "$d/meta.json" "$d/lines.tsv" distribution "$id")
    expect "state show: a distribution's windows sum to ground truth ($truth)" \
        test "$("$EW" state show -c "$cfg" --distribution "$id" "${range[@]}" | show_totals)" = "$truth"
    expect "state show: the domain resolves to the same distribution" \
        test "$("$EW" state show -c "$cfg" --distribution "$domain" "${range[@]}" | show_totals)" = "$truth"
    expect "state show: hourly rollups hold the same totals" \
        test "$("$EW" state show -c "$cfg" --distribution "$id" "${range[@]}" --resolution hour | show_totals | cut -d' ' -f1,2)" \
        = "$(cut -d' ' -f1,2 <<< "$truth")"
    truth=$(truth_totals "$d/meta.json" "$d/lines.tsv" project "$project")
    expect "state show: a project sums its distributions ($truth)" \
        test "$("$EW" state show -c "$cfg" --project "$project" "${range[@]}" | show_totals)" = "$truth"
    # Another distribution joins the project, marked excluded: not counted.
    python3 -c 'import json,sys
m = json.load(open(sys.argv[1]))
other = next(x for x in m["distributions"] if x["project"] != sys.argv[2])
other["project"], other["excluded"] = sys.argv[2], True
json.dump(m, open(sys.argv[3], "w"))' "$d/meta.json" "$project" "$d/meta-excluded.json"
    sed "s#$d/meta.json#$d/meta-excluded.json#" "$cfg" > "$d/e2e-excluded.json"
    expect "state show: an excluded distribution is left out of its project's sum" \
        test "$("$EW" state show -c "$d/e2e-excluded.json" --project "$project" "${range[@]}" | show_totals)" = "$truth"
    expect "state show: windows carry percentiles and top contributors" \
        python3 -c 'import json,sys
w = json.load(sys.stdin)["windows"][0]
assert w["origin_latency_ms"]["p95"] >= w["origin_latency_ms"]["p50"] > 0
t = w["top_contributors"]
assert t and all(0 < x["share"] <= 1 and x["requests"] >= 1 for x in t), t
assert {x["dimension"] for x in t} >= {"country", "edge_location"}, t' \
        < <("$EW" state show -c "$cfg" --distribution "$id" "${range[@]}")
    expect "state show: an unknown project exits 2" exit_code_is 2 "$EW" state show -c "$cfg" --project no-such
    expect "state show: both --distribution and --project exit 2" \
        exit_code_is 2 "$EW" state show -c "$cfg" --project a --distribution b
    expect "state show: a bad time is named" stderr_mentions "yesterday" \
        "$EW" state show -c "$cfg" --distribution "$id" --from yesterday
    expect "state show: Valkey unreachable exits 1" exit_code_is 1 \
        "$EW" state show -c "$cfg" --distribution "$id" --set valkey.port=1
    expect "state show: a namespace reads nothing of live state" \
        test "$("$EW" state show -c "$cfg" --distribution "$id" "${range[@]}" --namespace other | show_totals)" = "0 0 0"
}
