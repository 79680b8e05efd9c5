#!/usr/bin/env python3
"""Checks every stored counter of every (entity, window) against ground truth.

usage: check_state.py LINES METADATA VALKEY_PORT PREFIX
                      [--width SECONDS] [--late-zero | --late-from LATE_LINES] [--hourly]

Ground truth is recomputed from the TSV lines (the 43 default real-time
fields) the way docs and state/README.md define the fields of
PREFIXagg:<entity>:<window_start_s>: req, bytes, the status classes, the
cache result classes and the two latency histograms. An absent hash field
means 0. Every truth pair is read with HGETALL, pipelined over one
connection, and the number of stored agg keys must equal the number of
truth pairs. Every stored top-contributor entry (top:* fields) must be a
lower bound: its count never above the value's true count in the window.

--late-zero           the `late` field must be 0 (absent) everywhere.
--late-from FILE      the records of FILE (a subset of LINES) are the late
                      ones: `late` of each pair must equal their count there.
--hourly              also check the hourly rollups
                      PREFIXhagg:<entity>:<hour_start_s>: the same counters
                      summed over the hour, and as many keys as truth has
                      (entity, hour) pairs.

Prints one line per problem (at most 20), then "checked N pairs, M counters";
exits 1 if there was any problem.
"""
import argparse
import json
import socket
import subprocess
import sys
from urllib.parse import unquote_to_bytes
from collections import defaultdict

DEFAULT_FIELDS = (
    "timestamp c-ip time-to-first-byte sc-status sc-bytes cs-method cs-protocol cs-host cs-uri-stem "
    "cs-bytes x-edge-location x-edge-request-id x-host-header time-taken cs-protocol-version c-ip-version "
    "cs-user-agent cs-referer cs-cookie cs-uri-query x-edge-response-result-type x-forwarded-for "
    "ssl-protocol ssl-cipher x-edge-result-type fle-encrypted-fields fle-status sc-content-type "
    "sc-content-len sc-range-start sc-range-end c-port x-edge-detailed-result-type c-country "
    "cs-accept-encoding cs-accept cache-behavior-path-pattern cs-headers cs-header-names "
    "cs-headers-count origin-fbl origin-lbl asn").split()
COL = {name: i for i, name in enumerate(DEFAULT_FIELDS)}

BOUNDS_MS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)  # t13/o13: above
RESULTS = {"Hit": "hit", "RefreshHit": "hit", "OriginShieldHit": "hit", "Miss": "miss",
           "Error": "err", "LimitExceeded": "limit", "CapacityExceeded": "cap"}
COUNTERS = (["req", "bytes", "s2xx", "s3xx", "s4xx", "s403", "s5xx", "sother",
             "hit", "miss", "err", "limit", "cap", "oth"]
            + [f"t{i}" for i in range(14)] + [f"o{i}" for i in range(14)])
MAX_PROBLEMS = 20
# Stored top-contributor fields -> (column, bytes kept); see processor/topk.c.
TOPS = {"top:ip": ("c-ip", 45), "top:asn": ("asn", 10), "top:country": ("c-country", 3),
        "top:uri": ("cs-uri-stem", 55), "top:edge": ("x-edge-location", 11)}


def seconds_to_ms(text):
    """"1700000000.1239" -> 1700000000123: whole milliseconds, truncated."""
    whole, _, frac = text.partition(".")
    return int(whole) * 1000 + int((frac + "000")[:3])


def bucket(ms):
    for i, bound in enumerate(BOUNDS_MS):
        if ms <= bound:
            return i
    return len(BOUNDS_MS)


