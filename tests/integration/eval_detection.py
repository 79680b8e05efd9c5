#!/usr/bin/env python3
"""Scores a replay's alerts against `edgewatch gen` labels (issue #6 bar).

    eval_detection.py --labels L --alerts A --window-ms W [--days D]
                      [--metadata M | --distributions N] [--json]

L: the JSON lines of `edgewatch gen --labels` (each with expect = alert,
suppressed or none). A: the JSON lines of `edgewatch replay --alerts-out`.
W: the window width the replay used, in milliseconds.

An incident is one alert_id, taken at its first firing event (later firing
events of the same id are updates). A window [ws, ws + W) "touches" a label
when it ends after the label starts and starts before label.end + 2W: the
first window of an incident usually begins before the (minute-aligned)
label start, and the delay is then 0.

- alert label: detected by an unsuppressed incident of its rule and entity
  that touches it; delay = max(0, ws - start) / W windows, first match.
- suppressed label: no unsuppressed incident of its entity overlaps
  [start - W, end + 2W).
- none label: no incident at all (suppressed or not) of its entity.
- an unsuppressed incident is "related" if it matches no label's rule but
  is on a labelled alert entity and touches the label (a DDoS may also raise
  403s, a promotion may flap), and "false" if it is neither a detection nor
  related. False alerts are reported per normal distribution per week:
  false / (normal distributions x days / 7); normal = all distributions
  minus those labelled expect = none.

Exit 0 when recall is 1, false_per_dist_week <= 1, the median delay is at
most 2 windows and every suppressed and none label passes; else exit 1,
naming what failed.
"""
import argparse
import json
import statistics
import sys

DAY_MS = 86_400_000
DEFAULT_DISTRIBUTIONS = 24  # `gen --scenario detection`'s default world
MAX_FALSE_PER_DIST_WEEK = 1.0
MAX_MEDIAN_DELAY = 2.0


def read_lines(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def incidents_of(alerts):
    """One incident per alert_id: its first firing event, plus the time it
    ended (the first resolved event's window start), if it did."""
    firing, resolved = {}, {}
    for a in alerts:
        aid = a.get("alert_id")
        if aid is None:
            continue
        if a.get("status") == "firing":
            if aid not in firing or a["window_start"] < firing[aid]["window_start"]:
                firing[aid] = a
        elif a.get("status") == "resolved":
            resolved[aid] = min(resolved.get(aid, a["window_start"]), a["window_start"])
    out = []
    for aid, a in firing.items():
        out.append({
            "alert_id": aid,
            "rule": a.get("rule"),
            "entity_type": a.get("entity_type", "distribution"),
            "entity_id": a.get("entity_id"),
            "start": a["window_start"],
            "end": resolved.get(aid),  # None: still firing at the end
            "suppressed": a.get("suppressed_by") is not None,
        })
    out.sort(key=lambda i: (i["start"], i["alert_id"]))
    return out


def same_entity(inc, label):
    return inc["entity_id"] == label["entity_id"] and inc["entity_type"] == label.get("entity_type", "distribution")


def touches(inc, label, w):
    return inc["start"] + w > label["start"] and inc["start"] < label["end"] + 2 * w


def overlaps(inc, lo, hi, w):
    end = inc["end"] if inc["end"] is not None else float("inf")
    return inc["start"] < hi and max(end, inc["start"] + w) > lo


def score_alert_labels(labels, incidents, w):
    rows, matched = [], set()
    for lab in labels:
        hits = [i for i in incidents if not i["suppressed"] and same_entity(i, lab)
                and i["rule"] == lab["rule"] and touches(i, lab, w)]
        row = {"label": lab, "ok": bool(hits), "delay": None, "alert_id": None}
        if hits:
            first = hits[0]
            row["delay"] = max(0, first["start"] - lab["start"]) / w
            row["alert_id"] = first["alert_id"]
            matched.add(first["alert_id"])
        rows.append(row)
    return rows, matched


def score_quiet_labels(labels, incidents, w):
    rows = []
    for lab in labels:
        if lab["expect"] == "suppressed":
            bad = [i for i in incidents if not i["suppressed"] and same_entity(i, lab)
                   and overlaps(i, lab["start"] - w, lab["end"] + 2 * w, w)]
        else:
            bad = [i for i in incidents if same_entity(i, lab) and overlaps(i, lab["start"], lab["end"], w)]
        rows.append({"label": lab, "ok": not bad, "offending": [i["alert_id"] for i in bad]})
    return rows


def classify(incidents, alert_labels, matched, w):
    """Splits unsuppressed incidents into detections, related and false."""
    related, false = [], []
    for inc in incidents:
        if inc["suppressed"] or inc["alert_id"] in matched:
            continue
        near = any(same_entity(inc, lab) and touches(inc, lab, w) for lab in alert_labels)
        (related if near else false).append(inc)
    return related, false


def distributions_count(args):
    if args.distributions:
        return args.distributions, "given"
    if args.metadata:
        with open(args.metadata) as f:
            return len(json.load(f)["distributions"]), "metadata"
    return DEFAULT_DISTRIBUTIONS, "assumed (pass --metadata)"


def run_days(args, labels):
    if args.days:
        return args.days
    if not labels:
        return 0
    return (max(l["end"] for l in labels) - min(l["start"] for l in labels)) / DAY_MS


def evaluate(labels, alerts, w, days, n_dists):
    incidents = incidents_of(alerts)
    alert_labels = [l for l in labels if l.get("expect", "alert") == "alert"]
    quiet_labels = [l for l in labels if l.get("expect") in ("suppressed", "none")]
    alert_rows, matched = score_alert_labels(alert_labels, incidents, w)
    quiet_rows = score_quiet_labels(quiet_labels, incidents, w)
    related, false = classify(incidents, alert_labels, matched, w)
    unsuppressed = [i for i in incidents if not i["suppressed"]]
    none_entities = {l["entity_id"] for l in labels if l.get("expect") == "none"}
    normal = max(n_dists - len(none_entities), 1)
    delays = [r["delay"] for r in alert_rows if r["ok"]]
    sup = [r for r in quiet_rows if r["label"]["expect"] == "suppressed"]
    non = [r for r in quiet_rows if r["label"]["expect"] == "none"]
    result = {
        "precision": 1 - len(false) / len(unsuppressed) if unsuppressed else 1.0,
        "recall": sum(r["ok"] for r in alert_rows) / len(alert_rows) if alert_rows else 1.0,
        "median_delay_windows": statistics.median(delays) if delays else None,
        "false_alerts": len(false),
        "false_per_dist_week": len(false) / (normal * days / 7) if days > 0 else float(len(false)),
        "suppressed_ok": [sum(r["ok"] for r in sup), len(sup)],
        "none_ok": [sum(r["ok"] for r in non), len(non)],
        "incidents": len(incidents),
        "unsuppressed_incidents": len(unsuppressed),
        "related_incidents": len(related),
        "normal_distributions": normal,
        "days": days,
    }
    details = {"alert_rows": alert_rows, "quiet_rows": quiet_rows, "false": false}
    result["failures"] = failures(result, details)
    return result, details


def failures(r, details):
    out = []
    if r["recall"] < 1:
        missed = [f'{x["label"]["kind"]}/{x["label"]["entity_id"]}' for x in details["alert_rows"] if not x["ok"]]
        out.append(f'recall {r["recall"]:.3f} < 1 (missed: {", ".join(missed)})')
    if r["false_per_dist_week"] > MAX_FALSE_PER_DIST_WEEK:
        out.append(f'false_per_dist_week {r["false_per_dist_week"]:.3f} > {MAX_FALSE_PER_DIST_WEEK:g} '
                   f'({r["false_alerts"]} false alerts)')
    delay = r["median_delay_windows"]
    if delay is not None and delay > MAX_MEDIAN_DELAY:
        out.append(f"median_delay_windows {delay:.2f} > {MAX_MEDIAN_DELAY:g}")
    for x in details["quiet_rows"]:
        if not x["ok"]:
            lab = x["label"]
            ids = x["offending"]
            more = f" and {len(ids) - 5} more" if len(ids) > 5 else ""
            out.append(f'{lab["expect"]} label {lab.get("kind", "?")}/{lab["entity_id"]} has {len(ids)} '
                       f'incident(s): {", ".join(ids[:5])}{more}')
    return out


def fmt(v):
    return "n/a" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)


