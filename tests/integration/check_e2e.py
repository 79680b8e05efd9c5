#!/usr/bin/env python3
"""Compares what edgewatch stored and emitted with ground truth from the input.

usage: check_e2e.py LINES METADATA LABELS ALERTS.jsonl VALKEY_PORT PREFIX

Ground truth is recomputed from the generated lines themselves: requests and
bytes per (distribution, 60 s window), keyed through the metadata file the
way the processor keys them. Prints one line per problem; exit 1 if any.
"""
import json
import subprocess
import sys
from collections import defaultdict

FIELDS = ("timestamp c-ip time-to-first-byte sc-status sc-bytes cs-method cs-protocol cs-host "
          "cs-uri-stem cs-bytes x-edge-location x-edge-request-id x-host-header").split()
TS, BYTES, HOST = FIELDS.index("timestamp"), FIELDS.index("sc-bytes"), FIELDS.index("x-host-header")


def redis(port, *args):
    out = subprocess.run(["redis-cli", "-p", str(port), "--raw", *args], capture_output=True, text=True, check=True)
    return out.stdout.split("\n")[:-1]


def main():
    lines, meta_path, labels_path, alerts_path, port, prefix = sys.argv[1:7]
    meta = json.load(open(meta_path))
    domain_to_id = {d["domain"].lower(): d["id"] for d in meta["distributions"]}
    truth = defaultdict(lambda: [0, 0])
    for line in open(lines):
        cols = line.rstrip("\n").split("\t")
        ws = int(float(cols[TS]) * 1000) // 60000 * 60
        entity = domain_to_id.get(cols[HOST].lower(), cols[HOST])
        t = truth[(entity, ws)]
        t[0] += 1
        t[1] += int(cols[BYTES]) if cols[BYTES] != "-" else 0
    problems = []
    # One pipelined read of every pair: redis-cli reads commands from stdin.
    keys = sorted(truth)
    script = "".join(f"HMGET {prefix}agg:{e}:{ws} req bytes\n" for e, ws in keys)
    out = subprocess.run(["redis-cli", "-p", str(port), "--raw"], input=script, capture_output=True,
                         text=True, check=True).stdout.split("\n")
    for i, key in enumerate(keys):
        got = [int(v) if v else 0 for v in out[2 * i:2 * i + 2]]
        if got != truth[key]:
            problems.append(f"agg {key}: stored req,bytes={got} truth={truth[key]}")
    stored_pairs = len(redis(port, "--scan", "--pattern", f"{prefix}agg:*"))
    if stored_pairs != len(truth):
        problems.append(f"stored {stored_pairs} (entity, window) pairs, truth has {len(truth)}")

    alerts = [json.loads(l) for l in open(alerts_path) if l.strip()]
    contract = ("alert_id event_id status severity rule entity_type entity_id project owner route window_start "
                "window_end observed expected threshold z_short z_long top_contributors suppressed_by "
                "related_alerts summary emitted_at processor replay").split()
    for a in alerts:
        missing = [k for k in contract if k not in a]
        if missing:
            problems.append(f"alert {a.get('event_id')} lacks fields {missing}")
    labels = [json.loads(l) for l in open(labels_path) if l.strip()]
    firing = [a for a in alerts if a["status"] == "firing"]
    for lab in labels:
        hit = [a for a in firing if a["entity_id"] == lab["entity_id"] and a["rule"] == lab["rule"]
               and lab["start"] <= a["window_start"] < lab["end"]]
        if not hit:
            problems.append(f"labelled anomaly not alerted: {lab}")
        elif hit[0]["project"] != lab["project"] or hit[0]["observed"] <= hit[0]["expected"]:
            problems.append(f"alert for {lab['entity_id']} has wrong project or values: {hit[0]}")
    labelled = {lab["entity_id"] for lab in labels}
    false = [a for a in firing if a["entity_id"] not in labelled]
    if false:
        problems.append(f"{len(false)} firing alert(s) on unlabelled distributions, first: {false[0]['summary']}")
    for p in problems[:20]:
        print(p)
    print(f"checked {len(truth)} (distribution, window) pairs, {len(alerts)} alert events, {len(labels)} labels")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
