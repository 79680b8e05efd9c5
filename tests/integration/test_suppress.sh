# shellcheck shell=bash
# test_suppress.sh -- `edgewatch silence` and `edgewatch event` against the
# stack's real Valkey/Redis server: add, list and rm, the usage errors and
# their exit codes, an unreachable server, namespaces, pruning, and the
# JSON-lines format of `list`. Uses the end-to-end test's config
# ($STACK_DIR/e2e.json: prefix ew:, metadata $STACK_DIR/meta.json), so it
# is sourced by run.sh and called after test_end_to_end. It removes the
# keys it wrote, so later tests see no silences.

# exits_with_one_line CODE CMD...: the command exits CODE with exactly one
# line on stderr (the contract of every usage and runtime error of these commands).
exits_with_one_line() {
    local want=$1 err rc; shift
    err=$("$@" 2>&1 >/dev/null)
    rc=$?
    [ "$rc" -eq "$want" ] && [ -n "$err" ] && [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ]
}

# The JSON lines on stdin are entries of the given kind in list order
# (from_ms, then id), each with exactly the documented members and types.
suppress_lines_valid() {
    python3 -c 'import json, sys
kind = sys.argv[1]
rows = [json.loads(l) for l in sys.stdin]
keys = {"id", "kind", "project", "distribution", "rule", "from_ms", "to_ms", "multiplier", "reason", "created_ms"}
for r in rows:
    assert set(r) == keys, r
    assert r["kind"] == kind and r["id"].startswith("sil-" if kind == "silence" else "evt-"), r
    assert len(r["id"]) == 16 and all(c in "0123456789abcdef" for c in r["id"][4:]), r
    assert (r["project"] is None) != (r["distribution"] is None), r
    assert all(type(r[k]) is int for k in ("from_ms", "to_ms", "created_ms")) and r["to_ms"] > r["from_ms"], r
    assert (r["multiplier"] is None) if kind == "silence" else r["multiplier"] > 0, r
    assert 0 < len(r["reason"].encode()) <= 200, r
assert rows == sorted(rows, key=lambda r: (r["from_ms"], r["id"])), "not in (from_ms, id) order"
assert rows, "no entries"' "$1"
}

