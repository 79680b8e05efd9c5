#!/usr/bin/env python3
"""alert_events.py -- contract-complete alert events for the notifier's tests.

    alert_events.py [--kv] SPEC...

Each SPEC is one event, as comma-separated field=value pairs, e.g.

    rule=request_spike,project=checkout-web,severity=critical
    rule=cost_spike,alert_id=ew-00000000000000c1,status=resolved,window=3
    rule=error_5xx_rate,suppressed_by=sil-0123456789ab

Any top-level field of the alert event can be set (numbers stay numbers,
"null" is null). Shorthands:

    window=N      window_start = 2026-11-01T12:00Z + N rule windows (1 min for
                  traffic rules, 3 h for cost rules); window_end follows
    n=K           a distinguishing number for the default ids (below)
    drop=FIELD    remove FIELD (for malformed events); repeatable with '+'

Defaults: alert_id "ew-" + 16 hex digits derived from rule, project, entity
and n; entity_id a distribution id like E2QWRUHAPOMQZL (or the project for
cost rules); event_id "<alert_id>-f-<window_start>" when firing and
"<alert_id>-r-<window_start>" when resolved (the processor's convention;
recomputed unless event_id is given); summary in the processor's words.

The template of each rule is tests/fixtures/alerts/<rule>.json when that
file exists (an event produced by the processor's encoder), else a built-in
event of the same shape. Prints one JSON event per line, or with --kv
"<alert_id>\\t<json>" for `kcat -P -K '\\t'`.
"""
import copy
import hashlib
import json
import math
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "alerts")
BASE_MS = 1793534400000  # 2026-11-01T12:00:00Z

RULES = ["request_spike", "request_drop", "error_403_rate", "error_5xx_rate", "cache_hit_drop",
         "origin_latency", "cost_spike", "cost_drop"]

WHAT = {"request_spike": "requests per window", "request_drop": "requests per window",
        "error_403_rate": "403 rate", "error_5xx_rate": "5xx rate", "cache_hit_drop": "cache hit ratio",
        "origin_latency": "p95 origin latency", "cost_spike": "spend", "cost_drop": "spend"}

TRAFFIC_TOP = {
    "request_spike": [("client_ip", "203.0.113.77", 0.41), ("asn", "64496", 0.52), ("country", "BR", 0.63),
                      ("uri", "/checkout/cart", 0.35), ("edge_location", "GRU50-C1", 0.58)],
    "request_drop": [("edge_location", "FRA56-P5", 0.72), ("country", "DE", 0.66)],
    "error_403_rate": [("client_ip", "198.51.100.23", 0.47), ("uri", "/login", 0.81), ("asn", "64511", 0.5)],
    "error_5xx_rate": [("uri", "/api/orders", 0.88), ("edge_location", "IAD89-P2", 0.31)],
    "cache_hit_drop": [("uri", "/images/products/15280.webp", 0.22), ("edge_location", "NRT57-P3", 0.4)],
    "origin_latency": [("uri", "/api/search", 0.61), ("edge_location", "SIN52-C1", 0.27)],
}
TRAFFIC_NUMBERS = {  # observed, expected, threshold, z_short, z_long
    "request_spike": (2410.0, 301.5, 520.0, 38.2, 21.7),
    "request_drop": (12.0, 290.0, 150.0, -9.4, -7.1),
    "error_403_rate": (0.38, 0.004, 0.05, 41.3, None),
    "error_5xx_rate": (0.21, 0.002, 0.03, 25.9, None),
    "cache_hit_drop": (0.41, 0.93, 0.7, -12.2, -8.8),
    "origin_latency": (2380.0, 240.0, 800.0, 17.5, 11.0),
}
COST_TOP = {
    "cost_spike": [("usage_type", "USE1-Kafka.m5.2xlarge", 1.32, 3219.44), ("service", "AmazonMSK", 0.99, 2405.43),
                   ("usage_type", "USE1-WriteCapacityUnit-Hrs", 0.014, 34.08)],
    "cost_drop": [("service", "AmazonEC2", 0.93, -1610.5), ("usage_type", "USE1-BoxUsage:m5.large", 0.9, -1555.0)],
}
COST_NUMBERS = {"cost_spike": (6508.23, 4074.99, 5074.99, 29.86), "cost_drop": (2410.0, 4020.5, 3020.5, -14.2)}

FIELD_ORDER = ["alert_id", "event_id", "status", "severity", "rule", "entity_type", "entity_id", "project",
               "owner", "route", "window_start", "window_end", "observed", "expected", "threshold", "z_short",
               "z_long", "top_contributors", "suppressed_by", "related_alerts", "report_version", "summary",
               "emitted_at", "processor", "replay"]


def is_cost(rule):
    return rule.startswith("cost_")


def width_ms(rule):
    return 3 * 3600 * 1000 if is_cost(rule) else 60000


def hex_id(*parts):
    return hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()[:16]


def distribution_id(*parts):
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    h = int(hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest(), 16)
    out = "E"
    for _ in range(13):
        h, r = divmod(h, len(alphabet))
        out += alphabet[r]
    return out


