# edgewatch -- build, test, demo and bench.
#
# `make` builds build/edgewatch and build/edgewatch-notify.
# `make demo` and `make test` first run `make deps`, which installs whatever
# is missing on Debian 12 (as root), so both work on a fresh machine.

CC      ?= cc
CSTD    := -std=c17 -D_GNU_SOURCE
WARN    := -Wall -Wextra -Werror
OPT     ?= -O2 -g
PKGS    := rdkafka jansson hiredis zlib libcurl avro-c
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS  += $(CSTD) $(WARN) $(OPT) -Iinclude -Ibuild/gen $(PKG_CFLAGS) -MMD -MP
LDLIBS  += $(PKG_LIBS) -lm -lpthread

BUILD   ?= build
LIB_SRC := $(filter-out processor/main.c notify/main.c,$(wildcard processor/*.c notify/*.c)) $(wildcard state/*.c) $(wildcard tools/*.c)
LUA     := $(wildcard state/*.lua)
AVSC    := $(wildcard schemas/*.avsc)
GEN_C   := build/gen/lua_scripts.c build/gen/schemas.c
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/lua_scripts.o $(BUILD)/obj/gen/schemas.o
NOTIFY_SRC := notify/main.c
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all deps test unit integration soak demo bench clean asan fuzz fuzz-smoke fuzz-build

all: $(BUILD)/edgewatch $(BUILD)/edgewatch-notify

build/gen/lua_scripts.c: $(LUA) tools/embed.sh
	@mkdir -p $(dir $@)
	sh tools/embed.sh ew_lua_ .lua $(LUA) > $@

build/gen/schemas.c: $(AVSC) tools/embed.sh
	@mkdir -p $(dir $@)
	sh tools/embed.sh ew_schema_ .avsc $(AVSC) > $@

$(BUILD)/obj/gen/%.o: build/gen/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/obj/%.o: %.c | $(GEN_C)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libedgewatch.a: $(LIB_OBJ)
	$(AR) rcs $@ $^

$(BUILD)/edgewatch: $(BUILD)/obj/processor/main.o $(BUILD)/libedgewatch.a
	$(CC) $(CFLAGS) $^ -o $@ $(LDFLAGS) $(LDLIBS)

$(BUILD)/edgewatch-notify: $(NOTIFY_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/libedgewatch.a
	$(CC) $(CFLAGS) $^ -o $@ $(LDFLAGS) $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libedgewatch.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< $(BUILD)/libedgewatch.a -o $@ $(LDFLAGS) $(LDLIBS) -lcmocka -lmicrohttpd

deps:
	@sh tools/deps.sh

# Unit tests (cmocka) under ASan+UBSan, then integration tests against the
# embedded broker and a real Valkey/Redis server.
test: deps
	$(MAKE) all
	$(MAKE) BUILD=build/asan OPT="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	    LDFLAGS="-fsanitize=address,undefined" unit
	$(MAKE) fuzz-smoke
	$(MAKE) integration

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

integration: all
	bash tests/integration/run.sh

# The integration suite with the long crash test: 26 minutes of traffic and
# at least 20 SIGKILLs (make test streams 13 minutes with at least 10).
soak: all
	STATE_CRASH_MINUTES=26 STATE_CRASH_KILLS=20 bash tests/integration/run.sh

demo: deps
	$(MAKE) all
	bash tools/demo.sh

# ---- fuzzing: one libFuzzer target per decoder (fuzz/fuzz_*.c) ----
# Built with clang under ASan+UBSan; the library sources themselves are
# compiled with fuzzer instrumentation into build/fuzz/ so coverage reaches
# the decoders. `make fuzz` runs each target for FUZZ_SECONDS over
# build/fuzz/corpus/<target>, which starts as a copy of
# tests/fuzz-corpus/<target> and keeps what the fuzzer finds between runs
# (nothing is ever written into tests/). A crash, sanitizer report, leak,
# timeout or broken invariant fails the make; the input is saved under
# build/fuzz/artifacts/<target>/ and the log in build/fuzz/fuzz_<target>.log.
# `make fuzz-smoke` is the short run that `make test` does.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_DIR     := build/fuzz
FUZZ_TARGETS := tsv json avro avro_file stdlog message billing alert_avro
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g -O1
FUZZ_CFLAGS  := $(CSTD) $(WARN) $(FUZZ_SAN) -Iinclude -Ibuild/gen $(PKG_CFLAGS) -MMD -MP
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ_DIR)/obj/%.o) $(GEN_C:build/gen/%.c=$(FUZZ_DIR)/obj/gen/%.o)
FUZZ_BIN     := $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%)
FUZZ_FLAGS    = -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -timeout=10 -print_final_stats=1

$(FUZZ_DIR)/obj/gen/%.o: build/gen/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_DIR)/obj/%.o: %.c | $(GEN_C)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_DIR)/libedgewatch.a: $(FUZZ_LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(FUZZ_DIR)/fuzz_%: fuzz/fuzz_%.c $(FUZZ_DIR)/libedgewatch.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $< $(FUZZ_DIR)/libedgewatch.a -o $@ $(LDLIBS)

fuzz-build: $(FUZZ_BIN)

fuzz: fuzz-build
	@failed=""; \
	for t in $(FUZZ_TARGETS); do \
	    corpus=$(FUZZ_DIR)/corpus/$$t; art=$(FUZZ_DIR)/artifacts/$$t; log=$(FUZZ_DIR)/fuzz_$$t.log; \
	    mkdir -p $$corpus $$art; cp tests/fuzz-corpus/$$t/* $$corpus/; \
	    if UBSAN_OPTIONS=print_stacktrace=1 $(FUZZ_DIR)/fuzz_$$t $(FUZZ_FLAGS) -artifact_prefix=$$art/ \
	        $$corpus >$$log 2>&1; then \
	        awk -v t=fuzz_$$t -v s=$(FUZZ_SECONDS) '$$2=="DONE"{cov=$$4; corp=$$8} \
	            /^stat::number_of_executed_units/{runs=$$2} /^stat::average_exec_per_sec/{eps=$$2} \
	            END{printf "fuzz: %-13s ok  %ds  %d runs  %d exec/s  cov %s  corpus %s\n", t, s, runs, eps, cov, corp}' $$log; \
	    else \
	        failed="$$failed fuzz_$$t"; echo "fuzz: fuzz_$$t FAILED (log $$log):"; \
	        grep -E 'ERROR|runtime error|SUMMARY|Test unit written|deadly signal|#[0-9]+ +0x' $$log | head -n 30; \
	    fi; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: failures in:$$failed (inputs in $(FUZZ_DIR)/artifacts/)"; exit 1; fi

fuzz-smoke:
	$(MAKE) fuzz FUZZ_SECONDS=6

# ---- benchmarks (bench/) ----
# 1. bench/run.sh: decodes a generated file of all-69-field lines with
#    ew_decode_message and compares the rate with `wc -l` on the same file;
#    then `edgewatch replay --in-memory` of that file against decoding it.
# 2. bench/state.sh: one member over a pre-filled topic on the test stack;
#    Valkey round trips and commands (client and server side) per million
#    records against issue 4's targets.
#    Then, on the same server, bench_flush: the flush path alone
#    (ew_state_flush of a simulated live member: 1000 entities, 1 s
#    flushes, 3 minutes), without the scoring and polling that the
#    member's figures include.
# 3. bench/replay.sh: replay over several days of thousands of
#    distributions (BENCH_DISTS, BENCH_DAYS, BENCH_DAY_MINUTES), in memory
#    and into a Valkey namespace, each against decoding the same files.
# 4. bench/billing.sh: billing replay in memory and into a Valkey namespace
#    (lines/s, the Valkey run as a ratio of the in-memory one).
# 5. bench_memory: resident memory of the metadata and the aggregator per
#    active distribution, for 1000, 5000 and 10000 distributions.
# Figures only; see docs/performance.md.
BENCH_DIR := $(BUILD)/bench

$(BENCH_DIR)/%.o: bench/%.c | $(GEN_C)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BENCH_DIR)/bench_decode: $(BENCH_DIR)/bench_decode.o $(BUILD)/libedgewatch.a
	$(CC) $(CFLAGS) $^ -o $@ $(LDFLAGS) $(LDLIBS)

$(BENCH_DIR)/bench_memory: $(BENCH_DIR)/bench_memory.o $(BUILD)/libedgewatch.a
	$(CC) $(CFLAGS) $^ -o $@ $(LDFLAGS) $(LDLIBS)

$(BENCH_DIR)/bench_flush: $(BENCH_DIR)/bench_flush.o $(BUILD)/libedgewatch.a
	$(CC) $(CFLAGS) $^ -o $@ $(LDFLAGS) $(LDLIBS)

bench: all $(BENCH_DIR)/bench_decode $(BENCH_DIR)/bench_memory $(BENCH_DIR)/bench_flush
	EDGEWATCH=$(BUILD)/edgewatch BENCH_DECODE=$(BENCH_DIR)/bench_decode bash bench/run.sh
	EDGEWATCH=$(BUILD)/edgewatch BENCH_FLUSH=$(BENCH_DIR)/bench_flush bash bench/state.sh
	EDGEWATCH=$(BUILD)/edgewatch BENCH_DECODE=$(BENCH_DIR)/bench_decode bash bench/replay.sh
	EDGEWATCH=$(BUILD)/edgewatch bash bench/billing.sh
	$(BENCH_DIR)/bench_memory

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