# Prints the ids of the entries of a list output on stdin, one per line.
suppress_ids() { python3 -c 'import json,sys
for l in sys.stdin: print(json.loads(l)["id"])'; }

listed() { # listed ID KIND CMD-ARGS...: ID is in `edgewatch KIND list ARGS`
    local id=$1 kind=$2; shift 2
    "$EW" "$kind" list "$@" 2>/dev/null | suppress_ids | grep -qx "$id"
}

test_suppress_usage() {
    local cfg=$1 p=(--project shop --from 2026-11-01T12:00:00Z --to 2026-11-01T13:00:00Z --reason test)
    expect "suppress: silence --help exits 0" exit_code_is 0 "$EW" silence --help
    expect "suppress: event add --help exits 0" exit_code_is 0 "$EW" event add --help
    expect "suppress: silence list --help exits 0" exit_code_is 0 "$EW" silence list --help
    expect "suppress: event rm --help exits 0" exit_code_is 0 "$EW" event rm --help
    expect "suppress: edgewatch --help lists silence and event" \
        test "$("$EW" --help | grep -cE '^  (silence|event) ')" -eq 2
    local long
    long=$(head -c 201 /dev/zero | tr '\0' x)
    local -a cases=(
        "no verb|silence"
        "unknown verb|silence mute"
        "no -c|silence add ${p[*]}"
        "both --project and --distribution|silence add -c $cfg ${p[*]} --distribution E1"
        "neither --project nor --distribution|silence add -c $cfg --from 1 --to 2 --reason r"
        "--to before --from|silence add -c $cfg --project shop --from 20 --to 10 --reason r"
        "--to equal to --from|silence add -c $cfg --project shop --from 10 --to 10 --reason r"
        "missing --to|silence add -c $cfg --project shop --from 10 --reason r"
        "a bad time|silence add -c $cfg --project shop --from yesterday --to 10 --reason r"
        "an unknown rule|silence add -c $cfg ${p[*]} --rule request_spikes"
        "an empty reason|silence add -c $cfg --project shop --from 1 --to 2 --reason="
        "a reason over 200 bytes|silence add -c $cfg --project shop --from 1 --to 2 --reason $long"
        "no multiplier on an event|event add -c $cfg ${p[*]}"
        "multiplier 0|event add -c $cfg ${p[*]} --expect-multiplier 0"
        "a negative multiplier|event add -c $cfg ${p[*]} --expect-multiplier -2"
        "multiplier nan|event add -c $cfg ${p[*]} --expect-multiplier nan"
        "multiplier inf|event add -c $cfg ${p[*]} --expect-multiplier inf"
        "multiplier abc|event add -c $cfg ${p[*]} --expect-multiplier abc"
        "a multiplier on a silence|silence add -c $cfg ${p[*]} --expect-multiplier 2"
        "an unknown option|silence list -c $cfg --bogus"
        "an option of another verb|silence list -c $cfg --project shop"
        "an extra argument|event list -c $cfg extra"
        "rm without an id|silence rm -c $cfg"
        "rm of an event id as a silence|silence rm -c $cfg evt-0123456789ab"
        "a bad namespace|event list -c $cfg --namespace a/b"
        "a missing config file|silence list -c $STACK_DIR/no-such.json"
    )
    local c
    for c in "${cases[@]}"; do
        # shellcheck disable=SC2086 # the case's arguments are words
        expect "suppress: ${c%%|*} exits 2 with one line on stderr" exits_with_one_line 2 "$EW" ${c#*|}
    done
}

test_suppress_unreachable() {
    local closed=$STACK_DIR/suppress-closed.json
    sed "s/\"port\": $VALKEY_PORT/\"port\": 1/" "$STACK_DIR/e2e.json" > "$closed"
    expect "suppress: add with Valkey unreachable exits 1 with one line" exits_with_one_line 1 \
        "$EW" silence add -c "$closed" --project shop --from 1 --to 2 --reason r
    expect "suppress: list with Valkey unreachable exits 1 with one line" exits_with_one_line 1 \
        "$EW" event list -c "$closed"
    expect "suppress: rm with Valkey unreachable exits 1 with one line" exits_with_one_line 1 \
        "$EW" silence rm -c "$closed" sil-0123456789ab
    expect "suppress: the unreachable server is named" stderr_mentions "127.0.0.1:1" \
        "$EW" event list -c "$closed"
}

test_suppress() {
    local d=$STACK_DIR cfg=$STACK_DIR/e2e.json now future past old id1 id2 id3 ev dom dist
    now=$(date +%s)
    future=$((now + 86400)) past=$((now - 86400)) old=$((now - 30 * 86400))
    test_suppress_usage "$cfg"
    test_suppress_unreachable

    id1=$("$EW" silence add -c "$cfg" --project checkout-web --from "$now" --to "$future" --reason "db migration")
    id2=$("$EW" silence add -c "$cfg" --project checkout-web --from "$now" --to "$future" --reason "db migration")
    expect "suppress: silence add prints sil- and 12 hex digits ($id1)" grep -qxE 'sil-[0-9a-f]{12}' <<< "$id1"
    expect "suppress: two identical adds get different ids" test "$id1" != "$id2"
    id3=$("$EW" silence add -c "$cfg" --distribution E2QWRUHAPOMQZL --rule error_5xx_rate \
        --from "$((past - 3600))" --to "$past" --reason "ended yesterday")
    ev=$("$EW" event add -c "$cfg" --project media-cdn --from "$((now - 3600))" --to "$future" \
        --expect-multiplier 3.5 --reason "app push")
    expect "suppress: event add prints evt- and 12 hex digits ($ev)" grep -qxE 'evt-[0-9a-f]{12}' <<< "$ev"
    expect "suppress: the entries are in ew:silences and ew:events" \
        test "$(redis-cli -p "$VALKEY_PORT" hlen ew:silences) $(redis-cli -p "$VALKEY_PORT" hlen ew:events)" = "3 1"

    "$EW" silence list -c "$cfg" --all > "$d/silences.jsonl"
    expect "suppress: silence list --all prints valid JSON lines in (from_ms, id) order" \
        suppress_lines_valid silence < "$d/silences.jsonl"
    expect "suppress: silence list --all holds all three" test "$(wc -l < "$d/silences.jsonl")" -eq 3
    expect "suppress: list round-trips the stored object" python3 -c 'import json,sys
stored = json.loads(sys.argv[1])
assert stored in [json.loads(l) for l in open(sys.argv[2])], stored' \
        "$(redis-cli -p "$VALKEY_PORT" --raw hget ew:silences "$id3")" "$d/silences.jsonl"
    expect "suppress: silence list hides a silence that has ended" \
        test "$("$EW" silence list -c "$cfg" | suppress_ids | sort | tr '\n' ' ')" = \
        "$(printf '%s\n' "$id1" "$id2" | sort | tr '\n' ' ')"
    expect "suppress: event list prints the event with its multiplier" python3 -c 'import json,sys
e = json.loads(sys.stdin.read())
assert e["id"] == sys.argv[1] and e["multiplier"] == 3.5 and e["project"] == "media-cdn", e' "$ev" \
        < <("$EW" event list -c "$cfg")
    expect "suppress: event list is valid JSON lines" suppress_lines_valid event < <("$EW" event list -c "$cfg")

    read -r dom dist < <(python3 -c 'import json,sys
x = json.load(open(sys.argv[1]))["distributions"][0]; print(x["domain"], x["id"])' "$d/meta.json")
    local byname
    byname=$("$EW" silence add -c "$cfg" --distribution "$dom" --from "$now" --to "$future" --reason "by domain")
    expect "suppress: a domain is stored as the distribution id the metadata maps it to" python3 -c 'import json,sys
assert json.loads(sys.argv[1])["distribution"] == sys.argv[2]' \
        "$(redis-cli -p "$VALKEY_PORT" --raw hget ew:silences "$byname")" "$dist"

    expect "suppress: silence rm exits 0" "$EW" silence rm -c "$cfg" "$id2"
    expect "suppress: a removed silence is not listed" \
        test "$("$EW" silence list -c "$cfg" --all | grep -c "$id2")" -eq 0
    expect "suppress: rm of an unknown silence exits 1 with one line" exits_with_one_line 1 \
        "$EW" silence rm -c "$cfg" "$id2"
    expect "suppress: rm of an unknown event exits 1 with one line" exits_with_one_line 1 \
        "$EW" event rm -c "$cfg" evt-0123456789ab
    expect "suppress: event rm exits 0" "$EW" event rm -c "$cfg" "$ev"
    expect "suppress: event list is empty after rm" test -z "$("$EW" event list -c "$cfg" --all)"

    local nsid
    nsid=$("$EW" event add -c "$cfg" --namespace sup1 --project shop --from "$now" --to "$future" \
        --expect-multiplier 2 --reason "load test")
    expect "suppress: an add under --namespace is listed there" listed "$nsid" event -c "$cfg" --namespace sup1
    expect "suppress: an add under --namespace is not listed without it" \
        test -z "$("$EW" event list -c "$cfg" --all)"
    expect "suppress: a namespaced entry lives under <prefix>ns:NS:" \
        test "$(redis-cli -p "$VALKEY_PORT" hexists ew:ns:sup1:events "$nsid")" = 1
    expect "suppress: rm without the namespace does not find it" exits_with_one_line 1 \
        "$EW" event rm -c "$cfg" "$nsid"

    # Pruning: an entry that ended 30 days ago (beyond state.retention, 14 d)
    # goes at the next add; one that ended yesterday stays.
    redis-cli -p "$VALKEY_PORT" hset ew:silences sil-00000000000a "{\"id\":\"sil-00000000000a\",\"kind\":\"silence\",\"project\":\"p\",\"from_ms\":$(( (old - 60) * 1000 )),\"to_ms\":$((old * 1000)),\"reason\":\"old\"}" >/dev/null
    redis-cli -p "$VALKEY_PORT" hset ew:silences sil-0000000000bad 'not json' >/dev/null
    expect "suppress: list skips an invalid stored entry with a warning and exits 0" \
        stderr_mentions "sil-0000000000bad" "$EW" silence list -c "$cfg" --all
    expect "suppress: the other entries are still listed" listed "$id1" silence -c "$cfg" --all
    "$EW" silence add -c "$cfg" --project p --from "$now" --to "$future" --reason prune >/dev/null 2>&1
    expect "suppress: add removes entries that ended more than state.retention ago" \
        test "$(redis-cli -p "$VALKEY_PORT" hexists ew:silences sil-00000000000a)" = 0
    expect "suppress: add keeps an entry that ended within state.retention" \
        test "$(redis-cli -p "$VALKEY_PORT" hexists ew:silences "$id3")" = 1
    expect "suppress: the hash itself has no TTL" test "$(redis-cli -p "$VALKEY_PORT" ttl ew:silences)" = -1

    redis-cli -p "$VALKEY_PORT" del ew:silences ew:events ew:ns:sup1:events >/dev/null
}