def builtin_template(rule):
    ev = {"status": "firing", "severity": "critical" if rule in ("request_spike", "error_5xx_rate", "cost_spike")
          else "warning", "rule": rule, "related_alerts": [], "suppressed_by": None,
          "processor": "edgewatch/0.1.0", "replay": False}
    if is_cost(rule):
        o, e, t, z = COST_NUMBERS[rule]
        ev.update(entity_type="project", project="streaming", owner="team-data", route="slack:#data-oncall",
                  observed=o, expected=e, threshold=t, z_short=z, z_long=None, report_version="2026-11-01T09",
                  top_contributors=[{"dimension": d, "value": v, "share": s, "impact": i}
                                    for d, v, s, i in COST_TOP[rule]])
    else:
        o, e, t, zs, zl = TRAFFIC_NUMBERS[rule]
        ev.update(entity_type="distribution", project="checkout-web", owner="team-checkout",
                  route="slack:#checkout-oncall", observed=o, expected=e, threshold=t, z_short=zs, z_long=zl,
                  top_contributors=[{"dimension": d, "value": v, "share": s} for d, v, s in TRAFFIC_TOP[rule]])
    return ev


def load_template(rule):
    path = os.path.join(FIXTURES, rule + ".json")
    if os.path.exists(path):
        text = open(path, encoding="utf-8").read().strip()
        try:
            doc = json.loads(text)
        except ValueError:
            doc = json.loads(text.splitlines()[0])
        if isinstance(doc, list):
            doc = doc[0]
        if isinstance(doc, dict) and isinstance(doc.get("event"), dict):
            doc = doc["event"]
        if isinstance(doc, dict) and doc.get("rule") == rule:
            doc = copy.deepcopy(doc)
            doc["replay"] = False
            return doc
    return builtin_template(rule)


def format_value(rule, v):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    if is_cost(rule):
        return "$%.0f/day" % v
    if "_rate" in rule or rule == "cache_hit_drop":
        return "%.1f%%" % (100 * v)
    if rule == "origin_latency":
        return "%.0f ms" % v
    if abs(v) >= 1000:
        return "%.0f" % v
    return "%.4g" % v


def summary(ev):
    rule, o, e = ev["rule"], ev.get("observed"), ev.get("expected")
    resolved = ev["status"] == "resolved"
    if is_cost(rule):
        change = (o or 0) - (e or 0)
        pct = ", %+.0f%%" % (100 * change / e) if e else ""
        s = "%s %s%s: $%.0f/day vs $%.0f/day expected (%s$%.0f/day%s)" % (
            ev["entity_id"], "spend dropped" if rule == "cost_drop" else "spend up", ", resolved" if resolved else "",
            o or 0, e or 0, "-" if change < 0 else "+", abs(change), pct)
        top = ev.get("top_contributors") or []
        if top:
            s += ", top %s %s" % (top[0]["dimension"], top[0]["value"])
        return s
    project = ev.get("project") or "unmapped"
    if resolved:
        return "%s (%s) %s resolved: %s %s vs %s expected" % (ev["entity_id"], project, rule, WHAT[rule],
                                                              format_value(rule, o), format_value(rule, e))
    return "%s (%s) %s %s vs %s expected (z=%.1f)" % (ev["entity_id"], project, WHAT[rule], format_value(rule, o),
                                                     format_value(rule, e), ev.get("z_short") or 0.0)


def convert(value):
    if value == "null":
        return None
    if value in ("true", "false"):
        return value == "true"
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return float(value)
    except ValueError:
        return value


def make_event(spec):
    fields = {}
    for pair in filter(None, spec.split(",")):
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"alert_events.py: '{pair}' is not field=value")
        fields[key] = value
    rule = fields.pop("rule", "request_spike")
    if rule not in RULES:
        raise SystemExit(f"alert_events.py: unknown rule '{rule}'")
    ev = load_template(rule)
    ev["rule"] = rule
    n = fields.pop("n", "0")
    window = int(fields.pop("window", "0"))
    drops = [d for d in fields.pop("drop", "").split("+") if d]
    explicit_event_id = "event_id" in fields
    explicit_summary = "summary" in fields
    for key in ("status", "severity", "project", "owner", "route", "suppressed_by", "entity_id", "alert_id",
                "entity_type"):
        if key in fields:
            ev[key] = None if fields[key] == "null" else fields[key]
            del fields[key]
    for key, value in fields.items():
        ev[key] = convert(value)
    if "project" not in ev:
        ev["project"] = None
    if is_cost(rule):
        ev["entity_type"] = ev.get("entity_type") or "project"
        if not spec_has(spec, "entity_id"):
            ev["entity_id"] = ev.get("project") or "streaming"
    elif not spec_has(spec, "entity_id"):
        ev["entity_id"] = distribution_id(rule, ev.get("project"), n)
    if not spec_has(spec, "alert_id"):
        ev["alert_id"] = "ew-" + hex_id(rule, ev.get("project"), ev["entity_id"], n)
    if not spec_has(spec, "window_start"):
        ev["window_start"] = BASE_MS + window * width_ms(rule)
    if not spec_has(spec, "window_end"):
        ev["window_end"] = ev["window_start"] + width_ms(rule)
    if not explicit_event_id:
        ev["event_id"] = "%s-%s-%d" % (ev["alert_id"], "r" if ev["status"] == "resolved" else "f", ev["window_start"])
    if not explicit_summary:
        ev["summary"] = summary(ev)
    ev["emitted_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    ordered = {k: ev[k] for k in FIELD_ORDER if k in ev}
    ordered.update({k: v for k, v in ev.items() if k not in ordered})
    for d in drops:
        ordered.pop(d, None)
    return ordered


def spec_has(spec, key):
    return any(p.partition("=")[0] == key for p in spec.split(","))


def main(argv):
    kv = False
    if argv and argv[0] == "--kv":
        kv, argv = True, argv[1:]
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    out = []
    for spec in argv:
        ev = make_event(spec)
        text = json.dumps(ev, separators=(",", ":"))
        out.append(f"{ev.get('alert_id', '')}\t{text}" if kv else text)
    sys.stdout.write("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
