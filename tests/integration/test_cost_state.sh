# shellcheck shell=bash
# test_cost_state.sh -- the cost (billing) state against a real server:
# build/tests/test_state_cost (tests/unit/test_state_cost.c) with
# EW_TEST_VALKEY_PORT set runs every cost scenario against Valkey as well as
# the memory backend, and checks that both read back identically.
#
# Sourced by run.sh, which provides pass/fail and the stack's Valkey. Also
# runnable on its own after `make`:  bash tests/integration/test_cost_state.sh
# (it then starts the stack of tests/lib/stack.sh itself and stops it on exit).

# test_cost_state: passes when no case fails and none against Valkey skips.
test_cost_state() {
    # COST_TEST_BIN: another build of it (e.g. build/asan/...), made beforehand.
    local bin=${COST_TEST_BIN:-build/tests/test_state_cost} log="$STACK_DIR/cost_state.log"
    if [[ -z ${COST_TEST_BIN:-} ]] && ! make -s "$bin" > "$log" 2>&1; then
        fail "cost state: could not build $bin:"; sed 's/^/    /' "$log"
        return
    fi
    if EW_TEST_VALKEY_PORT=$VALKEY_PORT "$bin" > "$log" 2>&1 && ! grep -q 'SKIPPED \]' "$log"; then
        pass "cost state: memory and Valkey backends, every scenario ($(grep -c '^\[       OK \] memory' "$log") memory, $(grep -c '^\[       OK \] valkey' "$log") Valkey cases)"
    else
        fail "cost state:"; grep -E 'FAILED|SKIPPED|ERROR|error|Assert|^\[  ' "$log" | sed 's/^/    /' | head -40
    fi
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    set -u
    cd "$(dirname "$0")/../.." || exit 1
    source tests/lib/stack.sh
    passed=0 failed=0
    pass() { echo "PASS: $1"; passed=$((passed + 1)); }
    fail() { echo "FAIL: $1"; failed=$((failed + 1)); }
    stack_up 1 > /dev/null || { echo "could not start the stack"; exit 1; }
    test_cost_state
    echo "$passed passed, $failed failed"
    [[ $failed -eq 0 ]]
fi
