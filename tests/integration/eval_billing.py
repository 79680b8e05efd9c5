#!/usr/bin/env python3
"""Scores cost alerts against `edgewatch gen --scenario billing` labels.

    eval_billing.py --alerts A --labels L [--truth T --totals S] [--json]

A: alert events as JSON lines (the processor's alert topic or
`--alerts-out`); only rules cost_spike and cost_drop on entity_type
"project" are read, everything else (traffic rules) is ignored.
L: the JSON lines of `gen --labels`. T: the JSON lines of `gen --truth`
({"project", "day", "micros"}). S: the processor's totals in the same
format (rows of one project and day are added up).

- cost_jump label: the project's first firing cost_spike event, in file
  order, must exist (recall), carry report_version == first_refresh (first
  refresh), and its top_contributors' first entry of dimension "service"
  must be top_service and the first of top_dimension must be top_value
  (top contributor).
- quiet label: the project has no firing cost_spike or cost_drop event.
- false alerts: incidents (distinct alert_id) with a firing cost_spike on a
  project that has no cost_jump label; precision = incidents on labelled
  jump projects / all cost_spike incidents.
- totals (when both files are given): every (project, day) of the truth
  equals the totals exactly (a missing row is 0); a non-zero row the truth
  does not have is a mismatch too.

Prints one line per label and a summary line; exits 0 only when every
label matches, nothing is false, every quiet project is clean and every
total is exact; 1 otherwise, 2 on unreadable input.
"""
import argparse
import json
import sys

COST_RULES = ("cost_spike", "cost_drop")


