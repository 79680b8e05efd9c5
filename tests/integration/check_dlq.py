#!/usr/bin/env python3
"""Checks the dead-letter topic against what the generator injected.

usage: check_dlq.py DLQ_DUMP BAD_COUNTS.json EXTRA_COLUMN_COUNT [OFFSETS_AT_KILL]

DLQ_DUMP is `kcat -f '%S|%h\\n'`: the value size, then the headers. Every
injected malformed record must be there with the reason the generator
expects, its source topic, partition and offset; the original bytes must be
kept (sizes checked where the reason fixes them).

Dead letters are at-least-once (docs/decoding.md): a member killed after
producing a dead letter but before its flush reached Valkey leaves that
record to be read, and dead-lettered, again. So a source may appear twice
only if its offset is at or past the offset Valkey held for its partition
when the member was killed (OFFSETS_AT_KILL: `redis-cli hgetall` output,
partition and next offset on alternate lines); anywhere else a duplicate is
a bug. Prints one line per problem; exit 1 if any.
"""
import json
import sys
from collections import Counter


def main():
    dump, counts_path, extra = sys.argv[1], sys.argv[2], int(sys.argv[3])
    at_kill = {}
    if len(sys.argv) > 4:
        vals = open(sys.argv[4]).read().split()
        at_kill = {vals[i]: int(vals[i + 1]) for i in range(0, len(vals) - 1, 2)}
    replayed = 0
    want = Counter(json.load(open(counts_path)))
    want["column_count"] += extra
    got = Counter()
    seen = set()
    problems = []
    for line in open(dump, encoding="utf-8", errors="replace"):
        size, _, headers = line.rstrip("\n").partition("|")
        h = dict(kv.split("=", 1) for kv in headers.split(",") if "=" in kv)
        reason = h.get("edgewatch.reason")
        where = (h.get("edgewatch.source.topic"), h.get("edgewatch.source.partition"), h.get("edgewatch.source.offset"))
        if None in where or where[0] != "cloudfront-realtime-logs":
            problems.append(f"dead letter without its source: {headers}")
            continue
        if where in seen:
            if int(where[2]) < at_kill.get(where[1], 0):
                problems.append(f"dead-lettered twice below the offset applied before the kill: {where}")
            replayed += 1
            continue
        seen.add(where)
        got[reason] += 1
        size = int(size)
        if reason == "line_too_long" and size <= 16384:
            problems.append(f"line_too_long record is {size} bytes: not the original")
        if reason == "unsupported_encoding" and size != 17:
            problems.append(f"unsupported_encoding record is {size} bytes, want 17")
    for reason in sorted(set(want) | set(got)):
        if want[reason] != got[reason]:
            problems.append(f"reason {reason}: {got[reason]} dead letters, injected {want[reason]}")
    for p in problems[:20]:
        print(p)
    print(f"{sum(got.values())} dead letters (+{replayed} replayed after the kill), {len(got)} reasons: " +
          " ".join(f"{r}={c}" for r, c in sorted(got.items())))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
