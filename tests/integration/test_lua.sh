# shellcheck shell=bash
# test_lua.sh -- state/flush.lua run directly on the real server, for what
# the end-to-end tests cannot pin down exactly. Sourced by run.sh, which
# provides pass/fail/expect and the stack.

# EVALSHA flush.lua with one partition and one pair: PREFIX FROM NEXT
# ENTITY WS FIELDS... where FIELDS is "n_fields f v ... n_tops f text ...".
flush_script() {
    local prefix=$1 from=$2 next=$3 entity=$4 ws=$5; shift 5
    stack_valkey_cli EVAL "$(cat state/flush.lua)" 0 "$prefix" lua-topic 1000 100 \
        1 0 "$from" "$next" 0 1 "$entity" "$ws" 1 "$@"
}

# The Lua merge of top lists gives the bytes ew_topk_merge_text gives for
# the same inputs (test_merge_shared_vector_with_lua in test_topk.c):
# bytewise order whatever the server's locale, invalid lines skipped, ten
# kept. Also: counters add up, the hour rollup follows, a replayed batch
# is refused without writing, and TTLs are set once, when keys are created.
test_flush_script() {
    local P=ewlua: a b want got
    a=$'5\t/x\n3\t/b\n3\t/a\n1\t/zz\n'
    b=$'2\t/a\n9\t/q\n1\t/\xc3\xa9\n1\t/e\n4\t/c\n2\tbad\tline\n0\t/zero\n1\t/1\n1\t/2\n1\t/3\n1\t/4\n'
    want=$'9\t/q\n5\t/a\n5\t/x\n4\t/c\n3\t/b\n1\t/1\n1\t/2\n1\t/3\n1\t/4\n1\t/e\n'
    flush_script $P 0 10 E1 120 2 req 10 bytes 100 1 top:uri "$a" > /dev/null
    flush_script $P 10 25 E1 120 2 req 15 late 2 1 top:uri "$b" > /dev/null
    got=$(stack_valkey_cli --raw HGET ${P}agg:E1:120 top:uri; echo x)
    expect "flush.lua merges top lists byte for byte like ew_topk_merge_text" test "${got%x}" = "$want"$'\n'
    expect "flush.lua adds counters across batches" \
        test "$(stack_valkey_cli --raw HMGET ${P}agg:E1:120 req bytes late | paste -sd,)" = "25,100,2"
    expect "flush.lua keeps the hour rollup equal to its windows" \
        test "$(stack_valkey_cli --raw HMGET ${P}hagg:E1:0 req bytes late | paste -sd,)" = "25,100,2"
    local refused
    refused=$(flush_script $P 10 25 E1 120 1 req 15 0 | paste -sd,)
    expect "flush.lua refuses a batch whose offsets are applied, writing nothing" \
        test "$refused,$(stack_valkey_cli --raw HGET ${P}agg:E1:120 req)" = "0,0,25,25"
    # A sketch shipped on its own, after its window's counters went out.
    flush_script $P 25 26 E1 120 0 1 top:uri $'7\t/x\n' > /dev/null
    got=$(stack_valkey_cli --raw HGET ${P}agg:E1:120 top:uri | head -n 2 | paste -sd,)
    expect "a sketch-only pair merges its top list and leaves counters and rollups alone" \
        test "$got,$(stack_valkey_cli --raw HGET ${P}agg:E1:120 req),$(stack_valkey_cli --raw HGET ${P}hagg:E1:0 req)" \
        = $'12\t/x,9\t/q,25,25'
    local ttl_w ttl_h
    ttl_w=$(stack_valkey_cli --raw TTL ${P}agg:E1:120)
    ttl_h=$(stack_valkey_cli --raw TTL ${P}hagg:E1:0)
    expect "window keys get window_ttl, rollups the long TTL ($ttl_w s, $ttl_h s)" \
        test "$ttl_w" -gt 0 -a "$ttl_w" -le 100 -a "$ttl_h" -gt 100 -a "$ttl_h" -le 1000
}