def status_classes(text):
    status = 0 if text == "-" else int(text)
    classes = {2: "s2xx", 3: "s3xx", 4: "s4xx", 5: "s5xx"}
    names = [classes.get(status // 100, "sother") if 200 <= status < 600 else "sother"]
    if status == 403:
        names.append("s403")
    return names


def record_counters(cols):
    """The counter increments of one record."""
    inc = {"req": 1, "bytes": 0 if cols[COL["sc-bytes"]] == "-" else int(cols[COL["sc-bytes"]])}
    for name in status_classes(cols[COL["sc-status"]]):
        inc[name] = 1
    inc[RESULTS.get(cols[COL["x-edge-result-type"]], "oth")] = 1
    for column, letter in (("time-to-first-byte", "t"), ("origin-fbl", "o")):
        if cols[COL[column]] != "-":
            inc[f"{letter}{bucket(seconds_to_ms(cols[COL[column]]))}"] = 1
    return inc


def load_names(meta_path):
    """Lower-cased id, domain and aliases -> distribution id."""
    names = {}
    for d in json.load(open(meta_path))["distributions"]:
        for n in [d["id"], d["domain"], *d.get("aliases", [])]:
            names[n.lower()] = d["id"]
    return names


def entity_of(cols, names):
    identity = next((v for v in (cols[COL["x-host-header"]], cols[COL["cs-host"]]) if v not in ("", "-")), "")
    return names.get(identity.lower(), identity)


def cut_utf8(data, cap):
    """The bytes topk.c keeps of a value: at most cap, never half a character,
    control bytes as '?'."""
    if len(data) > cap:
        n = cap
        while n > 0 and n + 3 > cap and (data[n] & 0xC0) == 0x80:
            n -= 1
        data = data[:n]
    return bytes(b if b >= 0x20 and b != 0x7F else 0x3F for b in data)


def top_values(cols):
    """(top field, value) of one record, as the sketch would store them."""
    for field, (column, cap) in TOPS.items():
        raw = cols[COL[column]]
        if raw in ("", "-"):
            continue
        data = unquote_to_bytes(raw.split("?", 1)[0]) if column == "cs-uri-stem" else raw.encode()
        value = cut_utf8(data, cap)
        if value:
            yield field, value.decode("utf-8", "replace")


def read_lines(path, names, width_s):
    """Yields ((entity, window_start_s), counters) per record."""
    for line in open(path):
        cols = line.rstrip("\n").split("\t")
        ws = seconds_to_ms(cols[COL["timestamp"]]) // (width_s * 1000) * width_s
        yield (entity_of(cols, names), ws), record_counters(cols)


def truth_of(path, names, width_s):
    truth = defaultdict(lambda: defaultdict(int))
    for key, inc in read_lines(path, names, width_s):
        for field, v in inc.items():
            truth[key][field] += v
    return truth


def read_reply(f):
    """One RESP2 reply from a buffered socket file (bulk strings as str)."""
    line = f.readline()
    kind, rest = line[:1], line[1:-2]
    if kind == b"*":
        return [read_reply(f) for _ in range(int(rest))] if int(rest) >= 0 else None
    if kind == b"$":
        if int(rest) < 0:
            return None
        data = f.read(int(rest) + 2)[:-2]
        return data.decode("utf-8", "replace")
    if kind == b":":
        return int(rest)
    if kind == b"-":
        raise SystemExit(f"valkey error: {rest.decode()}")
    return rest.decode()


def hgetall_all(port, keys):
    """HGETALL of every key, pipelined over one connection -> list of dicts.

    RESP rather than redis-cli output, because top-contributor values hold
    TABs and newlines."""
    with socket.create_connection(("127.0.0.1", int(port))) as sock:
        f = sock.makefile("rb")
        for i in range(0, len(keys), 1000):
            batch = keys[i:i + 1000]
            out = b"".join(b"*2\r\n$7\r\nHGETALL\r\n$%d\r\n%s\r\n" % (len(k.encode()), k.encode())
                           for k in batch)
            sock.sendall(out)
            for _ in batch:
                r = read_reply(f)
                yield dict(zip(r[0::2], r[1::2]))


def count_keys(port, pattern):
    out = subprocess.run(["redis-cli", "-p", str(port), "--raw", "--scan", "--pattern", pattern],
                         capture_output=True, text=True, check=True).stdout.split()
    return len(set(out))


def compare(label, truth, stored, fields, problems):
    """Compares every field of every pair; returns the number of counters compared."""
    n = 0
    for key, want in truth.items():
        got = stored[key]
        if not got:
            n += len(fields)
            problems.append(f"{label} {key[0]}:{key[1]} is missing (truth req={want['req']})")
            continue
        for field in fields:
            n += 1
            g = int(got.get(field, 0))
            if g != want.get(field, 0):
                problems.append(f"{label} {key[0]}:{key[1]} field {field}: stored {g}, truth {want.get(field, 0)}")
        extra = sorted(set(got) - set(COUNTERS) - {"late"} - set(TOPS))
        if extra:
            problems.append(f"{label} {key[0]}:{key[1]} has unexpected fields {extra}")
    return n


def top_truth(path, names, width_s):
    """(entity, window) -> top field -> value -> true count."""
    tops = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
    for line in open(path):
        cols = line.rstrip("\n").split("\t")
        ws = seconds_to_ms(cols[COL["timestamp"]]) // (width_s * 1000) * width_s
        for field, value in top_values(cols):
            tops[(entity_of(cols, names), ws)][field][value] += 1
    return tops


def check_tops(tops, stored, problems):
    """Stored top counts are lower bounds: never above the true count of the
    value in the window, whatever crashed or rebalanced. Returns (entries
    checked, pairs with a top list)."""
    entries = pairs = 0
    for key, got in stored.items():
        lists = {f: v for f, v in got.items() if f.startswith("top:")}
        pairs += bool(lists)
        for field, text in lists.items():
            for line in text.split("\n"):
                if not line:
                    continue
                count, _, value = line.partition("\t")
                entries += 1
                true = tops[key][field].get(value, 0)
                if int(count) > true:
                    problems.append(f"agg {key[0]}:{key[1]} {field} {value!r}: stored {count}, true count {true}")
    return entries, pairs


def check_late(truth, stored, late_truth, problems):
    n = 0
    for key in truth:
        n += 1
        g, w = int(stored[key].get("late", 0)), late_truth.get(key, 0)
        if g != w:
            problems.append(f"agg {key[0]}:{key[1]} field late: stored {g}, expected {w}")
    return n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("lines")
    ap.add_argument("metadata")
    ap.add_argument("port")
    ap.add_argument("prefix")
    ap.add_argument("--width", type=int, default=60, help="window width in seconds")
    late = ap.add_mutually_exclusive_group()
    late.add_argument("--late-zero", action="store_true")
    late.add_argument("--late-from")
    ap.add_argument("--hourly", action="store_true")
    a = ap.parse_args()

    names = load_names(a.metadata)
    truth = truth_of(a.lines, names, a.width)
    problems = []
    keys = sorted(truth)
    replies = hgetall_all(a.port, [f"{a.prefix}agg:{e}:{ws}" for e, ws in keys])
    stored = dict(zip(keys, replies))
    counters = compare("agg", truth, stored, COUNTERS, problems)
    top_entries, top_pairs = check_tops(top_truth(a.lines, names, a.width), stored, problems)
    stored_pairs = count_keys(a.port, f"{a.prefix}agg:*")
    if stored_pairs != len(truth):
        problems.append(f"stored {stored_pairs} agg keys, truth has {len(truth)} (entity, window) pairs")

    if a.late_zero or a.late_from:
        late_truth = defaultdict(int)
        if a.late_from:
            for key, _ in read_lines(a.late_from, names, a.width):
                late_truth[key] += 1
        counters += check_late(truth, stored, late_truth, problems)

    hourly = ""
    if a.hourly:
        htruth = defaultdict(lambda: defaultdict(int))
        for (e, ws), fields in truth.items():
            for f, v in fields.items():
                htruth[(e, ws // 3600 * 3600)][f] += v
        hkeys = sorted(htruth)
        hstored = dict(zip(hkeys, hgetall_all(a.port, [f"{a.prefix}hagg:{e}:{h}" for e, h in hkeys])))
        counters += compare("hagg", htruth, hstored, COUNTERS, problems)
        n_hagg = count_keys(a.port, f"{a.prefix}hagg:*")
        if n_hagg != len(htruth):
            problems.append(f"stored {n_hagg} hagg keys, truth has {len(htruth)} (entity, hour) pairs")
        hourly = f" (+ {len(htruth)} hourly pairs)"

    for p in problems[:MAX_PROBLEMS]:
        print(p)
    if len(problems) > MAX_PROBLEMS:
        print(f"... and {len(problems) - MAX_PROBLEMS} more problems")
    print(f"checked {len(truth)} pairs, {counters} counters{hourly}, "
          f"{top_entries} top-contributor entries on {top_pairs} pairs")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