def summary_line(r):
    return (f'precision={fmt(r["precision"])} recall={fmt(r["recall"])} '
            f'median_delay_windows={fmt(r["median_delay_windows"])} '
            f'false_per_dist_week={fmt(r["false_per_dist_week"])} '
            f'suppressed_ok={r["suppressed_ok"][0]}/{r["suppressed_ok"][1]} '
            f'none_ok={r["none_ok"][0]}/{r["none_ok"][1]}')


def print_table(r, details, dist_source):
    print(f'{"kind":<24} {"entity":<16} {"rule":<16} {"expect":<10} {"result":<9} delay')
    for x in details["alert_rows"]:
        lab = x["label"]
        print(f'{lab.get("kind", "?"):<24} {lab["entity_id"]:<16} {lab["rule"]:<16} {"alert":<10} '
              f'{"detected" if x["ok"] else "MISSED":<9} {fmt(x["delay"])}')
    for x in details["quiet_rows"]:
        lab = x["label"]
        print(f'{lab.get("kind", "?"):<24} {lab["entity_id"]:<16} {lab.get("rule") or "-":<16} '
              f'{lab["expect"]:<10} {"ok" if x["ok"] else "FAIL":<9} -')
    for inc in details["false"][:20]:
        print(f'false alert: {inc["alert_id"]} {inc["rule"]} {inc["entity_id"]} window_start={inc["start"]}')
    if len(details["false"]) > 20:
        print(f'... and {len(details["false"]) - 20} more false alerts')
    print(f'{r["incidents"]} incidents ({r["unsuppressed_incidents"]} unsuppressed, {r["related_incidents"]} related), '
          f'{r["normal_distributions"]} normal distributions ({dist_source}), {r["days"]:.2f} days')
    print(summary_line(r))


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--labels", required=True)
    p.add_argument("--alerts", required=True)
    p.add_argument("--window-ms", type=int, required=True)
    p.add_argument("--days", type=float, help="length of the run (default: the labels' span)")
    p.add_argument("--metadata", help="gen --metadata-out file, to count the distributions")
    p.add_argument("--distributions", type=int, help="number of distributions (default: from --metadata, else 24)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = p.parse_args(argv)
    if args.window_ms <= 0:
        p.error("--window-ms must be positive")
    return args


def main(argv):
    args = parse_args(argv)
    labels = read_lines(args.labels)
    alerts = read_lines(args.alerts)
    n_dists, source = distributions_count(args)
    r, details = evaluate(labels, alerts, args.window_ms, run_days(args, labels), n_dists)
    if args.json:
        print(json.dumps(r, sort_keys=True))
    else:
        print_table(r, details, source)
    for f in r["failures"]:
        print(f"FAIL: {f}", file=sys.stderr)
    return 1 if r["failures"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