def read_lines(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def cost_events(alerts):
    """Firing cost events on projects, in file order."""
    return [a for a in alerts if a.get("rule") in COST_RULES and a.get("entity_type") == "project"
            and a.get("status") == "firing"]


def first_of(contributors, dimension):
    for c in contributors or []:
        if c.get("dimension") == dimension:
            return c.get("value")
    return None


def score_jump(label, events):
    """One cost_jump label: (row, alert_id of the first firing spike)."""
    project = label["project"]
    spikes = [e for e in events if e["rule"] == "cost_spike" and e.get("entity_id") == project]
    row = {"label": label, "recall": bool(spikes), "first_refresh": False, "top": False, "why": []}
    if not spikes:
        row["why"].append("no firing cost_spike")
        return row, None
    first = spikes[0]
    got = first.get("report_version")
    row["first_refresh"] = got == label["first_refresh"]
    if not row["first_refresh"]:
        row["why"].append(f'first fired in refresh {got}, want {label["first_refresh"]}')
    top = first.get("top_contributors")
    service, value = first_of(top, "service"), first_of(top, label["top_dimension"])
    row["top"] = service == label["top_service"] and value == label["top_value"]
    if service != label["top_service"]:
        row["why"].append(f'top service {service}, want {label["top_service"]}')
    if value != label["top_value"]:
        row["why"].append(f'top {label["top_dimension"]} {value}, want {label["top_value"]}')
    row["refresh"] = got
    return row, first.get("alert_id")


def score_quiet(label, events):
    bad = [e for e in events if e.get("entity_id") == label["project"]]
    return {"label": label, "ok": not bad,
            "offending": [f'{e["rule"]} in {e.get("report_version")}' for e in bad]}


def score_alerts(labels, events):
    jumps = [l for l in labels if l.get("kind") == "cost_jump"]
    quiet = [l for l in labels if l.get("kind") == "quiet"]
    jump_rows = [score_jump(l, events)[0] for l in jumps]
    quiet_rows = [score_quiet(l, events) for l in quiet]
    jump_projects = {l["project"] for l in jumps}
    incidents = {}
    for e in events:
        if e["rule"] == "cost_spike":
            incidents.setdefault(e.get("alert_id"), e)
    false = [e for e in incidents.values() if e.get("entity_id") not in jump_projects]
    matched = len(incidents) - len(false)
    return jump_rows, quiet_rows, false, matched, len(incidents)


def totals_of(rows):
    out = {}
    for r in rows:
        key = (r["project"], r["day"])
        out[key] = out.get(key, 0) + int(r["micros"])
    return out


def score_totals(truth_rows, total_rows):
    """(exact, checked, mismatches): checked = truth rows + extra non-zero rows."""
    truth, totals = totals_of(truth_rows), totals_of(total_rows)
    bad = []
    for key, want in sorted(truth.items()):
        got = totals.get(key, 0)
        if got != want:
            bad.append((key, want, got))
    extra = [(key, 0, got) for key, got in sorted(totals.items()) if key not in truth and got != 0]
    checked = len(truth) + len(extra)
    return checked - len(bad) - len(extra), checked, bad + extra


def evaluate(labels, alerts, truth=None, totals=None):
    events = cost_events(alerts)
    jump_rows, quiet_rows, false, matched, alerted = score_alerts(labels, events)
    n = len(jump_rows)
    r = {
        "jumps": n,
        "recall": sum(x["recall"] for x in jump_rows),
        "first_refresh": sum(x["first_refresh"] for x in jump_rows),
        "top_contributor": sum(x["top"] for x in jump_rows),
        "false_alerts": len(false),
        "incidents": alerted,
        "precision": matched / alerted if alerted else 1.0,
        "quiet": len(quiet_rows),
        "quiet_clean": sum(x["ok"] for x in quiet_rows),
        "totals": None,
    }
    mismatches = []
    if truth is not None:
        exact, checked, mismatches = score_totals(truth, totals)
        r["totals"] = [exact, checked]
    r["ok"] = (r["recall"] == n and r["first_refresh"] == n and r["top_contributor"] == n and not false
               and r["quiet_clean"] == r["quiet"] and (r["totals"] is None or r["totals"][0] == r["totals"][1]))
    return r, {"jump_rows": jump_rows, "quiet_rows": quiet_rows, "false": false, "mismatches": mismatches}


def summary_line(r):
    n = r["jumps"]
    s = (f'billing: recall {r["recall"]}/{n}, first refresh {r["first_refresh"]}/{n}, '
         f'top contributor {r["top_contributor"]}/{n}, false {r["false_alerts"]}, '
         f'precision {r["precision"]:.3f}, quiet {r["quiet_clean"]}/{r["quiet"]} clean')
    if r["totals"] is not None:
        s += f', totals {r["totals"][0]}/{r["totals"][1]} exact'
    return s


def print_report(r, d):
    for x in d["jump_rows"]:
        lab = x["label"]
        ok = x["recall"] and x["first_refresh"] and x["top"]
        what = (f'refresh {x["refresh"]}, top {lab["top_service"]} / {lab["top_dimension"]} {lab["top_value"]}'
                if ok else "; ".join(x["why"]))
        print(f'{"hit " if ok else "MISS"} cost_jump {lab["project"]}: {what}')
    for x in d["quiet_rows"]:
        lab = x["label"]
        what = "no cost alert" if x["ok"] else f'{len(x["offending"])} firing: {", ".join(x["offending"][:5])}'
        print(f'{"ok  " if x["ok"] else "FAIL"} quiet {lab["project"]} ({lab.get("reason", "?")}): {what}')
    for e in d["false"][:20]:
        print(f'false alert: {e.get("alert_id")} cost_spike {e.get("entity_id")} in {e.get("report_version")}')
    for (project, day), want, got in d["mismatches"][:20]:
        print(f'total mismatch: {project} {day}: truth {want} micros, totals {got}')
    if len(d["mismatches"]) > 20:
        print(f'... and {len(d["mismatches"]) - 20} more total mismatches')
    print(summary_line(r))


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--alerts", required=True)
    p.add_argument("--labels", required=True)
    p.add_argument("--truth", help="gen --truth file")
    p.add_argument("--totals", help="the processor's totals per project and day (needs --truth)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the report")
    args = p.parse_args(argv)
    if (args.truth is None) != (args.totals is None):
        p.error("--truth and --totals go together")
    return args


def main(argv):
    args = parse_args(argv)
    try:
        labels, alerts = read_lines(args.labels), read_lines(args.alerts)
        truth = read_lines(args.truth) if args.truth else None
        totals = read_lines(args.totals) if args.totals else None
    except (OSError, ValueError) as e:
        print(f"eval_billing: {e}", file=sys.stderr)
        return 2
    try:
        r, details = evaluate(labels, alerts, truth, totals)
    except (KeyError, TypeError, ValueError) as e:
        print(f"eval_billing: malformed label, alert or total: {e!r}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(r, sort_keys=True))
    else:
        print_report(r, details)
    return 0 if r["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
