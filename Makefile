# edgewatch -- build, test, demo and bench.
#
# `make` builds build/edgewatch and build/edgewatch-notify.
# `make demo` and `make test` first run `make deps`, which installs whatever
# is missing on Debian 12 (as root), so both work on a fresh machine.

CC      ?= cc
CSTD    := -std=c17 -D_GNU_SOURCE
WARN    := -Wall -Wextra -Werror
OPT     ?= -O2 -g
PKGS    := rdkafka jansson hiredis zlib
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS  += $(CSTD) $(WARN) $(OPT) -Iinclude -Ibuild/gen $(PKG_CFLAGS) -MMD -MP
LDLIBS  += $(PKG_LIBS) -lm -lpthread

BUILD   ?= build
LIB_SRC := $(filter-out processor/main.c,$(wildcard processor/*.c)) $(wildcard state/*.c) $(wildcard tools/*.c)
LUA     := $(wildcard state/*.lua)
AVSC    := $(wildcard schemas/*.avsc)
GEN_C   := build/gen/lua_scripts.c build/gen/schemas.c
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/lua_scripts.o $(BUILD)/obj/gen/schemas.o
NOTIFY_SRC := $(wildcard notify/*.c)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all deps test unit integration demo bench clean asan

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
	$(CC) $(CFLAGS) $< $(BUILD)/libedgewatch.a -o $@ $(LDFLAGS) $(LDLIBS) -lcmocka

deps:
	@sh tools/deps.sh

# Unit tests (cmocka) under ASan+UBSan, then integration tests against the
# embedded broker and a real Valkey/Redis server.
test: deps
	$(MAKE) all
	$(MAKE) BUILD=build/asan OPT="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	    LDFLAGS="-fsanitize=address,undefined" unit
	$(MAKE) integration

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

integration: all
	bash tests/integration/run.sh

demo: deps
	$(MAKE) all
	bash tools/demo.sh

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
