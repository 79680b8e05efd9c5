#!/usr/bin/env python3
"""Reads every project's stored cost per UTC day back out of edgewatch.

usage: billing_totals.py EDGEWATCH CONFIG TRUTH.jsonl FROM TO [--namespace NS] > TOTALS.jsonl

Asks `edgewatch state show --project P` for each project named in the truth
file (the generator's ground truth), so what is compared is what an operator
would see, and prints {"project", "day", "micros"} lines like the truth's.
"""
import datetime
import json
import subprocess
import sys


def main():
    ew, config, truth_path, start, end = sys.argv[1:6]
    extra = sys.argv[6:]
    projects = sorted({json.loads(line)["project"] for line in open(truth_path) if line.strip()})
    for p in projects:
        out = subprocess.run([ew, "state", "show", "-c", config, "--project", p, "--from", start, "--to", end,
                              "--resolution", "hour", *extra], capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"state show --project {p}: exit {out.returncode}: {out.stderr.strip()}")
        for day in json.loads(out.stdout)["cost"]["days"]:
            date = datetime.datetime.fromtimestamp(day["start"] / 1000, datetime.timezone.utc).strftime("%Y-%m-%d")
            print(json.dumps({"project": p, "day": date, "micros": day["total_micros"]}))


if __name__ == "__main__":
    main()
